"""Projection of the whole UCF101 split-1 pipeline (extraction + head training) on
this machine, from rates measured here on UCF-like material.

    python scripts/project_ucf101.py [--config ucf101] [--json out.json]

Measured: (1) extraction throughput in *video seconds per second* on synthetic
clips shaped like UCF101's (XVID .avi, 320x240, 25 fps, 7.2 s), with the config's
sampling rate, preprocessing and runtime; (2) head-training throughput in clips/s
with the config's head over 101 classes on random cached-feature clips. Projected:
UCF101 split 1 = 9,537 training clips, 3,783 test clips, 13,320 clips of 7.21 s on
average (26.7 hours of video); training for `train.epochs` epochs (an upper bound:
early stopping usually ends sooner) plus the validation passes.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from actionrec.config import load_config
from actionrec.datasets import VideoItem
from actionrec.pipeline import feature_source, head_config
from actionrec.synthetic import render_clip, write_video
from actionrec.training import HeadModule

UCF_CLIPS, UCF_TRAIN, UCF_TEST, UCF_MEAN_SECONDS = 13320, 9537, 3783, 7.21


def extraction_rate(cfg, folder: Path, clips: int) -> dict:
    paths = []
    for i in range(clips):
        frames = render_clip(["grow", "slide_left", "turn_clockwise"][i % 3], np.random.default_rng(i),
                             size=(240, 320), num_frames=int(25 * UCF_MEAN_SECONDS))
        paths.append(write_video(folder / f"v_{i}.avi", frames, 25.0, codec="XVID"))
    source = feature_source(cfg, paths)
    source.extractor.encoder(np.zeros((1, cfg.backbone.crop_size or 224, cfg.backbone.crop_size or 224, 3),
                                      np.uint8))                              # export/load, not timed
    start = time.perf_counter()
    _, report = source.ensure([VideoItem(p, 0, str(i)) for i, p in enumerate(paths)], "projection",
                              progress=False)
    seconds = time.perf_counter() - start
    return {"video_seconds_per_second": clips * UCF_MEAN_SECONDS / seconds,
            "frames_per_second": report.frames / seconds, "frames_per_clip": report.frames / clips}


def training_rate(cfg, batches: int = 6) -> float:
    from actionrec.backbone import get_spec
    dim = get_spec(cfg.backbone.name).out_dim
    cells = 1 if cfg.backbone.pooling == "global" else cfg.backbone.grid ** 2

    class Dims:
        out_dim, num_cells = dim, cells
    module = HeadModule(head_config(cfg, Dims, 101), cfg.train.optimizer, cfg.train.lr)
    opt = module.configure_optimizers()
    opt = opt["optimizer"] if isinstance(opt, dict) else opt
    b, t = cfg.train.batch_size, cfg.sampling.clip_steps
    x, y = torch.randn(b, t, cells, dim), torch.randint(0, 101, (b,))
    def step():
        opt.zero_grad()
        torch.nn.functional.cross_entropy(module(x), y).backward()
        torch.nn.utils.clip_grad_norm_(module.parameters(), cfg.train.grad_clip)
        opt.step()
    step()
    start = time.perf_counter()
    for _ in range(batches):
        step()
    return batches * b / (time.perf_counter() - start)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", default="ucf101")
    p.add_argument("--clips", type=int, default=6)
    p.add_argument("--set", dest="overrides", action="append", default=[])
    p.add_argument("--json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = load_config(args.config, [*args.overrides, f"cache.dir={tmp}/cache", "logging.wandb=disabled"])
        ext = extraction_rate(cfg, Path(tmp), args.clips)
    clips_per_s = training_rate(cfg)
    extraction_min = UCF_CLIPS * UCF_MEAN_SECONDS / ext["video_seconds_per_second"] / 60
    epoch_s = UCF_TRAIN / clips_per_s + 0.1 * UCF_TRAIN / (3 * clips_per_s)    # + validation passes
    training_min = cfg.train.epochs * epoch_s / 60
    result = {"config": args.config, "sample_fps": cfg.sampling.fps, "pooling": cfg.backbone.pooling,
              "extraction_frames_per_s": round(ext["frames_per_second"], 1),
              "extraction_video_s_per_s": round(ext["video_seconds_per_second"], 2),
              "train_clips_per_s": round(clips_per_s, 1), "epoch_s": round(epoch_s, 1),
              "projected_extraction_min": round(extraction_min, 1),
              "projected_training_min_upper": round(training_min, 1),
              "projected_total_min": round(extraction_min + training_min, 1)}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
