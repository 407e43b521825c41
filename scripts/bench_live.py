"""Benchmark: the live loop on a 30 fps file replayed in real time, headless.

    python scripts/bench_live.py [--bundle B] [--seconds 20] [--runtime auto] [--heads N] [--json out.json]

A generated 320x240 30 fps video is fed to `actionrec.live.run_live` with realtime
replay: the capture thread delivers frames at 30 fps as a camera would, and drops the
ones the loop cannot take. Measured per run: `sustained_fps` (frames the loop handled
per second), `frames_dropped`, per-step latency (preprocess + backbone + head) p50/p95,
`steps`, and `unpaced_fps` (the same file without realtime: every frame, as fast as
the loop goes; its capacity). Baseline, measured in the same run on the same file:
the same loop with `runtime=torch`. Prints JSON with the ratios (ours / baseline for
rates, baseline / ours for latencies: above 1 is better).

Without `--bundle`, a random-head bundle is built like the tests' fixture but at the
backbone's default 224x224 input, with the default head, clip length and flow stream
(`--motion none`: the CNN alone), and as many heads as the default's ensemble (`--heads`).
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import torch

from actionrec.bundle import load_bundle, read_meta
from actionrec.config import load_config
from actionrec.features import make_encoder
from actionrec.live import run_live
from actionrec.synthetic import random_head_bundle, render_clip, write_video

SOURCE_FPS = 30.0
KEYS = ("sustained_fps", "frames_dropped", "latency_ms_p50", "latency_ms_p95", "steps", "unpaced_fps")


def make_video(folder: Path, seconds: float) -> Path:
    frames = render_clip("turn_clockwise", np.random.default_rng(0), size=(240, 320),
                         num_frames=int(SOURCE_FPS * seconds))
    return write_video(folder / "live.avi", frames, SOURCE_FPS)


def make_bundle(folder: Path, motion: str, heads: int | None) -> Path:
    """mobilenet_v2 grid 3x3 at its default input, random default-sized heads (as many as
    the default's ensemble unless `heads` is given), the flow stream unless `motion` is none."""
    cfg = load_config("default")
    return random_head_bundle(folder / "random224.safetensors", class_names=cfg.demo.classes,
                              clip_steps=cfg.sampling.clip_steps, hidden_size=cfg.head.hidden_size,
                              num_layers=cfg.head.num_layers, cell_dim=cfg.head.cell_dim,
                              motion=motion == "flow", heads=heads or cfg.head.ensemble)


def measure(bundle: Path, video: Path, runtime: str, folder: Path, side: str) -> dict:
    """One realtime run and one unpaced run of the live loop with `runtime`; `side` names
    them in the log (the live loop's own summaries follow each header)."""
    cfg = load_config("default", [f"backbone.runtime={runtime}", "logging.wandb=disabled"])
    result = {"runtime": runtime,
              "encoder": type(make_encoder(load_bundle(bundle).build_backbone(), runtime)).__name__}
    for realtime in (True, False):
        print(f"== bench_live: {side}, runtime {runtime}, {'realtime replay' if realtime else 'unpaced'} ==",
              file=sys.stderr, flush=True)
        stats_path = folder / f"{runtime}-{realtime}.json"
        code = run_live(bundle, str(video), cfg, headless=True, stats=stats_path, realtime=realtime)
        stats = json.loads(stats_path.read_text())
        if code != 0:
            raise SystemExit(f"live run ({runtime}, realtime={realtime}) exited {code}: {stats['ended']}")
        if realtime:
            result.update(sustained_fps=stats["fps"], source_fps=stats["source_fps"],
                          frames_processed=stats["frames_processed"], frames_dropped=stats["frames_dropped"],
                          latency_ms_p50=stats["latency_ms_p50"], latency_ms_p95=stats["latency_ms_p95"],
                          steps=stats["steps"])
        else:
            result["unpaced_fps"] = stats["fps"]
        gc.collect()      # the run's encoder (and its ONNX Runtime threads) goes before the next
    return result


def ratios(ours: dict, base: dict) -> dict:
    faster = {k: round(ours[k] / base[k], 2) for k in ("sustained_fps", "unpaced_fps") if base[k]}
    faster.update({f"{k}_speedup": round(base[k] / ours[k], 2)
                   for k in ("latency_ms_p50", "latency_ms_p95") if ours[k]})
    return faster


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bundle", help="bundle to run (default: a random-head 224x224 bundle)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of the generated video")
    p.add_argument("--runtime", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--motion", default=load_config("default").motion.stream, choices=["flow", "none"],
                   help="the random-head bundle's motion stream (default: the default config's)")
    p.add_argument("--heads", type=int, help="heads of the random bundle (default: the default's ensemble)")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        video = make_video(folder, args.seconds)
        bundle = Path(args.bundle) if args.bundle else make_bundle(folder, args.motion, args.heads)
        heads = read_meta(bundle).get("heads", 1)
        base = measure(bundle, video, "torch", folder, "baseline")
        ours = measure(bundle, video, args.runtime, folder, "ours")
    result = {"source": f"320x240 {SOURCE_FPS:g} fps, {args.seconds:g} s, realtime replay",
              "bundle": args.bundle or f"random heads, mobilenet_v2 grid3 224x224, motion {args.motion}",
              "heads": heads,
              "torch_threads": torch.get_num_threads(), **ours, "baseline": base,
              "ratio": ratios(ours, base)}
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        Path(args.json).write_text(text + "\n")


if __name__ == "__main__":
    main()
