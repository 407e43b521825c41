"""The feature cache: decode each video once, run the frozen backbone once, keep the result.

Because the backbone never changes during training, the per-frame features of a
video depend only on (video file, backbone, preprocessing, pooling, sampling rate).
They are stored as one `.npy` per video, `(N, S, D)` float16 (N timeline steps at
`sample_fps`, S cells, D channels), under a folder named by the hash of that key,
so changing any part of the key starts a fresh folder and never serves stale
features. A video's entry is keyed by its resolved path, size and modification
time: an edited video is extracted again. Entries are written to a temporary name
and renamed, so an interrupted run leaves no half entry and resumes where it stopped.
An entry is checked before it is reused (a `.npy` array, never unpickled, `(N, S, D)`
float16, all finite): one that fails, from bit rot, an old bug or a planted file, is
named in a warning and extracted again.
"""

from __future__ import annotations

import hashlib
import json
import math
import queue
import threading
import time
import warnings
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

import numpy as np
import torch

from .backbone import Backbone
from .errors import VideoReadError, failure_reason
from .files import atomic_path
from .motion import FlowEncoder, FlowSpec
from .pose import PoseEncoder, PoseSpec
from .sampling import timeline_indices
from .transforms import Preprocess
from .video_io import check_video_file, open_video

CACHE_FORMAT = 1
DECODE_CHUNK = 128   # timeline steps decoded at once: bounds memory on long videos
DECODE_BUDGET = 32 * 2**20    # ... and at most this many bytes of decoded frames (1080p: 5, 4K: 1)
MAX_PARALLEL_VIDEOS = 4       # `backbone.parallel_videos: auto` uses one per core, up to this
_EXPORT_LOCK = threading.Lock()   # one ONNX export at a time, even when several encoders start together


def atomic_write_bytes(path: Path, data: bytes) -> None:
    with atomic_path(path) as tmp:
        tmp.write_bytes(data)


class FeatureCache:
    """On-disk store of per-video features for one extraction key."""

    def __init__(self, root: str | Path, key: dict):
        self.key = {"format": CACHE_FORMAT, **key}
        digest = hashlib.sha256(json.dumps(self.key, sort_keys=True).encode()).hexdigest()[:16]
        self.dir = Path(root) / f"{key.get('backbone', 'features')}-{digest}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.planned: dict[str, Path] = {}   # video -> its entry when its extraction was planned
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

    def problem(self, video: str | Path) -> str | None:
        """Why the entry of `video` cannot be used, or None when it can: it must load as a
        plain `.npy` array (no pickle), be `(N, S, D)` float16 with N >= 1, and be finite."""
        try:
            feats = np.load(self.entry(video), allow_pickle=False)
        except (OSError, ValueError, EOFError) as exc:  # truncated, garbage, object array
            return f"unreadable: {exc}"
        if not isinstance(feats, np.ndarray):  # an .npz archive
            feats.close()
            return "not a .npy array"
        if feats.dtype != np.float16 or feats.ndim != 3 or len(feats) == 0:
            return f"not (N, S, D) float16 features: {feats.shape} {feats.dtype}"
        if not np.isfinite(feats).all():
            return "contains NaN or Inf"
        return None

    def discard(self, video: str | Path) -> None:
        self.entry(video).unlink(missing_ok=True)

    def load(self, video: str | Path) -> np.ndarray:
        """`(N, S, D)` float16, memory-mapped (cheap to open, read on demand)."""
        return np.load(self.entry(video), mmap_mode="r", allow_pickle=False)

    def load_item(self, item) -> np.ndarray:
        """A `datasets.VideoItem`'s features: its video's, or for a segment the steps of
        its video's timeline within `[start, end)` (`segment_steps`)."""
        feats = self.load(item.path)
        if item.start is None:
            return feats
        return feats[segment_steps(len(feats), self.key["sample_fps"], item.start, item.end)]

    def save(self, video: str | Path, features: np.ndarray) -> None:
        """Store `features` under the video's entry. Raises OSError, storing nothing, when
        the file is gone or has been rewritten since its extraction was planned: they are
        the features of a file that is no longer there."""
        entry = self.entry(video)
        if self.planned.pop(str(video), entry) != entry:
            raise OSError(f"{video} was rewritten while its features were extracted")
        with atomic_path(entry, ".npy") as tmp:
            np.save(tmp, features.astype(np.float16), allow_pickle=False)


