"""The feature cache: decode each video once, run the frozen backbone once, keep the result.

Because the backbone never changes during training, the per-frame features of a
video depend only on (video file, backbone, preprocessing, pooling, sampling rate).
They are stored as one `.npy` per video, `(N, S, D)` float16 (N timeline steps at
`sample_fps`, S cells, D channels), under a folder named by the hash of that key,
so changing any part of the key starts a fresh folder and never serves stale
features. A video's entry is keyed by its resolved path, size and modification
time: an edited video is extracted again. Entries are written to a temporary name
and renamed, so an interrupted run leaves no half entry and resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from .backbone import Backbone
from .errors import ActionRecError, VideoReadError
from .sampling import timeline_indices
from .transforms import Preprocess
from .video_io import open_video

CACHE_FORMAT = 1
DECODE_CHUNK = 128   # timeline steps decoded at once: bounds memory on long videos


def atomic_write_bytes(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


class FeatureCache:
    """On-disk store of per-video features for one extraction key."""

    def __init__(self, root: str | Path, key: dict):
        self.key = {"format": CACHE_FORMAT, **key}
        digest = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = Path(root) / f"{key.get('backbone', 'features')}-{digest}"
        self.dir.mkdir(parents=True, exist_ok=True)
        manifest = self.dir / "key.json"
        if not manifest.exists():
            atomic_write_bytes(manifest, json.dumps(self.key, indent=2, sort_keys=True).encode())

    def entry(self, video: str | Path) -> Path:
        real = Path(video).resolve()
        stat = real.stat()
        ident = f"{real}|{stat.st_size}|{stat.st_mtime_ns}"
        return self.dir / (hashlib.sha1(ident.encode()).hexdigest()[:24] + ".npy")

    def has(self, video: str | Path) -> bool:
        return self.entry(video).is_file()

    def load(self, video: str | Path) -> np.ndarray:
        """`(N, S, D)` float16, memory-mapped (cheap to open, read on demand)."""
        return np.load(self.entry(video), mmap_mode="r", allow_pickle=False)

    def save(self, video: str | Path, features: np.ndarray) -> None:
        target = self.entry(video)
        tmp = target.with_name(f".{target.stem}.{os.getpid()}.tmp.npy")
        np.save(tmp, features.astype(np.float16), allow_pickle=False)
        os.replace(tmp, target)


class TorchEncoder:
    """Backbone in PyTorch: `(N, 3, H, W)` float32 -> `(N, S, D)` float32 numpy."""

    def __init__(self, backbone: Backbone, device: str | torch.device = "cpu"):
        self.backbone = backbone.to(device)
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, frames: torch.Tensor) -> np.ndarray:
        return self.backbone.forward_frames(frames.to(self.device)).float().cpu().numpy()


RUNTIMES = ("auto", "torch", "onnx")


def make_encoder(backbone: Backbone, runtime: str = "auto", input_size: int = 224):
    """The frame encoder for `backbone`: `(N, 3, H, W)` float32 -> `(N, S, D)` numpy.

    `torch` runs the module (GPUs, fallback); `onnx` runs an exported copy under ONNX
    Runtime (fastest on CPU); `auto` picks ONNX on a machine without CUDA when
    onnxruntime is installed.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    return TorchEncoder(backbone, "cuda" if torch.cuda.is_available() else "cpu")


@dataclass
class ExtractionReport:
    extracted: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)   # path -> reason
    frames: int = 0
    seconds: float = 0.0

    @property
    def frames_per_second(self) -> float:
        return self.frames / self.seconds if self.seconds else 0.0


@dataclass
class Chunk:
    video: str
    frames: np.ndarray | None      # (n, crop, crop, 3) uint8, None on error
    last: bool
    error: str | None = None


class FeatureExtractor:
    """Decode, resize, encode and cache the timeline features of many videos.

    Decoding and resizing run in a background thread, one chunk ahead of the
    backbone, so the two overlap.
    """

    def __init__(self, encoder: Callable[[torch.Tensor], np.ndarray], preprocess: Preprocess,
                 sample_fps: float, batch_size: int = 32, reader: str = "auto"):
        self.encoder, self.preprocess = encoder, preprocess
        self.sample_fps, self.batch_size, self.reader = sample_fps, batch_size, reader

    def decode_chunks(self, video: str) -> Iterator[Chunk]:
        """Resized frames of one video's timeline, `DECODE_CHUNK` steps at a time."""
        with open_video(video, self.reader) as reader:
            steps = timeline_indices(reader.num_frames, reader.fps, self.sample_fps)
            for start in range(0, len(steps), DECODE_CHUNK):
                frames = reader.get_frames(steps[start:start + DECODE_CHUNK])
                last = start + DECODE_CHUNK >= len(steps)
                yield Chunk(video, self.preprocess.resize_frames(frames), last)

    def produce(self, videos: list[str], out: queue.Queue, stop: threading.Event) -> None:
        for video in videos:
            try:
                for chunk in self.decode_chunks(video):
                    if stop.is_set():
                        return
                    out.put(chunk)
            except (ActionRecError, OSError, ValueError, RuntimeError) as exc:
                reason = exc.reason if isinstance(exc, VideoReadError) else f"{type(exc).__name__}: {exc}"
                out.put(Chunk(video, None, True, reason))
        out.put(None)

    def encode(self, frames: np.ndarray) -> np.ndarray:
        """`(n, crop, crop, 3)` uint8 -> `(n, S, D)` float32, in backbone batches."""
        parts = [self.encoder(self.preprocess.normalize(frames[i:i + self.batch_size]))
                 for i in range(0, len(frames), self.batch_size)]
        return np.concatenate(parts)

    def run(self, videos: Iterable[str | Path], cache: FeatureCache,
            progress: Callable[[int], None] | None = None) -> ExtractionReport:
        """Extract every video not yet in `cache`. Unreadable videos are reported, not raised."""
        report, todo = ExtractionReport(), []
        for video in map(str, videos):
            (report.reused if cache.has(video) else todo).append(video)
        if progress and report.reused:
            progress(len(report.reused))
        chunks: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        worker = threading.Thread(target=self.produce, args=(todo, chunks, stop), daemon=True)
        start, parts = time.perf_counter(), []
        worker.start()
        try:
            while (chunk := chunks.get()) is not None:
                if chunk.error is None:
                    parts.append(self.encode(chunk.frames))
                    report.frames += len(chunk.frames)
                if chunk.last:
                    self.finish_video(chunk, parts, cache, report)
                    parts = []
                    if progress:
                        progress(1)
        finally:
            stop.set()
            report.seconds = time.perf_counter() - start
        return report

    def finish_video(self, chunk: Chunk, parts: list, cache: FeatureCache,
                     report: ExtractionReport) -> None:
        if chunk.error is not None:
            report.failed[chunk.video] = chunk.error
            return
        features = np.concatenate(parts)
        if not np.isfinite(features).all():
            report.failed[chunk.video] = "backbone produced NaN/Inf features"
            return
        cache.save(chunk.video, features)
        report.extracted.append(chunk.video)


def cache_key(backbone: Backbone, preprocess: Preprocess, sample_fps: float) -> dict:
    """Everything the cached features depend on."""
    from .backbone import get_spec
    return {"backbone": backbone.name, "weights": get_spec(backbone.name).weights,
            "pooling": backbone.pooling, "grid": backbone.grid if backbone.pooling == "grid" else None,
            "preprocess": preprocess.to_dict(), "sample_fps": float(sample_fps)}
