"""Synthetic videos for tests and the demo: written with OpenCV, no downloads.

The demo dataset has six actions in three time-reversed pairs (`shrink` is `grow`
played backwards, and so on), so a single frame never tells a pair apart: only the
order of frames does. Each UCF-style group is one "scene" (a background texture
shared by every clip of that group), so a group-aware split tests generalisation to
unseen scenes, as UCF101's official splits do.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import shutil
import zlib
from functools import partial
from pathlib import Path
from typing import Callable, Iterator, Sequence

import cv2
import numpy as np

from .files import write_text_atomic
from .video_io import write_video  # noqa: F401  (tests and scripts import it from here)

DEMO_CLASSES = ("grow", "shrink", "slide_left", "slide_right", "turn_clockwise", "turn_anticlockwise")
SHAPES = ("circle", "square", "triangle")
# Classes told apart by appearance alone: every clip drifts the same random way.
APPEARANCE_CLASSES = ("circle", "square", "triangle")

# action -> (motion it is drawn with, played backwards?)
_DRAWN_AS = {
    "grow": ("grow", False),
    "shrink": ("grow", True),
    "slide_left": ("slide_left", False),
    "slide_right": ("slide_left", True),
    "turn_clockwise": ("turn_clockwise", False),
    "turn_anticlockwise": ("turn_clockwise", True),
    **{shape: (f"wander_{shape}", False) for shape in APPEARANCE_CLASSES},
}
_CIRCLE = np.stack([np.cos(np.linspace(0, 2 * np.pi, 48, endpoint=False)),
                    np.sin(np.linspace(0, 2 * np.pi, 48, endpoint=False))], axis=1)
_UNIT_SHAPES = {
    "circle": _CIRCLE,
    "square": np.array([[-1.0, -1.0], [1.0, -1.0], [1.0, 1.0], [-1.0, 1.0]]) * 0.85,
    "triangle": np.array([[math.cos(a), math.sin(a)] for a in np.radians([-90, 30, 150])]),
}
_OUTLINE = (20, 20, 20)
_SUBPIXEL_BITS = 4
_DEMO_FORMAT = 1  # bump when the generator changes, so old demo datasets are rewritten


# ---------------------------------------------------------------- demo clips

def render_clip(action: str, rng: np.random.Generator, size: tuple[int, int] = (112, 112),
                num_frames: int = 40, background: np.ndarray | None = None) -> np.ndarray:
    """One clip of a demo action: `(T, H, W, 3)` uint8 RGB, `size` = `(H, W)`.

    A filled shape (or, for turns, a bar with a dot at its tip) moves over
    `background` (`(H, W, 3)` uint8; a fresh `group_background` when omitted), with
    mild per-frame noise. The reversed action of a pair draws the same clip from the
    same `rng` state and plays it backwards.
    """
    if action not in _DRAWN_AS:
        raise ValueError(f"unknown action {action!r}; choose one of: {', '.join(_DRAWN_AS)}")
    height, width = size
    if num_frames < 1:
        raise ValueError(f"num_frames must be positive, got {num_frames}")
    if background is None:
        background = group_background(rng, size)
    elif background.shape != (height, width, 3) or background.dtype != np.uint8:
        raise ValueError(f"background must be ({height}, {width}, 3) uint8, got "
                         f"{background.shape} {background.dtype}")
    motion, backwards = _DRAWN_AS[action]
    polygons = _MOTIONS[motion](rng, height, width, num_frames)
    frames = _draw_frames(background, polygons, _vivid_colour(rng), rng)
    return np.ascontiguousarray(frames[::-1]) if backwards else frames


def render_performance(action: str, seconds: float, fps: float = 30.0, size: tuple[int, int] = (120, 160),
                       scene: int = 0, seed: int = 0, repeat_seconds: float = 1.5) -> Iterator[np.ndarray]:
    """A person performing `action` again and again in front of one camera: the frames
    `(H, W, 3)` uint8 RGB of `seconds` of video over one background (`scene`: the room),
    each repetition `repeat_seconds` long with its own random shape, colour and speed
    (drawn from `seed`). `action="none"`: the empty room. A stand-in for a webcam
    session (`actionrec record` reads it as its source)."""
    total = round(seconds * fps)
    per_repeat = max(2, round(repeat_seconds * fps))
    background = group_background(np.random.default_rng([scene, 7]), size)
    if action == "none":
        rng = np.random.default_rng([scene, seed])
        for _ in range(total):
            yield _draw_frames(background, [[]], (0, 0, 0), rng)[0]
        return
    done, repeat = 0, 0
    while done < total:
        rng = np.random.default_rng([seed, zlib.crc32(action.encode()), repeat])
        for frame in render_clip(action, rng, size, per_repeat, background)[: total - done]:
            yield frame
        done, repeat = min(total, done + per_repeat), repeat + 1


def group_background(rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """A scene: muted colour gradient + low-frequency blotches + fixed grain, `(H, W, 3)` uint8."""
    height, width = size
    colours = rng.uniform(60, 190, size=(2, 3))
    colours = 0.5 * colours + 0.5 * colours.mean(axis=1, keepdims=True)  # desaturate
    angle = rng.uniform(0, 2 * np.pi)
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    ramp = xs / max(width - 1, 1) * math.cos(angle) + ys / max(height - 1, 1) * math.sin(angle)
    ramp = (ramp - ramp.min()) / max(float(np.ptp(ramp)), 1e-6)
    image = colours[0] + (colours[1] - colours[0]) * ramp[..., None]
    blotches = rng.normal(0, 18, size=(4, 4, 3)).astype(np.float32)
    image += cv2.resize(blotches, (width, height), interpolation=cv2.INTER_CUBIC)
    image += rng.normal(0, 5, size=(height, width, 1))
    return np.clip(image, 0, 255).astype(np.uint8)


def _progress(rng: np.random.Generator, num_frames: int) -> np.ndarray:
    """Motion progress 0 -> 1 per frame, moving between random start and end frames (random speed)."""
    start, end = rng.uniform(0.0, 0.2), rng.uniform(0.8, 1.0)
    t = np.linspace(0.0, 1.0, num_frames)
    return np.clip((t - start) / (end - start), 0.0, 1.0)


def _place(points: np.ndarray, cx: float, cy: float, scale: float, angle: float) -> np.ndarray:
    """Scale, rotate (clockwise on screen for a positive angle) and move `(N, 2)` points."""
    c, s = math.cos(angle), math.sin(angle)
    return points @ np.array([[c, s], [-s, c]]) * scale + (cx, cy)


def _grow_polygons(rng: np.random.Generator, height: int, width: int, num_frames: int):
    """A shape growing about its centre from ~10% to ~40% of the frame in radius."""
    side = min(height, width)
    unit = _UNIT_SHAPES[SHAPES[rng.integers(len(SHAPES))]]
    cx, cy = rng.uniform(0.4, 0.6) * width, rng.uniform(0.4, 0.6) * height
    r0, r1 = rng.uniform(0.08, 0.13) * side, rng.uniform(0.33, 0.42) * side
    angle = rng.uniform(0, 2 * np.pi)
    return [[_place(unit, cx, cy, r0 + (r1 - r0) * k, angle)] for k in _progress(rng, num_frames)]


def _slide_left_polygons(rng: np.random.Generator, height: int, width: int, num_frames: int):
    """A shape crossing about half the frame from right to left."""
    side = min(height, width)
    unit = _UNIT_SHAPES[SHAPES[rng.integers(len(SHAPES))]]
    radius = rng.uniform(0.12, 0.18) * side
    x0, x1 = rng.uniform(0.72, 0.82) * width, rng.uniform(0.18, 0.28) * width
    y = rng.uniform(0.3, 0.7) * height
    angle = rng.uniform(0, 2 * np.pi)
    return [[_place(unit, x0 + (x1 - x0) * k, y, radius, angle)] for k in _progress(rng, num_frames)]


def _turn_clockwise_polygons(rng: np.random.Generator, height: int, width: int, num_frames: int):
    """A bar with a dot at its tip sweeping 180-270 degrees clockwise about the frame centre."""
    side = min(height, width)
    px, py = width * rng.uniform(0.45, 0.55), height * rng.uniform(0.45, 0.55)
    length, half_width = rng.uniform(0.3, 0.38) * side, rng.uniform(0.035, 0.05) * side
    dot = rng.uniform(0.08, 0.11) * side
    bar = np.array([[-0.15 * length, -half_width], [length, -half_width],
                    [length, half_width], [-0.15 * length, half_width]])
    start, sweep = rng.uniform(0, 2 * np.pi), math.radians(rng.uniform(180, 270))
    frames = []
    for k in _progress(rng, num_frames):
        a = start + sweep * k
        tip = (px + length * math.cos(a), py + length * math.sin(a))
        frames.append([_place(bar, px, py, 1.0, a), _place(_CIRCLE, *tip, dot, 0.0)])
    return frames


def _wander_polygons(rng: np.random.Generator, height: int, width: int, num_frames: int,
                     shape: str = "circle"):
    """A shape of fixed kind drifting a short way in a random direction."""
    side = min(height, width)
    radius = rng.uniform(0.14, 0.2) * side
    x0, y0 = rng.uniform(0.35, 0.65) * width, rng.uniform(0.35, 0.65) * height
    heading, dist = rng.uniform(0, 2 * np.pi), rng.uniform(0.05, 0.15) * side
    angle = rng.uniform(0, 2 * np.pi)
    return [[_place(_UNIT_SHAPES[shape], x0 + dist * k * math.cos(heading),
                    y0 + dist * k * math.sin(heading), radius, angle)] for k in _progress(rng, num_frames)]


_MOTIONS: dict[str, Callable[..., list[list[np.ndarray]]]] = {
    "grow": _grow_polygons,
    "slide_left": _slide_left_polygons,
    "turn_clockwise": _turn_clockwise_polygons,
    **{f"wander_{shape}": partial(_wander_polygons, shape=shape) for shape in APPEARANCE_CLASSES},
}


def _vivid_colour(rng: np.random.Generator) -> tuple[int, int, int]:
    hsv = np.array([[[rng.integers(0, 180), rng.integers(180, 256), rng.integers(210, 256)]]],
                   dtype=np.uint8)
    return tuple(int(v) for v in cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[0, 0])


def _draw_frames(background: np.ndarray, polygons: list[list[np.ndarray]],
                 colour: tuple[int, int, int], rng: np.random.Generator, noise: int = 4) -> np.ndarray:
    """Anti-aliased filled, outlined polygons per frame over `background`, plus grey noise."""
    frames = np.repeat(background[None], len(polygons), axis=0)
    for frame, frame_polygons in zip(frames, polygons):
        for polygon in frame_polygons:
            points = np.round(polygon * (1 << _SUBPIXEL_BITS)).astype(np.int32)[None]
            cv2.fillPoly(frame, points, colour, cv2.LINE_AA, _SUBPIXEL_BITS)
            cv2.polylines(frame, points, True, _OUTLINE, 1, cv2.LINE_AA, _SUBPIXEL_BITS)
    jitter = rng.integers(-noise, noise + 1, size=frames.shape[:3] + (1,), dtype=np.int16)
    return np.clip(frames.astype(np.int16) + jitter, 0, 255).astype(np.uint8)


# ---------------------------------------------------------------- demo dataset

def make_ucf_dataset(root: str | Path, classes: Sequence[str] = DEMO_CLASSES, groups: int = 6,
                     clips_per_group: int = 3, fps: float = 25, num_frames: int = 40,
                     size: tuple[int, int] = (112, 112), seed: int = 0,
                     test_groups: int = 2) -> Path:
    """Write the demo dataset in UCF101's layout and return `root`.

    Videos are `root/<Class>/v_<Class>_gNN_cMM.avi` (MJPG); `root/ucfTrainTestlist/`
    holds `classInd.txt`, `trainlist01.txt` and `testlist01.txt`, with groups
    1..`test_groups` in test. Deterministic for a seed. If `root/.complete` holds the
    hash of these arguments the dataset is complete and nothing is written; otherwise
    everything is (re)written and the marker comes last. Class folders an earlier call
    wrote for other classes are removed (only when they hold nothing but its videos).
    """
    root = Path(root)
    classes = list(classes)
    _check_demo_args(classes, groups, clips_per_group, num_frames, size, test_groups)
    args = dict(classes=classes, groups=groups, clips_per_group=clips_per_group, fps=fps,
                num_frames=num_frames, size=list(size), seed=seed, test_groups=test_groups,
                format=_DEMO_FORMAT)
    digest = hashlib.sha256(json.dumps(args, sort_keys=True).encode()).hexdigest()
    marker = root / ".complete"
    if marker.is_file() and marker.read_text().strip() == digest:
        return root
    marker.unlink(missing_ok=True)
    _remove_stale_classes(root, classes)
    for group in range(1, groups + 1):
        background = group_background(np.random.default_rng([seed, group]), size)
        for name in classes:
            for clip in range(1, clips_per_group + 1):
                rng = np.random.default_rng([seed, zlib.crc32(name.encode()), group, clip])
                frames = render_clip(name, rng, size, num_frames, background)
                write_video(root / name / _ucf_video_name(name, group, clip), frames, fps)
    _write_ucf_lists(root, classes, groups, clips_per_group, test_groups)
    write_text_atomic(marker, digest + "\n")
    return root


def _remove_stale_classes(root: Path, classes: list[str]) -> None:
    """Delete class folders an earlier call wrote for classes no longer asked for (their
    `classInd.txt` entry is gone, and a class folder missing from it is an error). Only
    folders holding nothing but this generator's videos are touched."""
    if not root.is_dir():
        return
    for folder in root.iterdir():
        if not folder.is_dir() or folder.name in classes or folder.name == "ucfTrainTestlist":
            continue
        pattern = re.compile(rf"v_{re.escape(folder.name)}_g\d+_c\d+\.avi")
        files = list(folder.iterdir())
        if files and all(f.is_file() and pattern.fullmatch(f.name) for f in files):
            shutil.rmtree(folder)


