"""Benchmark 3: peak memory while labelling a long high-resolution video stays
bounded: it does not grow with the video's length.

    python scripts/bench_memory.py [--seconds 8 60] [--json out.json]

Writes 1280x720 25 fps videos of each length, labels each with `actionrec label` in
a fresh process (demo-shaped bundle with a random head, so no training is needed),
and reports each process's peak RSS. The baseline is the shortest video, measured
in the same run: `ratio` = peak(longest) / peak(shortest), ~1.0 when bounded. For
scale, `decoded_gb` is what holding every decoded frame of the longest video would
take.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from actionrec.synthetic import group_background, random_head_bundle, render_clip, write_video

CHILD = """
import resource, sys
from actionrec.cli import main
code = main(["label", "--bundle", sys.argv[1], sys.argv[2], "--out", sys.argv[3], "--quiet"])
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
sys.exit(code)
"""


def make_video(path: Path, seconds: float) -> Path:
    rng = np.random.default_rng(0)
    background = group_background(rng, (720, 1280))
    def frames():
        for start in range(0, int(25 * seconds), 50):     # 2 s clips back to back
            yield from render_clip("slide_left", rng, (720, 1280), 50, background)
    return write_video(path, frames(), 25.0)


def peak_rss_mb(bundle: Path, video: Path, out: Path) -> float:
    result = subprocess.run([sys.executable, "-c", CHILD, str(bundle), str(video), str(out)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError(f"labelling {video} failed: {result.stderr[-2000:]}")
    return int(result.stdout.strip().splitlines()[-1]) / 1024


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seconds", type=float, nargs="+", default=[8.0, 60.0])
    p.add_argument("--json")
    args = p.parse_args()
    rows = {}
    with tempfile.TemporaryDirectory() as tmp:
        bundle = random_head_bundle(Path(tmp) / "bundle.safetensors")
        for seconds in sorted(args.seconds):
            video = make_video(Path(tmp) / f"long_{int(seconds)}s.avi", seconds)
            rows[f"{seconds:g}s"] = round(peak_rss_mb(bundle, video, Path(tmp) / f"{seconds:g}.csv"), 1)
    longest = max(args.seconds)
    result = {"video": "1280x720 25 fps MJPG", "peak_rss_mb": rows,
              "ratio": round(rows[f"{longest:g}s"] / rows[f"{min(args.seconds):g}s"], 3),
              "decoded_gb": round(longest * 25 * 1280 * 720 * 3 / 1e9, 2)}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
