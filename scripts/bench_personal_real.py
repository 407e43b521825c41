""""Teach it your own actions" with real people: takes of one person, live on others.

    python scripts/bench_personal_real.py --data DATA/real_actions --classes pushup pullup squat
        [--sessions 3 --takes 2] [--seeds 0 1 2] [--config personal] [--set head.probe=false ...]
        [--json docs/bench/personal_real.json]

`DATA` is a folders dataset of real footage (`train/<class>/`, `test/<class>/`, whole
people held out in test). Per class, `sessions x takes` clips of its training videos
become a recorded dataset exactly as `actionrec record` lays one out
(`mine/<class>/<class>_sNN_tMM.mp4` and `recordings.json`), so `actionrec train` picks
its preset by itself. With `--seconds S` the takes are recorded as `actionrec record
--headless --countdown 0 --seconds S` records them: the first `S` seconds of each clip,
back to back in one session, through the recorder itself (scaled down and re-encoded);
without it, whole clips are copied. The head is trained with the preset, then every test
video (other people, other places) is streamed through `StreamingRecognizer` as
`actionrec live` does. Reported: per class, the share of steps after warm-up whose label is the video's
class ("no action" counts as wrong), and their mean over classes; per seed, then mean
and spread. A class named `none` (`data.background_class`, recorded like any other: you
doing none of the actions) is right where a step names no action; with it, the mean over
the other classes is reported as well (`actions`), to set beside a run without it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import time
import warnings
from pathlib import Path

import numpy as np

from actionrec.bundle import load_bundle
from actionrec.cli import default_preset
from actionrec.config import load_config
from actionrec.datasets import VIDEO_EXTENSIONS
from actionrec.pipeline import train
from actionrec.record import TakeRecorder, record_manifest, take_name
from actionrec.streaming import StreamingRecognizer, build_recognizer
from actionrec.video_io import open_video


def videos_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)


def lay_out_takes(data: Path, classes: list[str], sessions: int, takes: int, mine: Path,
                  seconds: float | None = None) -> Path:
    """`sessions * takes` training clips of each class as a recorded-dataset folder: copied
    whole, or with `seconds`, recorded (`record_takes`)."""
    shutil.rmtree(mine, ignore_errors=True)
    for label in classes:
        clips = videos_of(data / "train" / label)
        if len(clips) < sessions * takes:
            raise SystemExit(f"{data / 'train' / label}: {len(clips)} clips, {sessions * takes} needed")
        for s in range(sessions):
            sources = clips[s * takes:(s + 1) * takes]
            if seconds:
                paths = record_takes(sources, mine / label, label, s + 1, seconds)
            else:
                paths = [mine / label / take_name(label, s + 1, t, src.suffix) for t, src in enumerate(sources, 1)]
                paths[0].parent.mkdir(parents=True, exist_ok=True)
                for src, dst in zip(sources, paths):
                    shutil.copy(src, dst)
            record_manifest(mine, label, s + 1, paths, str(data / "train" / label), seconds or 0.0, "benchmark")
    return mine


def record_takes(sources: list[Path], class_dir: Path, label: str, session: int, seconds: float) -> list[Path]:
    """One session's takes as `actionrec record` writes them from a camera with no
    countdown: the first `seconds` of each source clip, fed back to back to the recorder."""
    class_dir.mkdir(parents=True, exist_ok=True)
    recorder = TakeRecorder(class_dir, label, session, len(sources), seconds, 0.0, load_config().record.max_side)
    offset = 0.0
    for number, src in enumerate(sources, 1):
        with open_video(src) as reader:
            times = np.arange(reader.num_frames) / reader.fps
            keep = np.flatnonzero(times < seconds - 1e-6)
            for frame, ts in zip(reader.get_frames(keep), times[keep]):
                recorder.feed(frame, offset + ts)
        if len(recorder.saved) != number:
            raise SystemExit(f"{src}: shorter than a take of {seconds:g} s")
        offset = recorder.phase_start      # one frame after the take's last: 2 s is no whole number of frames at 23.976/s
    return recorder.saved


def live_share(recognizer: StreamingRecognizer, video: Path, label: str) -> tuple[int, int]:
    """(steps after warm-up labelled `label`, steps after warm-up) over one video streamed
    from a fresh start. For the bundle's background class (`none`), a step is right when
    it names no action."""
    recognizer.reset()
    expected = None if label == recognizer.background else label
    right = total = 0
    with open_video(video) as reader:
        frames = reader.get_frames(range(reader.num_frames))
        for i, frame in enumerate(frames):
            pred = recognizer.push(frame, i / reader.fps)
            if pred is not None and not pred.warming_up:
                total += 1
                right += pred.label == expected
    return right, total


def run_seed(data: Path, classes: list[str], mine: Path, seed: int, work: Path, config: str | None,
             overrides: list[str]) -> dict:
    cfg = load_config(config or default_preset(str(mine)),
                      [*overrides, f"train.seed={seed}", f"cache.dir={work / 'cache'}", f"logging.run_dir={work / 'runs'}",
                       "logging.wandb=disabled", "logging.progress_bar=false", "logging.csv=false"])
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(mine, cfg, work / f"personal-{seed}.safetensors", progress=False)
    seconds = time.perf_counter() - start
    shutil.rmtree(result.run_dir, ignore_errors=True)   # its checkpoints; the bundle is kept
    recognizer = build_recognizer(load_bundle(result.bundle), cfg)
    per_class = {}
    for label in classes:
        counts = [live_share(recognizer, v, label) for v in videos_of(data / "test" / label)]
        right, total = sum(c[0] for c in counts), sum(c[1] for c in counts)
        per_class[label] = {"share": right / total if total else 0.0, "steps": total, "videos": len(counts)}
    balanced = statistics.fmean(v["share"] for v in per_class.values())
    run = {"seed": seed, "train_seconds": round(seconds, 1), "per_class": per_class, "balanced": balanced}
    if cfg.data.background_class in per_class and len(per_class) > 1:
        run["actions"] = statistics.fmean(v["share"] for k, v in per_class.items() if k != cfg.data.background_class)
    return run


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--classes", nargs="+", default=["pushup", "pullup", "squat"])
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--takes", type=int, default=2)
    p.add_argument("--seconds", type=float, default=None,
                   help="record takes of this length through the recorder (default: copy whole clips)")
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--config", default=None, help="default: the preset `actionrec train` picks (personal)")
    p.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config overrides on top of the preset, as `actionrec train --set`")
    p.add_argument("--work", type=Path, default=Path(".cache/personal_real"))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    mine = lay_out_takes(args.data, args.classes, args.sessions, args.takes, args.work / "mine", args.seconds)
    runs = [run_seed(args.data, args.classes, mine, seed, args.work, args.config, args.overrides)
            for seed in args.seeds]
    for run in runs:
        print(f"seed {run['seed']}: " + "  ".join(f"{k} {v['share']:.2f}" for k, v in run["per_class"].items())
              + f"  class-balanced {run['balanced']:.3f}"
              + (f"  actions alone {run['actions']:.3f}" if "actions" in run else "")
              + f"  (training {run['train_seconds']} s)")
    shares = [r["balanced"] for r in runs]
    out = {"config": args.config or "personal", "overrides": args.overrides, "classes": args.classes,
           "sessions": args.sessions, "takes": args.takes, "seconds": args.seconds, "runs": runs,
           "balanced_mean": statistics.fmean(shares), "balanced_spread": statistics.pstdev(shares)}
    print(f"class-balanced share of live steps right: {out['balanced_mean']:.3f} ± {out['balanced_spread']:.3f}")
    if all("actions" in r for r in runs):
        actions = [r["actions"] for r in runs]
        out["actions_mean"], out["actions_spread"] = statistics.fmean(actions), statistics.pstdev(actions)
        print(f"the actions alone (without the background class): {out['actions_mean']:.3f} ± {out['actions_spread']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(f".{args.json.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out, indent=2))
        os.replace(tmp, args.json)
    return out


if __name__ == "__main__":
    main()
