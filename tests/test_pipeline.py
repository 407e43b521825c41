import json
import re
import shutil
import warnings

import pytest

from actionrec.bundle import load_bundle
from actionrec.cli import main
from actionrec.pipeline import evaluate, train

from conftest import shrunk_config

pytestmark = pytest.mark.slow


def test_train_then_evaluate_end_to_end(tiny_ucf, tmp_path):
    cfg = shrunk_config(tmp_path)
    result = train(tiny_ucf, cfg, tmp_path / "b.safetensors", progress=False)
    bundle = load_bundle(result.bundle)
    assert bundle.class_names == ["grow", "shrink"]
    assert (result.run_dir / "config.yaml").is_file()
    assert list((result.run_dir / "csv").glob("metrics.csv"))
    metrics = evaluate(result.bundle, tiny_ucf, cfg, json_path=tmp_path / "m.json", progress=False)
    saved = json.loads((tmp_path / "m.json").read_text())
    for key in ("top1", "top5", "mean_class_acc", "num_videos", "baseline_top1", "probe_top1", "clip_top1",
                "per_class", "frame_order_verdict"):
        assert key in saved
    assert saved["num_videos"] == 4          # 2 classes x 1 held-out group x 2 clips
    assert (tmp_path / "confusion.png").is_file()
    assert 0.0 <= metrics["top1"] <= 1.0


def test_cli_train_and_evaluate(tiny_ucf, tmp_path, capsys):
    sets = [f"--set=cache.dir={tmp_path / 'cache'}", f"--set=logging.run_dir={tmp_path / 'runs'}",
            "--set=logging.wandb=disabled", "--set=backbone.crop_size=96", "--set=sampling.clip_steps=6"]
    out = tmp_path / "cli.safetensors"
    assert main(["train", "--data", str(tiny_ucf), "--config", "demo", "--epochs", "2", "--out", str(out),
                 "--quiet", *sets]) == 0
    assert out.is_file()
    assert main(["evaluate", "--bundle", str(out), "--data", str(tiny_ucf), "--json",
                 str(tmp_path / "e.json"), "--quiet", *sets]) == 0
    printed = capsys.readouterr().out
    assert "top-1" in printed and "order-blind linear probe" in printed
    assert re.search(r"order-blind: +baseline \d\.\d{3}, probe \d\.\d{3}", printed)   # the closing summary too
    assert "top-5" not in printed           # two classes: every video's true class is in its five best
    assert main(["evaluate", "--bundle", str(out), "--data", str(tiny_ucf), "--fold", "3", "--quiet",
                 *sets]) == 2
    assert "fold" in capsys.readouterr().err


def test_training_skips_unreadable_videos_and_names_them(tiny_ucf, tmp_path):
    import shutil
    data = tmp_path / "UCF"
    shutil.copytree(tiny_ucf, data)
    bad = data / "grow" / "v_grow_g03_c01.avi"         # a training video (group 1 is test)
    bad.write_bytes(b"\x00" * 100)
    cfg = shrunk_config(tmp_path)
    with pytest.warns(UserWarning, match=r"skipping 1 (train|val) video\(s\) without features:\n  .*v_grow_g03_c01\.avi: .*not a readable video"):
        result = train(data, cfg, tmp_path / "b.safetensors", progress=False)
    assert str(bad) in result.skipped
    assert load_bundle(result.bundle).class_names == ["grow", "shrink"]


def test_wandb_logs_offline_without_an_account(tiny_ucf, tmp_path, monkeypatch):
    for var in ("WANDB_API_KEY", "WANDB_MODE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))           # no ~/.netrc with a wandb key
    cfg = shrunk_config(tmp_path, "logging.wandb=auto", "train.epochs=1")
    result = train(tiny_ucf, cfg, tmp_path / "b.safetensors", progress=False)
    runs = list((result.run_dir / "wandb").glob("offline-run-*"))
    assert len(runs) == 1 and any(runs[0].rglob("*.wandb"))


def test_wandb_names_each_head_and_refit_after_the_run_it_belongs_to(tmp_path):
    from actionrec.training import member_dir, wandb_run_name
    run = tmp_path / "runs" / "squats"          # the refit trains under run_dir / "refit" (`refit_on_all`)
    names = [wandb_run_name(member_dir(folder, i)) for folder in (run, run / "refit") for i in range(2)]
    assert names == ["squats", "squats-head1", "squats-refit", "squats-refit-head1"]


def test_training_runs_under_ddp_with_two_cpu_processes(tiny_ucf, tmp_path):
    """The same code under Lightning's DDP (gloo backend, 2 processes on CPU)."""
    cfg = shrunk_config(tmp_path, "train.accelerator=cpu", "train.devices=2", "train.strategy=ddp_spawn",
                        "train.epochs=2")
    result = train(tiny_ucf, cfg, tmp_path / "ddp.safetensors", progress=False)
    bundle = load_bundle(result.bundle)
    assert bundle.class_names == ["grow", "shrink"]
    assert result.best_val_acc is not None
    assert (result.run_dir / "csv" / "metrics.csv").read_text().count("\n") >= 2


def test_refit_never_trains_on_a_test_split_the_dataset_names(tiny_ucf, tmp_path):
    root = tmp_path / "folders"
    for part, groups in (("train", ("g01", "g02", "g03")), ("test", ("g04",))):
        for video in tiny_ucf.glob("*/*.avi"):
            if any(f"_{g}_" in video.name for g in groups):
                (root / part / video.parent.name).mkdir(parents=True, exist_ok=True)
                shutil.copy(video, root / part / video.parent.name / video.name)
    cfg = shrunk_config(tmp_path, "train.refit_all=true", "train.evaluate_test=true", "head.probe=true")
    result = train(root, cfg, tmp_path / "r.safetensors", progress=False)
    bundle = load_bundle(result.bundle)
    training = bundle.meta["training"]
    assert training["refit_videos"] == 12 and training["refit_on_test"] is False   # train + val only
    assert float(bundle.head.probe_weight) == pytest.approx(training["probe_weight"])   # the refit keeps it
    assert bundle.head.probe.weight.abs().sum() > 0                       # and its own fitted probe
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no "not held out" warning: it is held out
        evaluate(result.bundle, root, cfg, json_path=tmp_path / "m.json", progress=False)


def test_an_ensemble_trains_its_heads_from_other_initial_weights_and_the_first_is_the_single_head(
        tiny_ucf, tmp_path):
    import torch
    one = train(tiny_ucf, shrunk_config(tmp_path, "logging.run_name=one"), tmp_path / "one.safetensors",
                progress=False)
    two = train(tiny_ucf, shrunk_config(tmp_path, "logging.run_name=two", "head.ensemble=2"),
                tmp_path / "two.safetensors", progress=False)
    single, pair = load_bundle(one.bundle), load_bundle(two.bundle)
    assert len(single.heads) == 1 and len(pair.heads) == 2
    assert (two.run_dir / "head1" / "checkpoints" / "last.ckpt").is_file()   # its own run folder
    first, other = pair.heads[0].state_dict(), pair.heads[1].state_dict()
    for name, value in single.head.state_dict().items():      # the same seed: the same head
        torch.testing.assert_close(first[name], value)
    assert not torch.equal(first["lstm.weight_hh_l0"], other["lstm.weight_hh_l0"])
    assert len(pair.meta["training"]["heads"]) == 2
    assert all(0 <= h["val_acc"] <= 1 for h in pair.meta["training"]["heads"])
