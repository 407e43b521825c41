"""Batch labelling and extraction on one machine: the local path against Ray.

    python scripts/bench_scaling.py [--videos 200] [--bundle weights/demo.safetensors] [--repeats 1]

Makes `--videos` short clips (2 s, 25 fps, 112x112), then times, each as the command
a user runs (wall clock, process start and model loading included), medians over
`--repeats`:
- `label` in one process, `label --workers 2`, `label --engine ray` (Ray started by
  the command), and `label --engine ray --ray-address auto` joined to a Ray instance
  started beforehand with `ray start --head` (how a cluster is used);
- `extract` locally and on Ray (Ray started by the command), each into a fresh cache.
Prints sampled frames (timeline steps) per second and the ratio to the local path, and
writes the table as JSON (`--json`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from actionrec.synthetic import render_clip, write_video


def make_videos(folder: Path, n: int) -> None:
    rng = np.random.default_rng(0)
    actions = ("grow", "shrink", "slide_left", "slide_right", "turn_clockwise", "turn_anticlockwise")
    for k in range(n):
        path = folder / f"clip{k:04d}.avi"
        if not path.exists():
            write_video(path, render_clip(actions[k % len(actions)], rng, (112, 112), 50), 25.0)


def timed(command: list[str], env: dict | None = None) -> float:
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "actionrec.cli", *command], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed:\n{done.stdout[-3000:]}")
    return seconds


def steps_in(results: Path) -> int:
    return sum(json.loads(line)["steps"] for line in results.read_text().splitlines())


def label_runs(bundle: Path, videos: Path, work: Path, repeats: int) -> dict:
    variants = {"label, 1 process": ["--workers", "1"], "label --workers 2": ["--workers", "2"],
                "label --engine ray": ["--engine", "ray"],
                "label --engine ray (joined)": ["--engine", "ray", "--ray-address", "auto"]}
    table = {}
    for name, extra in variants.items():
        joined = "--ray-address" in extra
        if joined:
            subprocess.run(["ray", "start", "--head", "--num-cpus", str(os.cpu_count()), "--include-dashboard",
                            "false"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            times = []
            for _ in range(repeats):
                out = work / "labels.jsonl"
                out.unlink(missing_ok=True)
                times.append(timed(["label", "--bundle", str(bundle), str(videos), "--out", str(out), "--quiet",
                                    *extra]))
            table[name] = {"seconds": statistics.median(times), "steps": steps_in(out)}
        finally:
            if joined:
                subprocess.run(["ray", "stop", "--force"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return table


def extract_runs(videos: Path, work: Path, repeats: int) -> dict:
    table = {}
    for name, extra in {"extract, local": [], "extract --engine ray": ["--engine", "ray"]}.items():
        times = []
        for _ in range(repeats):
            cache = work / "cache"
            shutil.rmtree(cache, ignore_errors=True)
            times.append(timed(["extract", "--data", str(work), "--quiet", "--set", f"cache.dir={cache}",
                                *extra]))
        table[name] = {"seconds": statistics.median(times), "steps": None}
    return table


def dataset_of(videos: Path, work: Path) -> None:
    """A list-file dataset over the clips, `work/train.txt` and `test.txt` (every 4th
    clip): `extract` reads datasets."""
    lines = [f"{p.relative_to(work)} c{int(p.stem[-4:]) % 6}" for p in sorted(videos.glob("*.avi"))]
    (work / "train.txt").write_text("\n".join(line for k, line in enumerate(lines) if k % 4) + "\n")
    (work / "test.txt").write_text("\n".join(line for k, line in enumerate(lines) if not k % 4) + "\n")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--videos", type=int, default=200)
    p.add_argument("--bundle", type=Path, default=Path("weights/demo.safetensors"))
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "actionrec-bench-scaling")
    p.add_argument("--json", type=Path, default=Path("docs/bench/scaling.json"))
    args = p.parse_args()
    videos = args.work / "videos"
    videos.mkdir(parents=True, exist_ok=True)
    make_videos(videos, args.videos)
    dataset_of(videos, args.work)
    table = label_runs(args.bundle, videos, args.work, args.repeats)
    steps = table["label, 1 process"]["steps"]
    table.update(extract_runs(videos, args.work, args.repeats))
    base = {"label": table["label, 1 process"]["seconds"], "extract": table["extract, local"]["seconds"]}
    workers = table["label --workers 2"]["seconds"]
    print(f"{args.videos} videos, {steps} sampled frames; wall clock of each command, median of {args.repeats}")
    print(f"{'command':<30} {'seconds':>8} {'frames/s':>9} {'vs local':>9} {'vs --workers 2':>15}")
    for name, row in table.items():
        row["frames_per_second"] = round(steps / row["seconds"], 1)
        row["ratio_to_local"] = round(base[name.split()[0].rstrip(",")] / row["seconds"], 3)
        vs_workers = f"{workers / row['seconds']:.2f}x" if name.startswith("label") else ""
        print(f"{name:<30} {row['seconds']:>8.1f} {row['frames_per_second']:>9.1f} "
              f"{row['ratio_to_local']:>8.2f}x {vs_workers:>15}")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps({"videos": args.videos, "steps": steps, "cpus": os.cpu_count(),
                                     "repeats": args.repeats, "runs": table}, indent=2) + "\n")


if __name__ == "__main__":
    main()
