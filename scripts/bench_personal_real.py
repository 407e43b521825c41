""""Teach it your own actions" with real people: takes of one person, live on others.

    python scripts/bench_personal_real.py --data DATA/real_actions --classes pushup pullup squat
        [--sessions 3 --takes 2] [--seeds 0 1 2] [--config personal] [--set head.probe=false ...]
        [--json docs/bench/personal_real.json]

`DATA` is a folders dataset of real footage (`train/<class>/`, `test/<class>/`, whole
people held out in test). Per class, `sessions x takes` clips of its training videos
become a recorded dataset exactly as `actionrec record` lays one out
(`mine/<class>/<class>_sNN_tMM.mp4` and `recordings.json`), so `actionrec train` picks
its preset by itself. The head is trained with the preset, then every test video (other
people, other places) is streamed through `StreamingRecognizer` as `actionrec live`
does. Reported: per class, the share of steps after warm-up whose label is the video's
class ("no action" counts as wrong), and their mean over classes; per seed, then mean
and spread.
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

from actionrec.bundle import load_bundle
from actionrec.cli import default_preset
from actionrec.config import load_config
from actionrec.datasets import VIDEO_EXTENSIONS
from actionrec.pipeline import train
from actionrec.record import record_manifest
from actionrec.streaming import build_recognizer
from actionrec.video_io import open_video


def videos_of(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS)


def lay_out_takes(data: Path, classes: list[str], sessions: int, takes: int, mine: Path) -> Path:
    """Copy `sessions * takes` training clips of each class into a recorded-dataset folder."""
    shutil.rmtree(mine, ignore_errors=True)
    for label in classes:
        clips = videos_of(data / "train" / label)
        if len(clips) < sessions * takes:
            raise SystemExit(f"{data / 'train' / label}: {len(clips)} clips, {sessions * takes} needed")
        for s in range(sessions):
            paths = []
            for t in range(takes):
                src = clips[s * takes + t]
                dst = mine / label / f"{label}_s{s + 1:02d}_t{t + 1:02d}{src.suffix}"
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy(src, dst)
                paths.append(dst)
            record_manifest(mine, label, s + 1, paths, str(data / "train" / label), 0.0, "benchmark")
    return mine


def live_share(bundle_path: Path, video: Path, label: str, cfg) -> tuple[int, int]:
    """(steps after warm-up labelled `label`, steps after warm-up) over one streamed video."""
    recognizer = build_recognizer(load_bundle(bundle_path), cfg)
    right = total = 0
    with open_video(video) as reader:
        frames = reader.get_frames(range(reader.num_frames))
        for i, frame in enumerate(frames):
            pred = recognizer.push(frame, i / reader.fps)
            if pred is not None and not pred.warming_up:
                total += 1
                right += pred.label == label
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
    per_class = {}
    for label in classes:
        counts = [live_share(result.bundle, v, label, cfg) for v in videos_of(data / "test" / label)]
        right, total = sum(c[0] for c in counts), sum(c[1] for c in counts)
        per_class[label] = {"share": right / total if total else 0.0, "steps": total, "videos": len(counts)}
    balanced = statistics.fmean(v["share"] for v in per_class.values())
    return {"seed": seed, "train_seconds": round(seconds, 1), "per_class": per_class, "balanced": balanced}


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True)
    p.add_argument("--classes", nargs="+", default=["pushup", "pullup", "squat"])
    p.add_argument("--sessions", type=int, default=3)
    p.add_argument("--takes", type=int, default=2)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--config", default=None, help="default: the preset `actionrec train` picks (personal)")
    p.add_argument("--set", dest="overrides", nargs="+", default=[], metavar="KEY=VALUE",
                   help="config overrides on top of the preset, as `actionrec train --set`")
    p.add_argument("--work", type=Path, default=Path(".cache/personal_real"))
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args(argv)
    mine = lay_out_takes(args.data, args.classes, args.sessions, args.takes, args.work / "mine")
    runs = [run_seed(args.data, args.classes, mine, seed, args.work, args.config, args.overrides)
            for seed in args.seeds]
    for run in runs:
        print(f"seed {run['seed']}: " + "  ".join(f"{k} {v['share']:.2f}" for k, v in run["per_class"].items())
              + f"  class-balanced {run['balanced']:.3f}  (training {run['train_seconds']} s)")
    shares = [r["balanced"] for r in runs]
    out = {"config": args.config or "personal", "overrides": args.overrides, "classes": args.classes, "runs": runs,
           "balanced_mean": statistics.fmean(shares), "balanced_spread": statistics.pstdev(shares)}
    print(f"class-balanced share of live steps right: {out['balanced_mean']:.3f} ± {out['balanced_spread']:.3f}")
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(f".{args.json.name}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps(out, indent=2))
        os.replace(tmp, args.json)
    return out


if __name__ == "__main__":
    main()
