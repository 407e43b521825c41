"""Benchmark 1: feature extraction end to end (decode, resize, normalise, backbone).

    python scripts/bench_extraction.py [--videos 6 --seconds 4] [--repeats 3] [--motion flow|grey-flow|colour-flow|none]
                                       [--camera shift|similarity|border] [--crop-size 224] [--flow-size 128]
                                       [--json out.json]

Ours: `FeatureExtractor` (decode + resize, and the motion stream's optical flow, in a
background thread; batched ONNX Runtime backbone; `backbone.parallel_videos` videos side
by side, each with its own decode thread and single-threaded session on 2 cores), with
the default config's preprocessing (`backbone.resize_mode`, `backbone.crop_size`: the whole
frame at 160x160; `--crop-size 224` for torchvision's size). `--motion none`: the CNN alone.
Naive baseline, measured in the same run on the same files and frames: OpenCV reading
every frame in order, torchvision's own transforms (PIL: 256, then the centre 224x224),
eager PyTorch one frame at a time. Both encode every frame of 320x240 25 fps videos with
MobileNetV2. Each side runs `--repeats` times, alternating; prints JSON with
the medians `ours_fps`, `naive_fps` and their `ratio`, and every run; also the CPU time a
frame costs ours (`ours_cpu_ms_per_frame`, all threads) and the frames/s at which that
would fill every core (`ours_ceiling_fps`).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image

from actionrec.backbone import Backbone, get_weights
from actionrec.batch import usable_cores
from actionrec.config import load_config
from actionrec.features import FeatureCache, FeatureExtractor, cache_key, make_encoder, parallel_videos
from actionrec.motion import CAMERA_CHANNELS, FlowSpec, flow_spec
from actionrec.synthetic import render_clip, write_video
from actionrec.transforms import Preprocess


def make_videos(folder: Path, count: int, seconds: float) -> list[Path]:
    paths = []
    for i in range(count):
        frames = render_clip(["grow", "slide_left", "turn_clockwise"][i % 3], np.random.default_rng(i),
                             size=(240, 320), num_frames=int(25 * seconds))
        paths.append(write_video(folder / f"clip{i}.avi", frames, 25.0))
    return paths


def naive_fps(paths: list[Path], backbone: Backbone) -> tuple[float, int]:
    transform = get_weights(backbone.name).transforms()
    frames = 0
    start = time.perf_counter()
    for path in paths:
        cap = cv2.VideoCapture(str(path))
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            image = Image.fromarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
            with torch.inference_mode():
                backbone.pool(backbone.trunk(transform(image)[None]))
            frames += 1
        cap.release()
    return frames / (time.perf_counter() - start), frames


def ours_fps(paths: list[Path], backbone: Backbone, preprocess: Preprocess, runtime: str, cache_dir: Path,
             motion: FlowSpec | None, lanes: int | str) -> tuple[float, int, float]:
    encoder = make_encoder(backbone, runtime)
    extractor = FeatureExtractor(encoder, preprocess, sample_fps=None, batch_size=16, motion=motion,
                                 parallel_videos=parallel_videos(lanes, encoder))
    for lane in extractor.lane_encoders(len(paths)):                 # export/load outside the timing
        lane(preprocess(np.zeros((1, 240, 320, 3), np.uint8)))
    cache = FeatureCache(cache_dir, cache_key(backbone, preprocess, 0.0, motion))
    before = time.process_time()              # every thread of this process, user and system
    report = extractor.run(paths, cache)
    return report.frames_per_second, report.frames, (time.process_time() - before) * 1000 / max(report.frames, 1)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos", type=int, default=6)
    p.add_argument("--seconds", type=float, default=4.0)
    p.add_argument("--runtime", default="auto", choices=["auto", "torch", "onnx"])
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--motion", default="flow", choices=["flow", "grey-flow", "colour-flow", "none"],
                   help="the motion stream (default: flow, as the default config; grey-flow: the flow "
                        "on grey alone, motion.colour false; colour-flow: on the colour planes too)")
    p.add_argument("--camera", choices=list(CAMERA_CHANNELS),
                   help="the camera motion taken out of the flow (default: the default config's, motion.camera)")
    p.add_argument("--crop-size", type=int,
                   help="ours: the backbone's input size (default: the default config's, backbone.crop_size)")
    p.add_argument("--flow-size", type=int,
                   help="the frame the flow is computed on, size x size (default: the default config's, motion.size)")
    p.add_argument("--parallel-videos", default="auto",
                   help="videos extracted side by side (default: auto, as the default config)")
    p.add_argument("--json", help="also write the result here")
    args = p.parse_args(argv)
    backbone = Backbone("mobilenet_v2", pooling="grid", grid=3)
    config = load_config()
    b, m = config.backbone, config.motion
    preprocess = Preprocess.for_backbone(backbone.name, b.resize_size, args.crop_size or b.crop_size, b.resize_mode)
    stream, colour = {"flow": ("flow", m.colour), "grey-flow": ("flow", False),
                      "colour-flow": ("flow", True), "none": ("none", False)}[args.motion]
    camera = args.camera or m.camera
    motion = flow_spec(stream, args.flow_size or m.size, m.preset, backbone.pooling, backbone.grid, colour, camera)
    lanes = args.parallel_videos if args.parallel_videos == "auto" else int(args.parallel_videos)
    runs = {"ours": [], "naive": [], "ours_cpu_ms_per_frame": []}
    with tempfile.TemporaryDirectory() as tmp:
        paths = make_videos(Path(tmp), args.videos, args.seconds)
        for r in range(args.repeats):
            ours, n_ours, cpu_ms = ours_fps(paths, backbone, preprocess, args.runtime, Path(tmp) / f"cache{r}", motion, lanes)
            naive, n_naive = naive_fps(paths, backbone)
            runs["ours"].append(round(ours, 1))
            runs["naive"].append(round(naive, 1))
            runs["ours_cpu_ms_per_frame"].append(round(cpu_ms, 2))
    ours, naive = statistics.median(runs["ours"]), statistics.median(runs["naive"])
    cpu_ms = statistics.median(runs["ours_cpu_ms_per_frame"])
    cores = usable_cores()
    result = {"ours_fps": round(ours, 1), "naive_fps": round(naive, 1), "ratio": round(ours / naive, 2),
              # the CPU time a frame costs ours, and the frames/s that would fill every core with it
              "ours_cpu_ms_per_frame": cpu_ms, "ours_ceiling_fps": round(cores * 1000 / cpu_ms, 1),
              "runs": runs, "motion": args.motion, "camera": camera if motion else None,
              "flow_size": motion.size if motion else None,
              "frames": n_ours, "naive_frames": n_naive, "runtime": args.runtime, "parallel_videos": args.parallel_videos,
              "torch_threads": torch.get_num_threads(), "videos": args.videos,
              "video": "320x240 25 fps MJPG", "input": f"{preprocess.crop_size}x{preprocess.crop_size} ({preprocess.mode})",
              "naive_input": "224x224 (torchvision's preset)"}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
