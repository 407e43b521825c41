"""Benchmark 2: one head-training epoch from the feature cache vs one epoch that
decodes the videos and runs the backbone again (what a non-frozen pipeline pays).

    python scripts/bench_training.py [--videos-per-class 8] [--json out.json]

Same head, same clips (random TSN clips on the 8 fps timeline), same optimizer
step; only where the features come from differs. The decoding epoch uses our
fastest path (decode thread-free, ONNX Runtime backbone), so the ratio is a floor.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from actionrec.config import load_config
from actionrec.datasets import load_dataset
from actionrec.model import LSTMHead
from actionrec.pipeline import feature_source, head_config
from actionrec.sampling import timeline_indices, train_clip
from actionrec.synthetic import make_ucf_dataset
from actionrec.video_io import open_video


def train_step(head, opt, feats: torch.Tensor, labels: torch.Tensor) -> None:
    opt.zero_grad()
    F.cross_entropy(head(feats)[:, -1], labels).backward()
    torch.nn.utils.clip_grad_norm_(head.parameters(), 5.0)
    opt.step()


def epoch_from_cache(head, opt, items, cache, cfg, rng) -> float:
    start = time.perf_counter()
    for i in range(0, len(items), cfg.train.batch_size):
        batch = items[i:i + cfg.train.batch_size]
        clips = []
        for item in batch:
            feats = cache.load(item.path)
            clips.append(np.asarray(feats[train_clip(len(feats), cfg.sampling.clip_steps, "segments", rng)],
                                    dtype=np.float32))
        train_step(head, opt, torch.from_numpy(np.stack(clips)), torch.tensor([b.label for b in batch]))
    return time.perf_counter() - start


def epoch_decoding(head, opt, items, source, cfg, rng) -> float:
    start = time.perf_counter()
    for i in range(0, len(items), cfg.train.batch_size):
        batch = items[i:i + cfg.train.batch_size]
        clips = []
        for item in batch:
            with open_video(item.path) as reader:
                steps = timeline_indices(reader.num_frames, reader.fps, cfg.sampling.fps)
                picks = steps[train_clip(len(steps), cfg.sampling.clip_steps, "segments", rng)]
                frames = source.preprocess(reader.get_frames(picks))
            clips.append(source.extractor.encoder(frames))
        train_step(head, opt, torch.from_numpy(np.stack(clips)), torch.tensor([b.label for b in batch]))
    return time.perf_counter() - start


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--videos-per-class", type=int, default=8)
    p.add_argument("--json")
    args = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = make_ucf_dataset(Path(tmp) / "data", groups=args.videos_per_class // 2, clips_per_group=2,
                                size=(240, 320), num_frames=100, test_groups=1)
        cfg = load_config("default", [f"cache.dir={tmp}/cache", "logging.wandb=disabled"])
        split = load_dataset(data)
        items = split.train + split.val
        source = feature_source(cfg, [i.path for i in split.train])
        source.ensure(items, "benchmark", progress=False)           # the one-off extraction, not timed
        head = LSTMHead(**head_config(cfg, source.backbone, len(split.class_names)))
        opt = torch.optim.AdamW(head.parameters(), lr=1e-3)
        rng = np.random.default_rng(0)
        epoch_from_cache(head, opt, items, source.cache, cfg, rng)  # warm-up
        cached = min(epoch_from_cache(head, opt, items, source.cache, cfg, rng) for _ in range(3))
        decoding = epoch_decoding(head, opt, items, source, cfg, rng)
    result = {"videos": len(items), "clip_steps": cfg.sampling.clip_steps, "cache_epoch_s": round(cached, 4),
              "decode_epoch_s": round(decoding, 3), "ratio": round(decoding / cached, 1),
              "cache_clips_per_s": round(len(items) / cached, 1),
              "decode_clips_per_s": round(len(items) / decoding, 2)}
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
