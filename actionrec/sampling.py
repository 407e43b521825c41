"""Frame-index arithmetic: which frames of a video a clip uses. No decoding here.

Two levels of indices:

* the *timeline* of a video: source-frame indices taken at a fixed sampling rate
  (`sample_fps`), so a 25 fps and a 30 fps video of the same action give timelines
  with the same number of steps per second;
* *clips*: `clip_steps` positions on that timeline, chosen per training sample or
  for evaluation. The feature cache stores one feature per timeline step, so clips
  index cached features directly.

A timeline shorter than a clip is padded by repeating its last step (the action is
held on its final frame), never by failing.
"""

from __future__ import annotations

import math

import numpy as np

TRAIN_MODES = ("segments", "strided")


def timeline_indices(num_frames: int, src_fps: float, sample_fps: float | None) -> np.ndarray:
    """Source-frame indices at times `k / sample_fps` covering the whole video.

    Each step takes the first frame at or after its time, the rule a live stream can
    follow without looking ahead (see `streaming.FrameGate`), so offline and
    streaming inference see the same frames. Returns `(N,)` int64, increasing, all
    in `[0, num_frames)`. With `sample_fps` unset or not below `src_fps`, every frame
    is used.
    """
    if num_frames <= 0:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if not sample_fps or sample_fps >= src_fps:
        return np.arange(num_frames, dtype=np.int64)
    steps = math.ceil((num_frames - 1) / src_fps * sample_fps + 1e-9)
    times = np.arange(steps + 1, dtype=np.float64) / sample_fps
    idx = np.ceil(times * src_fps - 1e-6).astype(np.int64)
    return idx[idx < num_frames]


def pad_indices(indices: np.ndarray, length: int) -> np.ndarray:
    """Pad `indices` to `length` by repeating the last one (a short video holds its end)."""
    if len(indices) >= length:
        return indices
    return np.concatenate([indices, np.full(length - len(indices), indices[-1], dtype=indices.dtype)])


def segment_indices(num_steps: int, clip_steps: int, rng: np.random.Generator | None = None,
                    offset: float = 0.5) -> np.ndarray:
    """TSN sampling: split the timeline into `clip_steps` equal segments, one step from each.

    With `rng`, the step within each segment is random (training); without it, it sits
    at fraction `offset` of the segment (evaluation). Returns `(clip_steps,)` int64.
    """
    if num_steps < clip_steps:
        return pad_indices(np.arange(num_steps, dtype=np.int64), clip_steps)
    edges = np.linspace(0, num_steps, clip_steps + 1)
    starts, lengths = edges[:-1], np.diff(edges)
    frac = rng.random(clip_steps) if rng is not None else np.full(clip_steps, offset)
    picks = np.floor(starts + frac * lengths).astype(np.int64)
    return np.clip(picks, 0, num_steps - 1)


def strided_indices(num_steps: int, clip_steps: int, stride: int = 1,
                    rng: np.random.Generator | None = None, offset: float = 0.5) -> np.ndarray:
    """A window of `clip_steps` steps, `stride` apart, starting at a random step
    (`rng`) or at fraction `offset` of the room left. Returns `(clip_steps,)` int64."""
    span = (clip_steps - 1) * stride + 1
    if num_steps < span:
        picks = np.arange(0, num_steps, stride, dtype=np.int64)[:clip_steps]
        return pad_indices(picks, clip_steps)
    room = num_steps - span
    start = int(rng.integers(0, room + 1)) if rng is not None else int(round(offset * room))
    return start + stride * np.arange(clip_steps, dtype=np.int64)


def random_span(num_steps: int, min_fraction: float, rng: np.random.Generator) -> tuple[int, int]:
    """A random stretch of the timeline, `(start, length)`, at least `min_fraction` of it
    (and at least one step) long: a temporal crop. With `min_fraction` 1: `(0, num_steps)`."""
    if min_fraction >= 1.0:
        return 0, num_steps
    shortest = max(1, math.ceil(min_fraction * num_steps))
    length = int(rng.integers(shortest, num_steps + 1))
    return int(rng.integers(0, num_steps - length + 1)), length


def train_clip(num_steps: int, clip_steps: int, mode: str, rng: np.random.Generator,
               stride: int = 1, min_span: float = 1.0) -> np.ndarray:
    """One random training clip on a timeline of `num_steps`, drawn from a random stretch
    of at least `min_span` of it (`random_span`). `(clip_steps,)` int64."""
    check_mode(mode)
    start, length = random_span(num_steps, min_span, rng)
    if mode == "segments":
        return start + segment_indices(length, clip_steps, rng)
    return start + strided_indices(length, clip_steps, stride, rng)


def eval_clips(num_steps: int, clip_steps: int, mode: str, num_clips: int = 1,
               stride: int = 1) -> np.ndarray:
    """`num_clips` deterministic, evenly spread clips. `(num_clips, clip_steps)` int64.

    Clip scores of one video are averaged for video-level accuracy.
    """
    check_mode(mode)
    offsets = (np.arange(num_clips) + 0.5) / num_clips
    if mode == "segments":
        return np.stack([segment_indices(num_steps, clip_steps, offset=o) for o in offsets])
    return np.stack([strided_indices(num_steps, clip_steps, stride, offset=o) for o in offsets])


def check_mode(mode: str) -> None:
    if mode not in TRAIN_MODES:
        raise ValueError(f"unknown sampling mode {mode!r}; choose one of {', '.join(TRAIN_MODES)}")
