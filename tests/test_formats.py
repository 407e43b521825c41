"""The dataset family beyond UCF101: HMDB51, Kinetics-style CSV, Something-Something v2
JSON and time segments of long videos, each from a tiny fixture made here, run end to
end through `train` and `evaluate`; and the errors each names by file and line."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest

from actionrec.cli import main
from actionrec.datasets import load_dataset
from actionrec.errors import DatasetError
from actionrec.formats import detect_format
from actionrec.pipeline import evaluate, feature_source, load_split, train
from actionrec.synthetic import render_clip, write_video
from conftest import shrunk_config

FPS = 25.0
ACTIONS = ("grow", "shrink")


def clip(path: Path, action: str, seed: int, frames: int = 25, codec: str = "MJPG") -> Path:
    return write_video(path, render_clip(action, np.random.default_rng(seed), (64, 64), frames), FPS, codec)


def train_and_evaluate(data: Path, tmp_path: Path, *extra) -> tuple[object, dict]:
    cfg = shrunk_config(tmp_path, "backbone.crop_size=64", "sampling.clip_steps=4", "train.epochs=2", *extra)
    result = train(data, cfg, tmp_path / "b.safetensors", progress=False)
    return result, evaluate(result.bundle, data, cfg, progress=False)


# ---------------------------------------------------------------- HMDB51

@pytest.fixture(scope="module")
def hmdb(tmp_path_factory) -> Path:
    """`hmdb/<class>/<film>_<class>_u_nm_np1_fr_goo_<n>.avi`, 3 films x 2 clips per class,
    and the official split files beside it: films A and B train (one clip unused), C test."""
    base = tmp_path_factory.mktemp("hmdb")
    root, splits = base / "hmdb", base / "testTrainMulti_7030_splits"
    splits.mkdir()
    for c, action in enumerate(ACTIONS):
        lines = []
        for f, film in enumerate("ABC"):
            for n in range(2):
                name = f"{film}film_{action}_u_nm_np1_fr_goo_{n}.avi"
                clip(root / action / name, action, 10 * c + 3 * f + n)
                lines.append(f"{name} {'2' if film == 'C' else '0' if (film, n) == ('A', 1) else '1'}")
        for fold in (1, 2, 3):
            (splits / f"{action}_test_split{fold}.txt").write_text("\n".join(lines) + "\n")
    return root


def test_hmdb51_official_split_trains_and_evaluates(hmdb, tmp_path):
    assert detect_format(hmdb) == "hmdb51"
    split = load_dataset(hmdb, fold=1, val_fraction=0.0)
    assert split.layout == "hmdb51" and split.class_names == list(ACTIONS)
    assert len(split.train) == 2 * 3 and len(split.test) == 2 * 2        # one clip marked 0: unused
    assert {i.group for i in split.test} == {"Cfilm_grow_u_nm_np1_fr_goo", "Cfilm_shrink_u_nm_np1_fr_goo"}
    _, metrics = train_and_evaluate(hmdb, tmp_path)
    assert metrics["num_videos"] == 4


def test_hmdb51_wrong_fold_and_malformed_line_are_named(hmdb, tmp_path):
    with pytest.raises(DatasetError, match="--fold 4: HMDB51 has the official splits 1, 2 and 3"):
        load_dataset(hmdb, fold=4)
    bad = tmp_path / "hmdb_bad"
    (bad / "grow").mkdir(parents=True)
    clip(bad / "grow" / "x_0.avi", "grow", 0)
    (bad / "grow_test_split1.txt").write_text("x_0.avi 1\nx_1.avi three\n")
    with pytest.raises(DatasetError, match=r"grow_test_split1\.txt:2: expected '<video>.avi 0\|1\|2', got 'x_1.avi three'"):
        load_dataset(bad)


# ---------------------------------------------------------------- Kinetics

@pytest.fixture(scope="module")
def kinetics(tmp_path_factory) -> Path:
    """train.csv / val.csv; clips named by the downloader's rule, one row cut from a whole
    video by its times, one row whose video is missing."""
    root = tmp_path_factory.mktemp("kinetics")
    rows = {"train": [], "val": []}
    for c, action in enumerate(ACTIONS):
        for k in range(5):
            vid, part = f"{action[:2]}{k:09d}", "val" if k == 4 else "train"
            rows[part].append([action, vid, 10, 11, part])
            clip(root / part / action / f"{vid}_{10:06d}_{11:06d}.mp4", action, 7 * c + k, codec="mp4v")
    # a whole video; the row takes 1-2 s of it
    frames = np.concatenate([render_clip(a, np.random.default_rng(50), (64, 64), 25) for a in ("shrink", "grow", "shrink")])
    write_video(root / "raw" / "wholevideo1.mp4", frames, FPS, "mp4v")
    rows["train"].append(["grow", "wholevideo1", 1, 2, "train"])
    rows["train"].append(["grow", "gone0000001", 0, 10, "train"])       # not on disk
    for part, part_rows in rows.items():
        with open(root / f"{part}.csv", "w", newline="") as f:
            csv.writer(f).writerows([["label", "youtube_id", "time_start", "time_end", "split"], *part_rows])
    return root


def test_kinetics_csv_trains_and_evaluates_and_lists_missing_clips_once(kinetics, tmp_path):
    assert detect_format(kinetics) == "kinetics"
    with pytest.warns(UserWarning, match=r"1 of 12 videos listed in .* missing on disk[\s\S]*train\.csv:11: gone0000001"):
        split = load_dataset(kinetics, val_fraction=0.25)
    cut = [i for i in split.train + split.val if i.path.name == "wholevideo1.mp4"]
    assert len(cut) == 1 and (cut[0].start, cut[0].end) == (1.0, 2.0)
    assert len(split.test) == 2 and split.explicit_test                  # val.csv is the held-out test
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, metrics = train_and_evaluate(kinetics, tmp_path)
    assert metrics["num_videos"] == 2


def test_kinetics_malformed_row_is_named(tmp_path):
    (tmp_path / "train.csv").write_text("label,youtube_id,time_start,time_end\ngrow,abc,zero,10\n")
    with pytest.raises(DatasetError, match=r"train\.csv:2: time_start and time_end must be numbers"):
        load_dataset(tmp_path)


# ---------------------------------------------------------------- Something-Something v2

@pytest.fixture(scope="module")
def ssv2(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("ssv2")
    templates = {"grow": "Moving [something] closer to the camera", "shrink": "Moving [something] away from the camera"}
    (root / "labels.json").write_text(json.dumps({t.replace("[", "").replace("]", ""): str(i)
                                                  for i, t in enumerate(templates.values())}))
    entries = {"train.json": [], "validation.json": []}
    for c, action in enumerate(ACTIONS):
        for k in range(6):
            vid = str(100 * c + k)
            part = "validation.json" if k >= 4 else "train.json"
            entries[part].append({"id": vid, "template": templates[action], "label": "moving a cup", "placeholders": ["a cup"]})
            clip(root / SSV2_DIR / f"{vid}.webm", action, 13 * c + k, codec="VP80")
    for name, part in entries.items():
        (root / name).write_text(json.dumps(part))
    return root


SSV2_DIR = "20bn-something-something-v2"


def test_something_something_json_trains_and_evaluates(ssv2, tmp_path):
    assert detect_format(ssv2) == "ssv2"
    split = load_dataset(ssv2)
    assert split.class_names == ["Moving something closer to the camera", "Moving something away from the camera"]
    assert len(split.test) == 4 and len(split.train) + len(split.val) == 8
    _, metrics = train_and_evaluate(ssv2, tmp_path)
    assert metrics["num_videos"] == 4


def test_something_something_unknown_class_is_named(ssv2, tmp_path):
    bad = tmp_path / "ssv2"
    bad.mkdir()
    (bad / "labels.json").write_text((ssv2 / "labels.json").read_text())
    (bad / "train.json").write_text(json.dumps([{"id": "1", "template": "Spinning [something] around"}]))
    with pytest.raises(DatasetError, match=r"train\.json: entry 1 \(id 1\): unknown class 'Spinning \[something\] around'"):
        load_dataset(bad)


# ---------------------------------------------------------------- time segments

def long_video(path: Path, actions: list[str], seed: int) -> Path:
    """1 s of each action in turn."""
    rng = np.random.default_rng(seed)
    return write_video(path, np.concatenate([render_clip(a, rng, (64, 64), 25) for a in actions]), FPS)


@pytest.fixture(scope="module")
def segments(tmp_path_factory) -> Path:
    """6 long videos of 4 s (grow, shrink, grow, shrink), annotated as 4 segments each."""
    root = tmp_path_factory.mktemp("segments")
    rows = [["path", "start", "end", "label"]]
    for v in range(6):
        long_video(root / "videos" / f"long{v}.avi", ["grow", "shrink", "grow", "shrink"], v)
        rows += [[f"videos/long{v}.avi", k, k + 1, ("grow", "shrink")[k % 2]] for k in range(4)]
    with open(root / "segments.csv", "w", newline="") as f:
        csv.writer(f).writerows(rows)
    return root


def test_segments_train_and_evaluate_and_never_straddle_splits(segments, tmp_path):
    assert detect_format(segments) == "segments"
    split = load_dataset(segments)
    sides = {}
    for part in ("train", "val", "test"):
        for item in getattr(split, part):
            sides.setdefault(item.path, set()).add(part)
    assert all(len(s) == 1 for s in sides.values()) and len(sides) == 6     # a video's segments: one side
    assert len(split.test) == 2 * 4
    _, metrics = train_and_evaluate(segments, tmp_path)
    assert metrics["num_videos"] == len(split.test)                          # one result per segment


def test_a_segment_reads_its_range_of_the_whole_videos_features(segments, tmp_path):
    cfg = shrunk_config(tmp_path, "backbone.crop_size=64")
    split = load_split(segments / "segments.csv", cfg)
    items = split.train + split.val + split.test
    source = feature_source(cfg)
    kept, report = source.ensure(items, "all", progress=False)
    assert sorted(report.extracted) == sorted({str(i.path) for i in items})   # 6 videos, once each
    whole = source.cache.load(items[0].path)
    step = 1.0 / cfg.sampling.fps
    for item in [i for i in items if i.path == items[0].path]:
        part = source.cache.load_item(item)
        first = int(round(item.start / step))
        assert np.array_equal(part, whole[first:first + len(part)])
        assert len(part) == round((item.end - item.start) / step)


@pytest.mark.parametrize("row, message", [
    (["videos/a.avi", 1.5, 2.5, "grow"], r"segments\.csv:3: segment 1.5-2.5 s of .*a\.avi overlaps .*segments\.csv:2 \(0-2 s\)"),
    (["videos/a.avi", 2, 9, "grow"], r"segments\.csv:3: segment 2-9 s ends past the end of .*a\.avi \(4\.00 s\)"),
    (["videos/a.avi", 3, 2, "grow"], r"segments\.csv:3: start 3 s must be >= 0 and below end 2 s"),
], ids=["overlap", "past the end", "backwards"])
def test_bad_segment_rows_are_named(tmp_path, row, message):
    long_video(tmp_path / "videos" / "a.avi", ["grow", "shrink", "grow", "shrink"], 0)
    with open(tmp_path / "segments.csv", "w", newline="") as f:
        csv.writer(f).writerows([["path", "start", "end", "label"], ["videos/a.avi", 0, 2, "shrink"], row])
    with pytest.raises(DatasetError, match=message):
        load_dataset(tmp_path / "segments.csv")


def test_a_segment_of_a_missing_video_is_a_warning_naming_the_row(tmp_path):
    long_video(tmp_path / "a.avi", ["grow", "shrink"], 0)
    (tmp_path / "s.json").write_text(json.dumps([{"path": "a.avi", "start": 0, "end": 1, "label": "grow"},
                                                  {"path": "a.avi", "start": 1, "end": 2, "label": "shrink"},
                                                  {"path": "gone.avi", "start": 0, "end": 1, "label": "grow"}]))
    with pytest.warns(UserWarning, match=r"1 of 3 videos .* missing[\s\S]*s\.json: entry 3: .*gone\.avi"):
        split = load_dataset(tmp_path / "s.json")
    assert len(split.train + split.val + split.test) == 2


@pytest.mark.parametrize("fmt", ["segments", "hmdb51", "kinetics", "ssv2"])
def test_a_named_format_the_folder_does_not_hold_is_an_error_naming_the_folder(tmp_path, fmt):
    (tmp_path / "grow").mkdir()
    with pytest.raises(DatasetError, match=str(tmp_path)):
        load_dataset(tmp_path, fmt=fmt)


# ---------------------------------------------------------------- inspect

def test_inspect_reports_format_classes_groups_and_durations(kinetics, capsys):
    assert main(["datasets", "inspect", "--data", str(kinetics), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["format"] == "kinetics" and report["videos"] == 11
    assert [(r["class"], r["test"]) for r in report["classes"]] == [("grow", 1), ("shrink", 1)]
    assert any("gone0000001" in w for w in report["warnings"])
    assert report["seconds"]["test"]["total"] == pytest.approx(2.0, abs=0.1)
    assert main(["datasets", "inspect", "--data", str(kinetics), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "== datasets inspect ==" in table and "kinetics" in table and "gone0000001" in table