def _check_demo_args(classes: list[str], groups: int, clips_per_group: int, num_frames: int,
                     size: tuple[int, int], test_groups: int) -> None:
    unknown = [c for c in classes if c not in _DRAWN_AS]
    if unknown or not classes or len(set(classes)) != len(classes):
        raise ValueError(f"classes must be distinct names from {', '.join(DEMO_CLASSES)}; "
                         f"got {classes}")
    if not 1 <= test_groups < groups:
        raise ValueError(f"test_groups must be in 1..groups-1 ({groups - 1}), got {test_groups}")
    if clips_per_group < 1 or num_frames < 2:
        raise ValueError(f"clips_per_group must be >= 1 and num_frames >= 2, got "
                         f"{clips_per_group} and {num_frames}")
    if len(size) != 2 or min(size) < 16:
        raise ValueError(f"size must be (height, width), each >= 16, got {size}")


def _ucf_video_name(name: str, group: int, clip: int) -> str:
    return f"v_{name}_g{group:02d}_c{clip:02d}.avi"


def _write_ucf_lists(root: Path, classes: list[str], groups: int, clips_per_group: int,
                     test_groups: int) -> None:
    """classInd.txt, trainlist01.txt and testlist01.txt in UCF101's exact line formats."""
    lists = root / "ucfTrainTestlist"
    train, test = [], []
    for index, name in enumerate(classes, start=1):
        for group in range(1, groups + 1):
            for clip in range(1, clips_per_group + 1):
                rel = f"{name}/{_ucf_video_name(name, group, clip)}"
                if group <= test_groups:
                    test.append(rel)
                else:
                    train.append(f"{rel} {index}")
    class_ind = [f"{i} {name}" for i, name in enumerate(classes, start=1)]
    for file_name, lines in (("classInd.txt", class_ind), ("trainlist01.txt", train),
                             ("testlist01.txt", test)):
        write_text_atomic(lists / file_name, "\n".join(lines) + "\n")


