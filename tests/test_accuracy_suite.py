"""The accuracy suite's small version: it runs end to end, writes its JSON and tables,
and the default recipe still reads frame order on the demo generator where the
order-blind references cannot."""

import json
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from actionrec.bundle import load_bundle

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import accuracy_suite  # noqa: E402

pytestmark = pytest.mark.slow


def test_smoke_suite_writes_its_table_and_the_default_reads_frame_order(tmp_path):
    out, md = tmp_path / "accuracy.json", tmp_path / "accuracy.md"
    accuracy_suite.main(["--smoke", "--sources", "demo", "--recipes", "default", "--seeds", "0",
                         "--work", str(tmp_path / "work"), "--json", str(out), "--md", str(md)])
    run = json.loads(out.read_text())["results"]["demo"]["default"]["runs"][0]
    assert run["test_videos"] == 24
    assert run["top1"] >= 0.75, run
    assert run["top1"] > max(run["baseline_top1"], run["probe_top1"]) + 0.15, run
    table = md.read_text()
    assert "### demo" in table and "| default |" in table
    assert len(load_bundle(run["bundle"]).heads) == 3
    assert json.loads(Path(run["metrics"]).read_text())["top1"] == pytest.approx(run["top1"])


def test_each_recipe_and_seed_keeps_its_own_bundle_and_metrics(tmp_path, monkeypatch):
    """Training and evaluation stood in by what they write: a later run overwrites nothing."""
    def train(source, cfg, bundle, progress):
        bundle.parent.mkdir(parents=True, exist_ok=True)
        bundle.write_text(json.dumps({"ensemble": cfg.head.ensemble, "seed": cfg.data.split_seed}))
        (tmp_path / "run").mkdir(exist_ok=True)
        return SimpleNamespace(bundle=bundle, run_dir=tmp_path / "run", best_val_acc=1.0)

    def evaluate(bundle, source, cfg, json_path, progress):
        metrics = {"top1": json.loads(bundle.read_text())["ensemble"] / 10, "mean_class_acc": 0.5, "num_videos": 1}
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(metrics))
        return metrics

    monkeypatch.setattr(accuracy_suite, "train", train)
    monkeypatch.setattr(accuracy_suite, "evaluate", evaluate)
    (tmp_path / "data" / "real_pan").mkdir(parents=True)
    out = tmp_path / "a.json"
    accuracy_suite.main(["--data", str(tmp_path / "data"), "--sources", "real_pan", "--recipes", "default",
                         "single_head", "--seeds", "0", "1", "--work", str(tmp_path / "work"), "--json", str(out)])
    results = json.loads(out.read_text())["results"]["real_pan"]
    runs = [(recipe, run) for recipe in ("default", "single_head") for run in results[recipe]["runs"]]
    assert len({run["bundle"] for _, run in runs}) == len({run["metrics"] for _, run in runs}) == 4
    for recipe, run in runs:
        written = json.loads(Path(run["bundle"]).read_text())
        assert written == {"ensemble": 3 if recipe == "default" else 1, "seed": run["seed"]}
        assert json.loads(Path(run["metrics"]).read_text())["top1"] == run["top1"]


def test_a_named_source_that_is_not_there_stops_the_suite_before_any_training(tmp_path, capsys):
    (tmp_path / "real_pan").mkdir()
    with pytest.raises(SystemExit, match="real_zoom, real_nope"):
        accuracy_suite.main(["--data", str(tmp_path), "--sources", "real_pan", "real_zoom", "real_nope",
                             "--work", str(tmp_path / "work"), "--json", str(tmp_path / "a.json")])
    assert not (tmp_path / "work").exists() and not (tmp_path / "a.json").exists()
    # named by nobody, the real sources not on disk are left out, the generated ones kept
    chosen = accuracy_suite.sources_to_run(None, tmp_path)
    assert "real_pan" in chosen and "demo" in chosen and "temporal_dev" in chosen
    assert "real_zoom" not in chosen and "real_actions" not in chosen
    assert "left out" in capsys.readouterr().out