class TorchEncoder:
    """Backbone in PyTorch: `(N, H, W, 3)` uint8 numpy -> `(N, S, D)` float32 numpy.

    On a GPU, convolutions run in full float32, not TF32: a head trained on GPU features
    is used on CPU features (ONNX Runtime, the live loop), so the two must agree (with
    TF32 on an H200 they differed by up to 1.5e-2)."""

    def __init__(self, backbone: Backbone, device: str | torch.device = "cpu"):
        self.backbone = backbone.to(device)
        self.device = torch.device(device)

    @torch.inference_mode()
    def __call__(self, frames: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(frames)).to(self.device)
        cudnn = torch.backends.cudnn
        with cudnn.flags(enabled=cudnn.enabled, benchmark=cudnn.benchmark, deterministic=cudnn.deterministic,
                         allow_tf32=False):
            return self.backbone.forward_frames(x).float().cpu().numpy()


RUNTIMES = ("auto", "torch", "onnx")
ONNX_TOLERANCE = 1e-3     # max abs difference from PyTorch accepted for an exported trunk
ONNX_BATCH = 2            # frames per ONNX Runtime call: a batch's activations stay in cache. Two
                          # single-threaded lanes extract 2-4% faster than with 4 (docs/performance.md);
                          # one session on 2 threads runs level from 2 to 8, slower at 1


class FramesModule(torch.nn.Module):
    """`Backbone.forward_frames` as a module's forward, for export."""

    def __init__(self, backbone: Backbone):
        super().__init__()
        self.backbone = backbone

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        return self.backbone.forward_frames(frames)