# ---------------------------------------------------------------- untrained bundles

def random_head_bundle(path: str | Path, class_names: Sequence[str] = DEMO_CLASSES, crop_size: int = 224,
                       resize_mode: str = "center_crop", clip_steps: int = 16, hidden_size: int = 128,
                       num_layers: int = 2, cell_dim: int = 64, seed: int = 0, motion: bool = False,
                       stream_stride: int = 1, pose: bool = False, heads: int = 1, pose_hold: int = 0,
                       pose_clip: float = 0.0, pose_alone: bool = False, pose_track: bool = False,
                       pose_version: int | None = None, pose_horizontal: bool = True) -> Path:
    """A real bundle (pretrained MobileNetV2, 3x3 grid, with the flow stream if `motion`, the
    pose stream if `pose`: channels of `pose_version` (the current one by default), tracking
    the person with `pose_track`, holding a lost person's pose for `pose_hold` steps and
    clipping its standardised channels at `pose_clip`, not reading the landmarks' sideways
    offsets without `pose_horizontal`; with `pose_alone`, the pose's weight 1, as the
    `personal` preset trains it) with an untrained head (`heads` of them: an
    ensemble): exercises every inference path (tests, benchmarks) without training. Labels
    are arbitrary."""
    import torch

    from .bundle import save_bundle
    from .config import MotionConfig
    from .features import motion_channels
    from .model import LSTMHead
    from .motion import flow_spec
    from .pose import FEATURES_VERSION, PoseSpec
    from .transforms import Preprocess
    m = MotionConfig()      # the default's flow, on the 3x3 grid
    flow = flow_spec(m.stream, m.size, m.preset, "grid", 3, m.colour, m.camera) if motion else None
    body = PoseSpec(grid=3, version=pose_version or FEATURES_VERSION, hold=pose_hold,
                    track=pose_track) if pose else None
    extra = motion_channels(flow, body)
    head = {"in_dim": 1280, "num_classes": len(class_names), "num_cells": 9, "hidden_size": hidden_size,
            "num_layers": num_layers, "dropout": 0.0, "input_dropout": 0.0, "output_dropout": 0.0,
            "cell_dim": cell_dim, "deltas": False, "motion_dim": extra,
            "skip": bool(extra), "readout": "mean" if extra else "last", "fusion": "late",
            "pose_dim": body.channels if body else 0, **({"pose_clip": pose_clip} if pose_clip else {}),
            **({} if pose_horizontal else {"pose_horizontal": False})}
    preprocess = Preprocess.for_backbone("mobilenet_v2", crop_size=crop_size, mode=resize_mode)
    meta = {"backbone": {"name": "mobilenet_v2", "weights": "MobileNet_V2_Weights.IMAGENET1K_V1",
                         "pooling": "grid", "grid": 3, "out_dim": 1280},
            "motion": flow.to_meta() if flow else None, "pose": body.to_meta() if body else None,
            "preprocess": preprocess.to_dict(),
            "sampling": {"fps": 8.0, "clip_steps": clip_steps, "train_mode": "segments", "stride": 1,
                         "eval_clips": 1, "stream_stride": stream_stride},
            "head": head, "class_names": list(class_names), "data": {}, "training": {}}
    models = []
    for i in range(heads):
        torch.manual_seed(seed + i)
        model = LSTMHead(**head).eval()
        if extra:   # a skip path and standardisation that are not the identity, so both are exercised
            with torch.no_grad():
                model.skip.weight.normal_(std=0.05)
                model.fusion_weight.fill_(0.0 if pose_alone else 0.3)
                if pose_alone:
                    model.pose_weight.fill_(1.0)
                model.set_standardization(torch.full((1280 + extra,), 0.1), torch.full((1280 + extra,), 2.0))
        models.append(model)
    return save_bundle(path, models, None, meta)
