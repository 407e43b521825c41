"""Issue-5 speed check: grid pooling (our default) vs global pooling.

    python scripts/bench_pooling.py [--json out.json]

Measures, in one run, for each pooling: backbone extraction frames/s (ONNX Runtime,
batches of 16 at 224x224) and the streaming cost per step (one frame through
`StreamingRecognizer.push`: backbone at batch 1 + the staggered LSTM step), with
heads shaped like the default config. Prints ratios grid / global.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from actionrec.backbone import Backbone
from actionrec.bundle import Bundle
from actionrec.config import load_config
from actionrec.features import make_encoder
from actionrec.model import LSTMHead
from actionrec.pipeline import head_config
from actionrec.streaming import StreamingRecognizer
from actionrec.transforms import Preprocess


def extraction_fps(encoder, frames: np.ndarray, repeats: int = 4) -> float:
    encoder(frames[:16])
    start = time.perf_counter()
    for _ in range(repeats):
        for i in range(0, len(frames), 16):
            encoder(frames[i:i + 16])
    return repeats * len(frames) / (time.perf_counter() - start)


def streaming_ms(backbone: Backbone, encoder, cfg, steps: int = 60) -> float:
    pre = Preprocess.for_backbone(backbone.name)
    meta = {"preprocess": pre.to_dict(), "class_names": [f"c{i}" for i in range(10)],
            "sampling": {"fps": 8.0, "clip_steps": cfg.sampling.clip_steps, "stride": 1, "stream_stride": 1}}
    head = LSTMHead(**head_config(cfg, backbone, 10)).eval()
    rec = StreamingRecognizer(Bundle(None, meta, head, None), encoder)
    frames = np.random.default_rng(0).integers(0, 256, (steps, 240, 320, 3), dtype=np.uint8)
    latencies = [rec.push(f, i / 8.0).latency_ms for i, f in enumerate(frames)]
    return float(np.median(latencies[5:]))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--json")
    args = p.parse_args()
    cfg = load_config("default")
    frames = np.random.default_rng(0).integers(0, 256, (64, 224, 224, 3), dtype=np.uint8)
    result = {}
    for pooling in ("global", "grid"):
        backbone = Backbone("mobilenet_v2", pooling=pooling, grid=3)
        encoder = make_encoder(backbone, "auto")
        cfg.backbone.pooling = pooling
        result[pooling] = {"extraction_fps": round(extraction_fps(encoder, frames), 1),
                           "stream_step_ms": round(streaming_ms(backbone, encoder, cfg), 2)}
    result["extraction_ratio"] = round(result["grid"]["extraction_fps"] / result["global"]["extraction_fps"], 3)
    result["stream_step_ratio"] = round(result["grid"]["stream_step_ms"] / result["global"]["stream_step_ms"], 3)
    print(json.dumps(result, indent=2))
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