class OnnxEncoder:
    """The whole backbone (normalise, trunk, pool) under ONNX Runtime: the CPU fast path.

    Exported once per (backbone, weights, pooling, input size) to `weights/onnx/`
    (written atomically), checked against PyTorch on a random batch, and reused by
    every later run. `(N, H, W, 3)` uint8 numpy -> `(N, S, D)` float32 numpy.
    """

    def __init__(self, backbone: Backbone, model_dir: str | Path | None = None,
                 threads: int | None = None, fallback: bool = False):
        import onnxruntime  # noqa: F401  (fail here, not at the first frame)
        from .weights import PROJECT_WEIGHTS_DIR
        self.backbone = backbone
        self.model_dir = Path(model_dir or PROJECT_WEIGHTS_DIR / "onnx")
        self.threads = threads or torch.get_num_threads()
        self.sessions: dict[tuple[int, int], object] = {}
        self.max_abs_diff: float | None = None
        self.fallback = TorchEncoder(backbone) if fallback else None
        self.failed = False

    def model_path(self, height: int, width: int) -> Path:
        from .backbone import get_spec
        b = self.backbone
        weights = get_spec(b.name).weights.rsplit(".", 1)[-1]
        pooling = "global" if b.pooling == "global" else f"grid{b.grid}"
        return self.model_dir / f"{b.name}-{weights}-{pooling}-{height}x{width}.onnx"

    def session(self, height: int, width: int):
        if (height, width) not in self.sessions:
            path = self.model_path(height, width)
            with _EXPORT_LOCK:
                if not path.is_file():
                    self.export(path, height, width)
            self.sessions[(height, width)] = self.open(path)
            self.max_abs_diff = self.check(height, width)
        return self.sessions[(height, width)]

    def export(self, path: Path, height: int, width: int) -> None:
        example = torch.zeros(2, height, width, 3, dtype=torch.uint8)
        with warnings.catch_warnings(), atomic_path(path, ".onnx") as tmp:
            warnings.simplefilter("ignore")
            torch.onnx.export(FramesModule(self.backbone), (example,), str(tmp), input_names=["frames"],
                              output_names=["features"], opset_version=17, dynamo=False,
                              dynamic_axes={"frames": {0: "n"}, "features": {0: "n"}})

    def open(self, path: Path):
        import onnxruntime as ort
        options = ort.SessionOptions()
        options.intra_op_num_threads = self.threads
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # idle workers sleep instead of spinning: on a 2-core machine spinning threads
        # starve the decode and capture threads (live p95 latency 66 ms -> ~40 ms)
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def check(self, height: int, width: int) -> float:
        """Max abs difference from PyTorch on a random batch; raise if it is too large."""
        frames = torch.randint(0, 256, (2, height, width, 3), dtype=torch.uint8,
                               generator=torch.Generator().manual_seed(0)).numpy()
        with torch.inference_mode():
            expected = self.backbone.forward_frames(torch.from_numpy(frames)).numpy()
        diff = float(np.abs(self(frames) - expected).max())
        if diff > ONNX_TOLERANCE:
            raise RuntimeError(f"ONNX trunk {self.model_path(height, width)} differs from PyTorch by "
                               f"{diff:.2e} (> {ONNX_TOLERANCE}); delete it to export again")
        return diff

    def split(self, count: int) -> list["OnnxEncoder"]:
        """`count` encoders that run side by side on this one's threads, each with its own
        sessions (for extracting several videos at once)."""
        threads = max(1, self.threads // count)
        return [OnnxEncoder(self.backbone, self.model_dir, threads, self.fallback is not None)
                for _ in range(count)]

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        if self.failed:
            return self.fallback(frames)
        try:
            session = self.session(frames.shape[1], frames.shape[2])
        except Exception as exc:   # export or check failed: PyTorch still works
            if self.fallback is None:
                raise
            warnings.warn(f"ONNX Runtime unavailable for {self.backbone.name} ({exc}); using PyTorch")
            self.failed = True
            return self.fallback(frames)
        parts = [session.run(None, {"frames": np.ascontiguousarray(frames[i:i + ONNX_BATCH])})[0]
                 for i in range(0, max(len(frames), 1), ONNX_BATCH)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)


def make_encoder(backbone: Backbone, runtime: str = "auto"):
    """The frame encoder for `backbone`: `(N, H, W, 3)` uint8 -> `(N, S, D)` float32 numpy.

    `torch` runs the module (GPUs, fallback); `onnx` runs the exported trunk under
    ONNX Runtime (fastest on CPU); `auto` picks ONNX on a machine without CUDA when
    onnxruntime is installed, and falls back to PyTorch with a warning if it fails.
    """
    if runtime not in RUNTIMES:
        raise ValueError(f"unknown runtime {runtime!r}; choose one of {', '.join(RUNTIMES)}")
    if runtime == "torch" or (runtime == "auto" and torch.cuda.is_available()):
        return TorchEncoder(backbone, "cuda" if torch.cuda.is_available() else "cpu")
    try:
        return OnnxEncoder(backbone, fallback=runtime == "auto")
    except ImportError:
        if runtime == "onnx":
            raise ImportError("runtime 'onnx' needs onnxruntime: pip install onnxruntime") from None
        return TorchEncoder(backbone)


def parallel_videos(setting: int | str, encoder) -> int:
    """How many videos to extract side by side (`backbone.parallel_videos`). `auto`: one
    per core, up to `MAX_PARALLEL_VIDEOS`, on ONNX Runtime, whose single-threaded sessions
    side by side beat one session's threads when decoding and flow share the cores
    (`scripts/bench_extraction.py`); one with PyTorch (a GPU, or the fallback)."""
    if setting == "auto":
        return min(MAX_PARALLEL_VIDEOS, torch.get_num_threads()) if isinstance(encoder, OnnxEncoder) else 1
    return int(setting)


@contextmanager
def one_torch_thread(when: bool = True):
    """PyTorch on one intra-op thread for the block (`when` false: as it is), the caller's
    count given back after. For small matrices beside other busy threads: a second OpenMP
    worker that waits on a busy core slows every small step down."""
    threads = torch.get_num_threads()
    if when:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


@dataclass
class ExtractionReport:
    extracted: list[str] = field(default_factory=list)
    reused: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)   # path -> reason
    frames: int = 0
    nodes: set = field(default_factory=set)                 # the Ray nodes that worked (`--engine ray`)
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
    motion: np.ndarray | None = None   # (n, S, C) float32 flow, then pose, features (`motion_channels`)


