"""Batch labelling (`actionrec label`): rows per video, bad files, resume, inputs,
workers, annotated copies, and agreement with the offline clip path."""

import contextlib
import csv
import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from actionrec import cli
from actionrec.batch import expand_inputs, label_segments
from actionrec.bundle import load_bundle
from actionrec.console import Progress
from actionrec.features import make_encoder
from actionrec.sampling import pad_indices, timeline_indices
from actionrec.signals import Terminated
from actionrec.streaming import Prediction, stream_stride
from actionrec.synthetic import render_clip, write_video
from actionrec.video_io import open_video

CLASSES = ["grow", "shrink", "slide_left"]
GOOD = ["a.avi", "sub/b.avi", "c.mp4"]           # 2 s at 25 fps, 64x64
SHORT = "short.avi"                              # 0.2 s: 2 steps, shorter than the 4-step window
BAD = {"empty.mp4": "empty file", "junk.avi": "not a readable video",
       "trunc.mp4": "not a readable video"}


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    root = tmp_path_factory.mktemp("videos")
    rng = np.random.default_rng(0)
    for name, action, codec in [("a.avi", "grow", "MJPG"), ("sub/b.avi", "shrink", "MJPG"),
                                ("c.mp4", "slide_left", "mp4v")]:
        write_video(root / name, render_clip(action, rng, (64, 64), 50), 25.0, codec)
    write_video(root / SHORT, render_clip("grow", rng, (64, 64), 5), 25.0)
    (root / "empty.mp4").write_bytes(b"")
    (root / "junk.avi").write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    whole = write_video(root / "trunc.mp4", render_clip("grow", rng, (64, 64), 50), 25.0, "mp4v").read_bytes()
    (root / "trunc.mp4").write_bytes(whole[:len(whole) // 2])
    return root


def label(bundle, *args):
    """`actionrec label` through the CLI: (exit code, stdout)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = cli.main(["label", "--bundle", str(bundle), "--quiet", *map(str, args)])
    return code, out.getvalue()


def read_jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


@pytest.fixture(scope="module")
def folder_run(videos, random_bundle, tmp_path_factory):
    """The whole folder labelled once, as JSONL with segments and all 3 classes in top-k."""
    out = tmp_path_factory.mktemp("run") / "labels.jsonl"
    code, summary = label(random_bundle, videos, "--out", out, "--segments", "--top-k", 3)
    return code, summary, {os.path.relpath(r["path"], videos): r for r in read_jsonl(out)}


def test_folder_gives_one_row_per_video_and_names_the_bad_ones(folder_run, videos):
    code, summary, rows = folder_run
    assert sorted(rows) == sorted(GOOD + [SHORT] + list(BAD))
    for name in GOOD:
        row = rows[name]
        assert row["error"] is None and row["label"] in CLASSES
        assert 0.0 <= row["score"] <= 1.0 and row["score"] == row["topk"][0][1]
        probs = [p for _, p in row["topk"]]
        assert len(probs) == 3 and probs == sorted(probs, reverse=True)
        assert row["duration"] == pytest.approx(2.0) and row["frames"] == 50 and row["steps"] == 16
    for name, reason in BAD.items():
        assert rows[name]["label"] is None and reason in rows[name]["error"]
        assert f"{videos / name}: {rows[name]['error']}" in summary
    assert code == 1
    assert "labelled 4, skipped (already done) 0, failed 3" in summary


def test_video_shorter_than_the_window_is_labelled_not_failed(folder_run):
    row = folder_run[2][SHORT]
    assert row["error"] is None and row["label"] in CLASSES
    assert row["steps"] == 2 and row["duration"] == pytest.approx(0.2)


def offline_video_probs(bundle_path, video_path):
    """Backbone features of the timeline frames, then `bundle.head` over every full
    window (or the one window padded with its last step), averaged. `(K,)`."""
    bundle = load_bundle(bundle_path)
    with open_video(video_path) as video:
        frames = video.get_frames(timeline_indices(video.num_frames, video.fps, bundle.sampling["fps"]))
    encoder = make_encoder(bundle.build_backbone(), "auto")
    feats = torch.from_numpy(encoder(bundle.preprocess(frames)).astype(np.float16).astype(np.float32))
    window = bundle.sampling["clip_steps"]
    if len(feats) < window:
        clips = feats[pad_indices(np.arange(len(feats)), window)][None]
    else:
        clips = torch.stack([feats[i - window:i] for i in range(window, len(feats) + 1)])
    with torch.no_grad():
        return bundle.head(clips)[:, -1].softmax(-1).mean(0).numpy()


@pytest.mark.parametrize("name", ["a.avi", SHORT])
def test_video_probabilities_equal_the_offline_mean_over_windows(folder_run, videos, random_bundle, name):
    topk = dict(folder_run[2][name]["topk"])
    expected = offline_video_probs(random_bundle, videos / name)
    np.testing.assert_allclose([topk[c] for c in CLASSES], expected, atol=1e-4)


def test_segments_tile_each_video(folder_run):
    for name in GOOD + [SHORT]:
        row = folder_run[2][name]
        segments = row["segments"]
        assert segments[0]["start"] == 0.0 and segments[-1]["end"] == pytest.approx(row["duration"])
        assert all(a["end"] == b["start"] for a, b in zip(segments, segments[1:]))
        assert all(s["label"] in CLASSES + [None] and 0.0 <= s["score"] <= 1.0 for s in segments)
        assert all(a["label"] != b["label"] for a, b in zip(segments, segments[1:]))
    assert folder_run[2]["empty.mp4"]["segments"] is None


def fake_step(k, label, fps=8.0):
    probs = np.array([0.7, 0.2, 0.1]) if label else np.array([0.4, 0.3, 0.3])
    return Prediction(k / fps, label, float(probs.max()), [], probs, probs, k + 1, label is None)


def test_single_step_label_flips_merge_into_their_neighbours():
    labels = [None] * 3 + ["grow"] * 5 + ["shrink"] + ["grow"] * 4 + ["slide_left"] * 3
    segments = label_segments([fake_step(k, lab) for k, lab in enumerate(labels)], 2.0, CLASSES)
    assert [(s["start"], s["end"], s["label"]) for s in segments] == [
        (0.0, 0.375, None), (0.375, 1.625, "grow"), (1.625, 2.0, "slide_left")]
    assert segments[1]["score"] == pytest.approx(0.7)
    first_short = label_segments([fake_step(k, lab) for k, lab in enumerate(["grow"] + ["shrink"] * 3)],
                                 0.5, CLASSES)
    assert [(s["start"], s["end"], s["label"]) for s in first_short] == [(0.0, 0.5, "shrink")]


def test_csv_parses_back_and_failed_videos_are_retried(videos, random_bundle, tmp_path):
    out = tmp_path / "labels.csv"
    assert label(random_bundle, videos / "a.avi", videos / "empty.mp4", "--out", out, "--top-k", 2)[0] == 1
    code, summary = label(random_bundle, videos / "a.avi", videos / "empty.mp4", videos / "c.mp4",
                          "--out", out, "--top-k", 2)
    assert code == 1 and "labelled 1, skipped (already done) 1, failed 1" in summary
    lines = list(csv.reader(out.open(newline="")))
    assert lines[0] == ["path", "label", "score", "topk", "duration", "frames", "steps", "error"]
    assert sum(line == lines[0] for line in lines) == 1          # header written once
    rows = [dict(zip(lines[0], line)) for line in lines[1:]]
    assert [os.path.basename(r["path"]) for r in rows] == ["a.avi", "empty.mp4", "empty.mp4", "c.mp4"]
    for row in (rows[0], rows[3]):
        assert row["error"] == "" and row["label"] in CLASSES and float(row["duration"]) == pytest.approx(2.0)
        assert len(json.loads(row["topk"])) == 2
    assert "empty file" in rows[1]["error"] and "empty file" in rows[2]["error"]


def test_resume_after_an_interrupted_run(videos, random_bundle, tmp_path):
    out = tmp_path / "labels.jsonl"
    assert label(random_bundle, videos / "a.avi", videos / SHORT, "--out", out)[0] == 0
    with out.open("a") as f:                          # killed while writing c.mp4's row
        f.write(f'{{"path": "{videos / "c.mp4"}", "label": "gr')
    code, summary = label(random_bundle, videos, "--out", out)
    assert code == 1
    assert "labelled 2, skipped (already done) 2, failed 3" in summary   # c.mp4 and sub/b.avi only
    text = out.read_text()
    assert text.endswith("\n") and '"label": "gr"' not in text.replace('"label": "grow"', "")
    rows = read_jsonl(out)                            # every line is a whole row
    done = [os.path.relpath(r["path"], videos) for r in rows if r["error"] is None]
    assert sorted(done) == sorted(GOOD + [SHORT])     # exactly one successful row each
    code, summary = label(random_bundle, videos, "--out", out)
    assert "labelled 0, skipped (already done) 4, failed 3" in summary   # bad ones retried
    assert len(read_jsonl(out)) == len(rows) + 3


def test_glob_and_list_file_inputs_and_an_input_matching_nothing(videos, random_bundle, tmp_path):
    lists = tmp_path / "lists"
    lists.mkdir()
    rel = os.path.relpath(videos, lists)
    (lists / "videos.txt").write_text(f"# wanted\n\n{rel}/a.avi\n{rel}/missing.avi\n")
    out = tmp_path / "labels.jsonl"
    code, summary = label(random_bundle, lists / "videos.txt", videos / "sub" / "*.avi",
                          tmp_path / "nowhere" / "*.mp4", "--out", out)
    rows = {os.path.basename(r["path"]): r for r in read_jsonl(out)}
    assert sorted(rows) == ["*.mp4", "a.avi", "b.avi", "missing.avi"]
    assert rows["a.avi"]["label"] in CLASSES and rows["b.avi"]["label"] in CLASSES
    assert "no such file" in rows["missing.avi"]["error"] and "videos.txt" in rows["missing.avi"]["error"]
    assert "matches no video" in rows["*.mp4"]["error"]
    assert code == 1 and "labelled 2, skipped (already done) 0, failed 2" in summary


def test_expand_inputs_recurses_dedups_and_skips_hidden_files(tmp_path):
    root = tmp_path / "root"
    for name in ["a.avi", "B.AVI", ".hidden.avi", "notes.txt", "sub/c.mp4", ".cache/d.mp4"]:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_bytes(b"x")
    os.symlink(root, root / "sub" / "loop")           # a folder loop
    found = expand_inputs([root, root / "a.avi", root / "sub" / ".." / "a.avi", str(root / "**" / "*.mp4")])
    assert found == [root / "B.AVI", root / "a.avi", root / "sub" / "c.mp4"]


def test_unsupported_results_extension_is_an_error_naming_it(videos, random_bundle, tmp_path, capsys):
    code = cli.main(["label", "--bundle", str(random_bundle), str(videos), "--out", str(tmp_path / "x.txt")])
    assert code == 2 and "'.txt'" in capsys.readouterr().err and not (tmp_path / "x.txt").exists()


@pytest.mark.parametrize("out, named", [("x.txt", "'.txt'"), ("folder.csv", "is a folder"),
                                        ("afile/x.csv", "afile is a file, not a folder")])
def test_a_results_file_that_cannot_be_written_is_named_before_the_model_loads(tmp_path, out, named):
    """A mistyped --out or --bundle fails in well under a second, not after the seconds
    that loading torch and the bundle take: neither is imported."""
    (tmp_path / "folder.csv").mkdir()
    (tmp_path / "afile").write_text("")
    (tmp_path / "b.safetensors").write_bytes(b"not a bundle")
    script = ("import sys; from actionrec import cli; "
              "code = cli.main(sys.argv[1:]); print(code, 'torch' in sys.modules)")
    for bundle, expected in (("b.safetensors", named), ("missing.safetensors", "missing.safetensors: no such bundle")):
        run = subprocess.run([sys.executable, "-c", script, "label", "--bundle", bundle, "v.mp4", "--out", out],
                             cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert run.stdout.split() == ["2", "False"] and expected in run.stderr, run.stderr


def test_annotated_copy_has_every_frame_with_the_overlay(videos, random_bundle, tmp_path):
    annotated = tmp_path / "annotated"
    code, _ = label(random_bundle, videos / "a.avi", "--out", tmp_path / "l.jsonl", "--annotate", annotated)
    assert code == 0
    assert os.listdir(annotated) == ["a.labelled.mp4"]                      # no temporary left
    with open_video(annotated / "a.labelled.mp4") as copy, open_video(videos / "a.avi") as source:
        assert (copy.num_frames, copy.fps) == (50, 25.0)
        drawn, plain = copy.get_frames([40])[0].astype(int), source.get_frames([40])[0].astype(int)
    assert np.abs(drawn[:20, :20] - plain[:20, :20]).mean() > 30              # the label panel
    assert np.abs(drawn[58:] - plain[58:]).mean() < 10                        # below it: the video


def test_a_stop_between_a_finished_video_and_its_row_leaves_no_copy_without_a_row(
        videos, random_bundle, tmp_path, monkeypatch):
    annotated, out = tmp_path / "annotated", tmp_path / "l.jsonl"
    annotated.mkdir()
    (annotated / ".c.labelled.pending.mp4").write_bytes(b"left by a run killed outright")
    done = []

    def stop_at_the_second_video(bar, n=1):      # c.mp4 is labelled and its copy finished
        done.append(n)
        if len(done) == 2:
            raise Terminated(signal.SIGTERM)
    monkeypatch.setattr(Progress, "update", stop_at_the_second_video)
    inputs = [videos / "a.avi", videos / "c.mp4", videos / SHORT]
    code, summary = label(random_bundle, *inputs, "--out", out, "--annotate", annotated, "--workers", 1)
    assert code == 143 and "labelled 1, skipped (already done) 0" in summary
    assert [r["path"] for r in read_jsonl(out)] == [str(videos / "a.avi")]
    assert os.listdir(annotated) == ["a.labelled.mp4"]          # c.mp4's copy went with its row
    monkeypatch.undo()
    code, summary = label(random_bundle, *inputs, "--out", out, "--annotate", annotated)
    assert code == 0 and "labelled 2, skipped (already done) 1" in summary
    assert sorted(os.listdir(annotated)) == ["a.labelled.mp4", "c.labelled.mp4", "short.labelled.mp4"]


def test_two_workers_give_the_same_rows_as_one(folder_run, videos, random_bundle, tmp_path):
    out = tmp_path / "labels.jsonl"
    code, summary = label(random_bundle, *(videos / n for n in GOOD), videos / "junk.avi",
                          "--out", out, "--workers", 2, "--top-k", 3)
    assert code == 1 and "labelled 3, skipped (already done) 0, failed 1" in summary
    assert multiprocessing.active_children() == []       # the workers are gone when label returns
    rows = {os.path.relpath(r["path"], videos): r for r in read_jsonl(out)}
    for name in GOOD:
        assert rows[name]["label"] == folder_run[2][name]["label"]
        np.testing.assert_allclose([p for _, p in rows[name]["topk"]],
                                   [p for _, p in folder_run[2][name]["topk"]], atol=1e-5)
    assert "not a readable video" in rows["junk.avi"]["error"]


@pytest.fixture(scope="module")
def motion_bundle(tmp_path_factory):
    """A random bundle with the flow stream, a skip path, mean readout, and a step every
    second timeline step (so batch labelling must also decode each step's predecessor)."""
    from actionrec.synthetic import random_head_bundle
    return random_head_bundle(tmp_path_factory.mktemp("motion") / "motion.safetensors", class_names=CLASSES,
                              crop_size=64, resize_mode="squash", clip_steps=4, hidden_size=16,
                              num_layers=1, cell_dim=8, motion=True, stream_stride=2)


def cached_video_probs(bundle_path, video_path):
    """The feature cache's features of the video (`FeatureExtractor`, flow and pose included), then
    the head's clip logits over every full streamed window (steps `stream_stride` timeline steps apart),
    or the one window padded with its last step, averaged. `(K,)`."""
    from actionrec.features import FeatureExtractor, join_streams
    bundle = load_bundle(bundle_path)
    extractor = FeatureExtractor(make_encoder(bundle.build_backbone(), "auto"), bundle.preprocess,
                                 bundle.sampling["fps"], motion=bundle.motion, pose=bundle.pose)
    feats = np.concatenate([join_streams(extractor.encode(c.frames), c.motion)
                            for c in extractor.decode_chunks(str(video_path))])
    feats = torch.from_numpy(feats.astype(np.float16).astype(np.float32))
    steps = np.arange(0, len(feats), stream_stride(bundle))
    window = bundle.sampling["clip_steps"]
    if len(steps) < window:
        clips = feats[pad_indices(steps, window)][None]
    else:
        clips = torch.stack([feats[steps[i - window:i]] for i in range(window, len(steps) + 1)])
    with torch.no_grad():
        return bundle.head.clip_logits(clips).softmax(-1).mean(0).numpy()


@pytest.mark.parametrize("name", ["a.avi", "c.mp4", SHORT])
def test_labels_with_a_motion_stream_equal_the_feature_cache_path(videos, motion_bundle, tmp_path, name):
    out = tmp_path / "labels.jsonl"
    code, _ = label(motion_bundle, videos / name, "--out", out, "--top-k", 3)
    assert code == 0
    topk = dict(read_jsonl(out)[0]["topk"])
    np.testing.assert_allclose([topk[c] for c in CLASSES], cached_video_probs(motion_bundle, videos / name),
                               atol=1e-4)


def test_same_named_videos_of_different_folders_keep_both_annotated_copies(random_bundle, tmp_path):
    rng = np.random.default_rng(1)
    for folder, action in (("x", "grow"), ("y", "slide_left")):
        write_video(tmp_path / "in" / folder / "a.avi", render_clip(action, rng, (64, 64), 20), 25.0)
    annotated = tmp_path / "annotated"
    code, _ = label(random_bundle, tmp_path / "in", "--out", tmp_path / "l.jsonl", "--annotate", annotated)
    assert code == 0
    copies = sorted(p.relative_to(annotated).as_posix() for p in annotated.rglob("*") if p.is_file())
    assert copies == ["x/a.labelled.mp4", "y/a.labelled.mp4"]
    def bottom(path):                          # below the label panel: the video itself
        with open_video(path) as video:
            return video.get_frames([10])[0][58:].astype(int)
    x, y = bottom(tmp_path / "in" / "x" / "a.avi"), bottom(tmp_path / "in" / "y" / "a.avi")
    assert np.abs(bottom(annotated / "x" / "a.labelled.mp4") - x).mean() < 10
    assert np.abs(bottom(annotated / "y" / "a.labelled.mp4") - y).mean() < 10
    assert np.abs(x - y).mean() > 20


def test_auto_workers_start_processes_only_for_a_job_worth_their_start_up(tmp_path, monkeypatch):
    from actionrec import batch
    monkeypatch.setattr(batch.torch.cuda, "is_available", lambda: False)
    few = [tmp_path / f"v{i}.mp4" for i in range(3)]
    for path in few:
        path.write_bytes(b"x" * 1000)
    assert batch.auto_workers(few) == 1                       # start-up would cost more than it saves
    cores = len(os.sched_getaffinity(0))
    big = tmp_path / "long.mp4"
    big.write_bytes(b"\0" * batch.AUTO_WORKERS_BYTES)
    assert batch.auto_workers([*few, big]) == min(cores, 4)
    many = [tmp_path / f"m{i}.mp4" for i in range(batch.AUTO_WORKERS_VIDEOS)]
    assert batch.auto_workers(many) == min(cores, 4)          # counted even before they exist
    monkeypatch.setattr(batch.torch.cuda, "is_available", lambda: True)
    assert batch.auto_workers(many) == 1                      # one process owns the GPU


def test_workers_must_be_auto_or_a_positive_count(capsys):
    for bad in ("0", "two", "-1"):
        with pytest.raises(SystemExit):
            cli.main(["label", "--bundle", "b.safetensors", "x", "--out", "o.csv", "--workers", bad])
        assert "expected auto or a whole number of at least 1" in capsys.readouterr().err
