"""Benchmark: your own actions, from the first recorded take to a live bundle.

    python scripts/bench_personal.py [--takes 5] [--seconds 3] [--fast] [--json out.json]

Three actions (grow, slide_left, turn_clockwise) performed in one room stand in for a
person in front of a webcam: each is a 320x240, 30 fps video that `actionrec record`
reads as its camera, replayed in real time (`--realtime`, as a camera delivers it;
`--fast` reads it as fast as it decodes). Measured:

1. recording: `actionrec record` for each action, `--takes` takes of `--seconds` s with
   the default 3 s countdown (wall time: what a person spends in front of the camera);
2. training: `actionrec train` with no config (it picks the `personal` preset), from a
   cold feature cache, to a written bundle (wall time, in this process);
3. held-out accuracy: the bundle on its held-out takes (video top-1), against the
   order-blind baseline and against the `default` preset trained on the same takes,
   each over `--seeds` splits;
4. live: `actionrec live` headless on new performances of each action (3 per action,
   8 s each), in the same room and in a new one: the share of labelled steps that name
   the action performed, for the personal bundle and the default-preset one.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import statistics
import tempfile
import time
from pathlib import Path

from actionrec.bundle import load_bundle
from actionrec.cli import main
from actionrec.synthetic import render_performance, write_video

ACTIONS = ("grow", "slide_left", "turn_clockwise")
SIZE, FPS = (240, 320), 30.0


def quiet_main(argv: list[str]) -> tuple[int, str]:
    """Run the CLI in this process; its exit code and standard output."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = main(argv)
    return code, out.getvalue()


def record_all(work: Path, data: Path, takes: int, seconds: float, realtime: bool) -> float:
    """Record every action; the wall time from the start of the first recording."""
    cameras = {a: write_video(work / f"camera_{a}.avi",
                              render_performance(a, takes * (seconds + 3.0) + 2, FPS, SIZE, scene=0, seed=0), FPS)
               for a in ACTIONS}
    start = time.perf_counter()
    for action, camera in cameras.items():
        code, _ = quiet_main(["record", "--source", str(camera), "--data", str(data), "--label", action,
                              "--clips", str(takes), "--seconds", str(seconds), "--headless",
                              "--realtime" if realtime else "--no-realtime"])
        assert code == 0, f"recording {action} failed ({code})"
    return time.perf_counter() - start


def train(data: Path, work: Path, out: Path, config: str | None, seed: int, cache: Path) -> tuple[float, dict]:
    """`actionrec train`; its wall time and held-out metrics (top-1, baseline top-1, val)."""
    argv = ["train", "--data", str(data), "--out", str(out), "--quiet",
            "--set", f"cache.dir={cache}", "--set", f"logging.run_dir={work / 'runs'}",
            "--set", "logging.wandb=disabled", "--set", f"data.split_seed={seed}"]
    if config is not None:   # the default preset scores its held-out takes the same way
        argv += ["--config", config, "--set", "data.single_group=videos", "--set", "data.val_fraction=0.2",
                 "--set", "data.test_fraction=0.2", "--set", "train.evaluate_test=true"]
    start = time.perf_counter()
    code, text = quiet_main(argv)
    seconds = time.perf_counter() - start
    assert code == 0, text
    metrics = json.loads(Path(text.split("metrics: ")[-1].split()[0]).read_text())
    return seconds, {"top1": metrics["top1"], "baseline_top1": metrics["baseline_top1"],
                     "videos": metrics["num_videos"]}


def live_agreement(bundle: Path, work: Path, scene: int, performances: int = 3) -> dict:
    """Per action, the share of labelled live steps that name it, over new 8 s performances."""
    result = {}
    for action in ACTIONS:
        labelled = right = 0
        for seed in range(5, 5 + performances):
            video = work / f"live_{scene}_{seed}_{action}.avi"
            if not video.exists():
                write_video(video, render_performance(action, 8.0, FPS, SIZE, scene=scene, seed=seed), FPS)
            stats = work / "live_stats.json"
            code, _ = quiet_main(["live", "--bundle", str(bundle), "--source", str(video), "--headless",
                                  "--stats", str(stats)])
            assert code == 0
            runs = [r for r in json.loads(stats.read_text())["timeline"] if r["label"] is not None]
            labelled += sum(r["steps"] for r in runs)
            right += sum(r["steps"] for r in runs if r["label"] == action)
        result[action] = round(right / labelled, 3) if labelled else 0.0
    result["mean"] = round(statistics.mean(result[a] for a in ACTIONS), 3)
    return result


def main_bench() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--takes", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--seeds", type=int, default=3, help="splits to average held-out accuracy over")
    parser.add_argument("--fast", action="store_true", help="read the stand-in camera files unpaced")
    parser.add_argument("--json", default="docs/bench/personal.json")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        data = work / "mine"
        record_s = record_all(work, data, args.takes, args.seconds, not args.fast)
        bundle = work / "mine.safetensors"
        train_s, first = train(data, work, bundle, None, 0, work / "cache")
        personal = [first] + [train(data, work, work / f"p{s}.safetensors", None, s, work / "cache")[1]
                              for s in range(1, args.seeds)]
        default = [train(data, work, work / f"d{s}.safetensors", "default", s, work / "cache_default")[1]
                   for s in range(args.seeds)]
        epochs = load_bundle(bundle).meta["training"]
        report = {
            "actions": len(ACTIONS), "takes_per_action": args.takes, "take_seconds": args.seconds,
            "recording_seconds": round(record_s, 1), "realtime": not args.fast,
            "train_seconds_cold_cache": round(train_s, 1),
            "first_take_to_bundle_seconds": round(record_s - 3.0 + train_s, 1),
            "heldout_videos_per_split": first["videos"], "splits": args.seeds,
            "heldout_top1_personal": round(statistics.mean(r["top1"] for r in personal), 3),
            "heldout_top1_order_blind_baseline": round(statistics.mean(r["baseline_top1"] for r in personal), 3),
            "heldout_top1_default_preset": round(statistics.mean(r["top1"] for r in default), 3),
            "val_acc_first_split": epochs.get("val_acc"),
            "live_same_room_personal": live_agreement(bundle, work, scene=0),
            "live_new_room_personal": live_agreement(bundle, work, scene=1),
            "live_same_room_default_preset": live_agreement(work / "d0.safetensors", work, scene=0),
            "live_new_room_default_preset": live_agreement(work / "d0.safetensors", work, scene=1),
        }
    print(json.dumps(report, indent=2))
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main_bench()