class FeatureExtractor:
    """Decode, resize, encode and cache the timeline features of many videos.

    Decoding and resizing (and the motion stream's flow) run in a background thread,
    one chunk ahead of the backbone, so the two overlap. With `parallel_videos` > 1 and
    an encoder that can `split`, that many videos are extracted side by side, each lane
    with its own decode thread and encoder.
    """

    def __init__(self, encoder: Callable[[torch.Tensor], np.ndarray], preprocess: Preprocess,
                 sample_fps: float, batch_size: int = 32, reader: str = "auto",
                 motion: FlowSpec | None = None, parallel_videos: int = 1, pose: PoseSpec | None = None):
        if parallel_videos < 1:
            raise ValueError(f"parallel_videos must be at least 1, got {parallel_videos}")
        self.encoder, self.preprocess = encoder, preprocess
        self.sample_fps, self.batch_size, self.reader = sample_fps, batch_size, reader
        self.motion, self.pose = motion, pose
        self.parallel_videos = parallel_videos if hasattr(encoder, "split") else 1
        self._lanes: list = []

    def decode_chunks(self, video: str) -> Iterator[Chunk]:
        """Resized frames of one video's timeline, `DECODE_CHUNK` steps (and at most
        `DECODE_BUDGET` bytes of decoded frames) at a time, with their flow features when
        there is a motion stream, then their pose with a pose stream (both computed here, in
        the decode thread, beside the backbone; the pose from the frames before the resize)."""
        flow = FlowEncoder(self.motion) if self.motion is not None else None
        pose = PoseEncoder(self.pose) if self.pose is not None else None
        previous = None
        with open_video(video, self.reader, sequential=True) as reader:
            steps = timeline_indices(reader.num_frames, reader.fps, self.sample_fps)
            size = max(1, min(DECODE_CHUNK, DECODE_BUDGET // (reader.width * reader.height * 3)))
            for start in range(0, len(steps), size):
                decoded = reader.get_frames(steps[start:start + size])
                frames = self.preprocess.resize_frames(decoded)
                motion = flow(frames, previous) if flow is not None else None
                if pose is not None:
                    motion = join_streams(motion, pose(decoded))
                previous = frames[-1]
                yield Chunk(video, frames, start + size >= len(steps), motion=motion)

    def produce(self, videos: Iterable[str], out: queue.Queue, stop: threading.Event) -> None:
        """Decode `videos` into `out`, then None. A video that fails in any way becomes one
        error chunk naming it; the sentinel is always sent, so `run` never waits forever."""
        try:
            for video in videos:
                try:
                    for chunk in self.decode_chunks(video):
                        if not _put(out, chunk, stop):
                            return
                except Exception as exc:  # a bad file is reported by name, never ends the run
                    if not _put(out, Chunk(video, None, True, failure_reason(exc)), stop):
                        return
        finally:
            _put(out, None, stop)

    def encode(self, frames: np.ndarray, encoder=None) -> np.ndarray:
        """`(n, crop, crop, 3)` uint8 -> `(n, S, D)` float32, in backbone batches (with
        `encoder`, a lane's, or this extractor's own)."""
        encoder = encoder or self.encoder
        parts = [encoder(frames[i:i + self.batch_size])
                 for i in range(0, len(frames), self.batch_size)]
        return np.concatenate(parts)

    def run(self, videos: Iterable[str | Path], cache: FeatureCache,
            progress: Callable[[int], None] | None = None) -> ExtractionReport:
        """Extract every video not yet in `cache`. Unreadable videos are reported, not raised."""
        report = ExtractionReport()
        todo = self.plan(videos, cache, report)
        if progress and (report.reused or report.failed):
            progress(len(report.reused) + len(report.failed))
        lanes = self.lane_encoders(len(todo))
        start = time.perf_counter()
        try:
            if len(lanes) == 1:
                self.run_lane(lanes[0], todo, cache, report, progress, threading.Event())
            else:
                self.run_lanes(lanes, todo, cache, report, progress)
        finally:
            report.seconds = time.perf_counter() - start
        return report

    def lane_encoders(self, videos: int) -> list:
        """One encoder per lane: `parallel_videos` of them, no more than there are videos."""
        count = max(1, min(self.parallel_videos, videos))
        if count == 1:
            return [self.encoder]
        if not self._lanes:             # split once: later runs reuse the lanes' sessions
            self._lanes = self.encoder.split(self.parallel_videos)
        return self._lanes[:count]

    def run_lanes(self, lanes: list, videos: list[str], cache: FeatureCache, report: ExtractionReport,
                  progress: Callable[[int], None] | None) -> None:
        """`run_lane` in one thread per encoder, each taking the next video from a shared
        queue. An error in one lane (or an interrupt here) lets the others finish and cache
        their current video, then stop."""
        pending: queue.SimpleQueue = queue.SimpleQueue()
        for video in videos:
            pending.put(video)
        stop, lock = threading.Event(), threading.Lock()

        def next_videos() -> Iterator[str]:
            while not stop.is_set():
                try:
                    yield pending.get_nowait()
                except queue.Empty:
                    return

        def locked_progress(count: int) -> None:
            with lock:
                progress(count)

        parts = [ExtractionReport() for _ in lanes]
        pool = ThreadPoolExecutor(len(lanes), thread_name_prefix="extract")
        try:
            futures = [pool.submit(self.run_lane, encoder, next_videos(), cache, part,
                                   locked_progress if progress else None, stop)
                       for encoder, part in zip(lanes, parts)]
            wait(futures, return_when=FIRST_EXCEPTION)
            stop.set()                   # before waiting on each: a failed lane stops the others
            for future in futures:
                future.result()          # a lane's error is raised here
        finally:
            stop.set()
            pool.shutdown(wait=True)
            for part in parts:
                report.extracted += part.extracted
                report.failed.update(part.failed)
                report.frames += part.frames

    def run_lane(self, encoder, videos: Iterable[str], cache: FeatureCache, report: ExtractionReport,
                 progress: Callable[[int], None] | None, halt: threading.Event) -> None:
        """Decode `videos` in a background thread while `encoder` encodes, into `cache`;
        once `halt` is set, stop after the video being encoded."""
        chunks: queue.Queue = queue.Queue(maxsize=2)
        stop = threading.Event()
        worker = threading.Thread(target=self.produce, args=(videos, chunks, stop), daemon=True)
        parts = []
        worker.start()
        try:
            while (chunk := chunks.get()) is not None:
                if chunk.error is None:
                    parts.append(join_streams(self.encode(chunk.frames, encoder), chunk.motion))
                    report.frames += len(chunk.frames)
                if chunk.last:
                    self.finish_video(chunk, parts, cache, report)
                    parts = []
                    if progress:
                        progress(1)
                    if halt.is_set():
                        break
        finally:
            stop.set()

    @staticmethod
    def plan(videos: Iterable[str | Path], cache: FeatureCache, report: ExtractionReport) -> list[str]:
        """The videos to extract, each file once (however many paths name it). Sound cache
        entries go to `report.reused`; missing or empty files to `report.failed`; a corrupt
        entry is named in a warning, deleted and its video extracted again."""
        todo, planned = [], set()
        for video in map(str, videos):
            try:
                check_video_file(video)  # it may have gone since the dataset was listed
                cached = cache.has(video)
            except (VideoReadError, OSError) as exc:
                report.failed[video] = exc.reason if isinstance(exc, VideoReadError) else str(exc)
                continue
            if cached and (problem := cache.problem(video)) is not None:
                warnings.warn(f"{video}: cached features {cache.entry(video)} are corrupt "
                              f"({problem}); extracting them again", stacklevel=3)
                cache.discard(video)
                cached = False
            if not cached:
                entry = cache.entry(video)
                if entry in planned:             # another path to the same file: extracted once
                    continue
                planned.add(entry)
                cache.planned[video] = entry
            (report.reused if cached else todo).append(video)
        return todo

    def finish_video(self, chunk: Chunk, parts: list, cache: FeatureCache,
                     report: ExtractionReport) -> None:
        if chunk.error is not None:
            report.failed[chunk.video] = chunk.error
            return
        features = np.concatenate(parts)
        if not np.isfinite(features).all():
            report.failed[chunk.video] = "backbone produced NaN/Inf features"
            return
        try:
            cache.save(chunk.video, features)
        except OSError as exc:           # removed or rewritten while it was read; a full disk
            report.failed[chunk.video] = f"features not stored: {exc}"
            return
        report.extracted.append(chunk.video)


def _put(out: queue.Queue, item, stop: threading.Event) -> bool:
    """`out.put(item)` unless `stop` is set first (the consumer has gone); True if put."""
    while not stop.is_set():
        try:
            out.put(item, timeout=0.1)
            return True
        except queue.Full:
            pass
    return False


def join_streams(first: np.ndarray | None, second: np.ndarray | None) -> np.ndarray | None:
    """`(n, S, D)` and `(n, S, C)` features -> `(n, S, D + C)`, channel-wise: backbone then
    motion features; within the motion features, flow then pose. Either may be None."""
    if first is None or second is None:
        return second if first is None else first
    return np.concatenate([first, second], axis=-1)


def motion_channels(motion: FlowSpec | None, pose: PoseSpec | None) -> int:
    """Channels per cell after the backbone's: the flow's, then the pose's."""
    return (motion.channels if motion is not None else 0) + (pose.channels if pose is not None else 0)


def segment_steps(num_steps: int, sample_fps: float, start: float, end: float) -> slice:
    """The timeline steps (step k at `k / sample_fps` s) of a segment `[start, end)` s of a
    video with `num_steps` steps; at least one (the step nearest `start`)."""
    first = min(max(0, math.ceil(start * sample_fps - 1e-6)), num_steps - 1)
    stop = min(num_steps, math.ceil(end * sample_fps - 1e-6))
    return slice(first, max(stop, first + 1))


def cache_key(backbone: Backbone, preprocess: Preprocess, sample_fps: float,
              motion: FlowSpec | None = None, pose: PoseSpec | None = None) -> dict:
    """Everything the cached features depend on."""
    from .backbone import get_spec
    key = {"backbone": backbone.name, "weights": get_spec(backbone.name).weights,
           "pooling": backbone.pooling, "grid": backbone.grid if backbone.pooling == "grid" else None,
           "preprocess": preprocess.to_dict(), "sample_fps": float(sample_fps)}
    if motion is not None:      # keys of caches without motion are unchanged: they stay valid
        key["motion"] = {**motion.to_meta(), "channels": list(motion.channel_names)}
    if pose is not None:
        key["pose"] = pose.to_meta()
    return key
