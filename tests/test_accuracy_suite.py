"""The accuracy suite's small version: it runs end to end, writes its JSON and tables,
and the default recipe still reads frame order on the demo generator where the
order-blind references cannot."""

import json
import sys
from pathlib import Path

import pytest

from actionrec.bundle import load_bundle

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import accuracy_suite  # noqa: E402

pytestmark = pytest.mark.slow


def test_smoke_suite_writes_its_table_and_the_default_reads_frame_order(tmp_path):
    out, md = tmp_path / "accuracy.json", tmp_path / "accuracy.md"
    accuracy_suite.main(["--smoke", "--sources", "demo", "--recipes", "default", "single_head", "--seeds", "0",
                         "--work", str(tmp_path / "work"), "--json", str(out), "--md", str(md)])
    results = json.loads(out.read_text())["results"]["demo"]
    run = results["default"]["runs"][0]
    assert run["test_videos"] == 24
    assert run["top1"] >= 0.75, run
    assert run["top1"] > max(run["baseline_top1"], run["probe_top1"]) + 0.15, run
    table = md.read_text()
    assert "### demo" in table and "| default |" in table
    # each recipe's run keeps its own bundle and metrics: a later recipe overwrites neither
    single = results["single_head"]["runs"][0]
    assert len(load_bundle(run["bundle"]).heads) == 3 and len(load_bundle(single["bundle"]).heads) == 1
    assert json.loads(Path(run["metrics"]).read_text())["top1"] == pytest.approx(run["top1"])


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
