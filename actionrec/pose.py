"""The pose stream: the body pose of the person in each timeline step, as joint angles
and limb positions relative to the body, which carry over between people, places and
cameras where the CNN's view of the scene does not.

A room beside `motion.py` with the same contract: frames in, `(N, S, P)` float32 out
(the same `P` channels in each of the backbone's `S` cells), joined after the flow
channels and read by the motion LSTM. It reads the decoded frames before the
backbone's resize, so a squashed frame does not bend the angles.

The pose is MediaPipe's BlazePose (Apache-2.0; `pose_detection.tflite` and
`pose_landmark_full.tflite`, as shipped in the `mediapipe` 0.10.14 wheel, fetched by
`actionrec fetch-weights`), run with LiteRT: the detector finds the person (its two
keypoints: the hips' centre and a point that sets the body's size and tilt), the landmark
model reads the 33 landmarks from the rotated square around them. With tracking
(`PoseSpec.track`, as MediaPipe runs it), a step after one that found a person skips the
detector: the landmark model reads the square that the last step's own two alignment
landmarks set, and the detector runs again only where it finds nobody there. A hanging
or blurred body that the detector misses keeps its landmarks, and a body the detector
would see upside down for a step keeps its way up (`docs/accuracy.md`). The encoder
steps through the timeline in order, offline as live, so streaming still equals offline.

Channels (`CHANNELS`): `present` (1 with a person, else every channel is 0); eight
joint angles (elbows, knees, hips, shoulders; from the model's 3-D landmarks, so they do
not change with the camera's angle; in units of pi: 1 straight, 0 folded);
the torso's direction (`torso_x` unsigned, `torso_y` signed: -1 upright, 1 upside
down); 13 landmarks (nose, shoulders, elbows, wrists, hips, knees, ankles)
relative to the hips' centre in torso lengths, `x` unsigned (a person facing left or
right alike); and how far each of those landmarks moved in the frame since the last
step, in torso lengths per step (`SPEED_CHANNELS`, version 4): which parts of the body
stay put and which move. A squat's feet stay where they are while its hips move, a
pull-up's hands stay on the bar: relative to the hips alone, a squat with the arms
raised to a bar and a pull-up are alike. The speeds are read against the last pose
found, so they need the steps in order, as the encoder takes them.

A limb the camera does not see (legs below the frame's edge, an arm behind the body) is
not guessed at: the landmark model still places it, often far off (ankles up by the bar
of a pull-up filmed from the waist up), with a low visibility. A landmark counts as seen
when its visibility is at least `MIN_VISIBILITY` and the joint it hangs from is seen (a
wrist needs its elbow, an ankle its knee); the position of a landmark not seen, and each
angle at or beside one, reads `UNSEEN`. The head reads `UNSEEN` as the training mean
(`LSTMHead.standardize`), so a missing limb says nothing instead of something wrong.
(Version 2 of the channels, which bundles trained before read, guesses every landmark.)
"""

from __future__ import annotations

import logging
import re
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import cv2
import numpy as np

from .errors import ConfigError, WeightsError

DETECTOR_FILE = "pose_detection.tflite"
LANDMARK_FILE = "pose_landmark_full.tflite"
MODES = ("off", "on", "auto")
MIN_SCORE = 0.5            # detector and landmark model: a person is there
AUTO_SHARE = 0.5           # `auto`: on when at least this share of sampled training videos show a person
AUTO_VIDEOS = 12
MAX_REACH = 5.0            # landmarks further from the hips than this, in torso lengths, are clipped
FEATURES_VERSION = 4       # part of the cache key and bundles: bump when `pose_features` changes
READABLE_VERSIONS = (2, 3, 4)  # bundles trained on these versions of the channels still load (2: no `UNSEEN`)
MIN_VISIBILITY = 0.5       # a landmark less visible than this (or hanging from one) is not seen
UNSEEN = -1.0e4            # a channel's value where its landmark is not seen (exact in float16)

# landmark indices (BlazePose's 33)
NOSE, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 0, 11, 12, 13, 14, 15, 16
L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE = 23, 24, 25, 26, 27, 28
KEYPOINTS = (NOSE, L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST,
             L_HIP, R_HIP, L_KNEE, R_KNEE, L_ANKLE, R_ANKLE)
JOINTS = {   # angle at the middle landmark
    "elbow_l": (L_SHOULDER, L_ELBOW, L_WRIST), "elbow_r": (R_SHOULDER, R_ELBOW, R_WRIST),
    "knee_l": (L_HIP, L_KNEE, L_ANKLE), "knee_r": (R_HIP, R_KNEE, R_ANKLE),
    "hip_l": (L_SHOULDER, L_HIP, L_KNEE), "hip_r": (R_SHOULDER, R_HIP, R_KNEE),
    "shoulder_l": (L_ELBOW, L_SHOULDER, L_HIP), "shoulder_r": (R_ELBOW, R_SHOULDER, R_HIP),
}
_NAMES = ("nose", "shoulder_l", "shoulder_r", "elbow_l", "elbow_r", "wrist_l", "wrist_r",
          "hip_l", "hip_r", "knee_l", "knee_r", "ankle_l", "ankle_r")
BODY_CHANNELS = ("present", *(f"angle_{j}" for j in JOINTS), "torso_x", "torso_y",
                 *(f"{n}_{a}" for a in "xy" for n in _NAMES))     # versions 2 and 3
SPEED_CHANNELS = tuple(f"{n}_speed" for n in _NAMES)              # version 4 adds these
CHANNELS = (*BODY_CHANNELS, *SPEED_CHANNELS)
# the landmarks' sideways offsets in the frame: they change with the way the person faces the
# camera (a squatter's knees come forward seen side-on, stay put seen head-on), while the
# vertical offsets and the joints' angles (read in 3-D) do not (`LSTMHead`'s `pose_horizontal`)
HORIZONTAL_CHANNELS = tuple(BODY_CHANNELS.index(f"{n}_x") for n in _NAMES)


def other_side(name: str) -> str:
    """A landmark's or channel's name with its side traded (`wrist_l_y` -> `wrist_r_y`);
    a name without a side (`nose_x`, `torso_y`) stays as it is."""
    return re.sub(r"(?<=_)([lr])(?=_|$)", lambda m: "r" if m.group(1) == "l" else "l", name)


TWIN = np.array([_NAMES.index(other_side(n)) for n in _NAMES])   # each of `KEYPOINTS`' other side (the nose: itself)
PARENT = {L_ELBOW: L_SHOULDER, R_ELBOW: R_SHOULDER, L_WRIST: L_ELBOW, R_WRIST: R_ELBOW,
          L_KNEE: L_HIP, R_KNEE: R_HIP, L_ANKLE: L_KNEE, R_ANKLE: R_KNEE}   # seen only if this is
ALWAYS_SEEN = (L_HIP, R_HIP)   # the origin: the detector found the hips' centre
LANDMARK_CHANNELS = {   # the channels each landmark enters: its position, and the angles it is a point of
    landmark: [CHANNELS.index(f"{name}_x"), CHANNELS.index(f"{name}_y"),
               *(CHANNELS.index(f"angle_{joint}") for joint, points in JOINTS.items() if landmark in points)]
    for landmark, name in zip(KEYPOINTS, _NAMES)}

DETECTOR_SIZE, LANDMARK_SIZE = 224, 256

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PoseSpec:
    """What the pose features depend on (part of the cache key and the bundle)."""
    grid: int = 3                  # cells per side: the backbone's grid (1 for global pooling)
    model: str = "blazepose_full"
    version: int = FEATURES_VERSION   # of the channels (`READABLE_VERSIONS`)
    hold: int = 0                  # timeline steps a step where nobody is found keeps the last pose found
    track: bool = False            # a step after one with a person reads the square its landmarks set

    @property
    def channels(self) -> int:
        return len(channel_names(self.version))

    @property
    def reads_earlier_steps(self) -> bool:
        """A step's channels depend on the steps before it: a pose held or tracked, or the
        landmarks' speeds (version 4)."""
        return self.hold > 0 or self.track or self.version >= 4

    def to_meta(self) -> dict:
        """The bundle's `pose` entry (`from_meta` reads it back); without a hold or tracking,
        as before they existed (earlier caches and bundles keep their keys)."""
        meta = {"model": self.model, "grid": self.grid, "channels": list(channel_names(self.version)),
                "version": self.version}
        if self.hold:
            meta["hold"] = self.hold
        if self.track:
            meta["track"] = True
        return meta

    @classmethod
    def from_meta(cls, meta: dict | None) -> "PoseSpec | None":
        if not meta:
            return None
        version = meta.get("version", 1)      # the first version wrote none
        if version not in READABLE_VERSIONS:
            raise ConfigError(f"pose features version {version} (the bundle's) is not one this actionrec "
                              f"reads ({', '.join(map(str, READABLE_VERSIONS))}): train the bundle again")
        if list(meta.get("channels", [])) != list(channel_names(version)):
            raise ConfigError(f"pose channels {meta.get('channels')} are not version {version}'s "
                              f"{list(channel_names(version))}")
        return cls(meta["grid"], meta["model"], version, int(meta.get("hold", 0)), bool(meta.get("track", False)))


def ssd_anchors() -> np.ndarray:
    """`(2254, 2)` anchor centres of the pose detector, in [0, 1] of its 224x224 input
    (MediaPipe's SSD anchors: strides 8, 16, 32, 32, 32; two anchors per cell, the last
    three layers sharing one 7x7 grid)."""
    centres = []
    for stride, per_cell in ((8, 2), (16, 2), (32, 6)):
        n = DETECTOR_SIZE // stride
        y, x = np.mgrid[0:n, 0:n]
        grid = np.stack([(x.ravel() + 0.5) / n, (y.ravel() + 0.5) / n], 1)
        centres.append(np.repeat(grid, per_cell, axis=0))
    return np.concatenate(centres).astype(np.float32)


def _interpreter(path: Path, threads: int):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError as exc:   # pragma: no cover - a dependency of the package
        raise ImportError("the pose stream needs LiteRT: pip install ai-edge-litert") from exc
    interpreter = Interpreter(model_path=str(path), num_threads=threads)
    interpreter.allocate_tensors()
    return interpreter


class Pose(NamedTuple):
    """One person's 33 BlazePose landmarks."""
    image: np.ndarray    # (33, 4): x, y, z in the frame's pixels (z on x's scale), visibility in [0, 1]
    world: np.ndarray    # (33, 3): metres about the hips' centre (the angles are read from these)
    alignment: np.ndarray | None = None   # (2, 2) frame pixels: hips' centre, size-and-tilt point (tracking)


class PoseEstimator:
    """One RGB frame -> its person's `Pose`, or None when no person is found. Holds its own
    interpreters: one estimator per thread."""

    def __init__(self, threads: int = 1):
        from .weights import pose_model_path
        self.detector = _interpreter(pose_model_path(DETECTOR_FILE), threads)
        self.landmarker = _interpreter(pose_model_path(LANDMARK_FILE), threads)
        self.anchors = ssd_anchors()

    @staticmethod
    def _run(interpreter, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """The model's outputs by name, for one `(H, W, 3)` float32 input."""
        interpreter.set_tensor(interpreter.get_input_details()[0]["index"], tensor[None])
        interpreter.invoke()
        return {d["name"]: interpreter.get_tensor(d["index"])[0] for d in interpreter.get_output_details()}

    def detect(self, frame: np.ndarray) -> tuple[np.ndarray, float] | None:
        """The best person's two alignment keypoints `(2, 2)` in frame pixels (hips' centre,
        size-and-tilt point) and its score; None below `MIN_SCORE`."""
        h, w = frame.shape[:2]
        scale = DETECTOR_SIZE / max(h, w)
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        pad_x, pad_y = (DETECTOR_SIZE - nw) // 2, (DETECTOR_SIZE - nh) // 2
        canvas = np.zeros((DETECTOR_SIZE, DETECTOR_SIZE, 3), np.uint8)
        canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = cv2.resize(frame, (nw, nh), interpolation=cv2.INTER_LINEAR)
        out = self._run(self.detector, canvas.astype(np.float32) / 127.5 - 1.0)
        boxes, scores = out["Identity"], out["Identity_1"]     # (2254, 12): box, 4 keypoints; (2254, 1)
        scores = 0.5 + 0.5 * np.tanh(np.clip(scores[:, 0], -100, 100) / 2)     # the sigmoid, without overflow
        best = int(np.argmax(scores))
        if scores[best] < MIN_SCORE:
            return None
        raw = boxes / DETECTOR_SIZE
        centres = raw[:, :2] + self.anchors
        same = (scores >= MIN_SCORE) & (_iou(centres, raw[:, 2:4], best) > 0.3)   # MediaPipe's weighted NMS
        weights = scores[same] / scores[same].sum()
        points = (raw[same, 4:8].reshape(-1, 2, 2) + self.anchors[same, None]) * weights[:, None, None]
        points = points.sum(0) * DETECTOR_SIZE - (pad_x, pad_y)
        return points / scale, float(scores[best])

    def __call__(self, frame: np.ndarray, alignment: np.ndarray | None = None) -> Pose | None:
        """The person in `frame`; with `alignment` (the last step's `Pose.alignment`), the
        landmarks are read where it places the body first, and the detector runs only when
        nobody is there."""
        if alignment is not None:
            pose = self.landmarks(frame, alignment)
            if pose is not None:
                return pose
        found = self.detect(frame)
        return None if found is None else self.landmarks(frame, found[0])

    def landmarks(self, frame: np.ndarray, alignment: np.ndarray) -> Pose | None:
        """The landmark model on the rotated square that `alignment` `(2, 2)` (hips' centre,
        size-and-tilt point, frame pixels) sets; None where it finds nobody."""
        hip, top = alignment
        size = 2.0 * np.linalg.norm(top - hip) * 1.25            # the body's circle, with a margin
        angle = np.pi / 2 - np.arctan2(-(top[1] - hip[1]), top[0] - hip[0])
        rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]], np.float32)
        # the crop's pixel (u, v) <- frame point hip + R @ ((u, v) / 256 - 0.5) * size
        to_frame = np.concatenate([rotation * (size / LANDMARK_SIZE),
                                   (hip - rotation @ np.full(2, size / 2))[:, None]], axis=1)
        crop = cv2.warpAffine(frame, to_frame, (LANDMARK_SIZE, LANDMARK_SIZE),
                              flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        out = self._run(self.landmarker, crop.astype(np.float32) / 255.0)
        if float(out["Identity_1"].ravel()[0]) < MIN_SCORE:       # the model's "a person is there"
            return None
        points = out["Identity"].reshape(39, 5)   # 33 body landmarks, then 6 aux: 33, 34 align the next square
        xy = points[:, :2] @ to_frame[:, :2].T + to_frame[:, 2]
        z = points[:33, 2:3] * (size / LANDMARK_SIZE)
        visibility = 0.5 + 0.5 * np.tanh(points[:33, 3:4] / 2)
        return Pose(np.concatenate([xy[:33], z, visibility], axis=1).astype(np.float32),
                    out["Identity_4"].reshape(39, 3)[:33].astype(np.float32), xy[33:35].astype(np.float32))


def _iou(centres: np.ndarray, sizes: np.ndarray, best: int) -> np.ndarray:
    lo, hi = centres - sizes / 2, centres + sizes / 2
    inter = np.clip(np.minimum(hi, hi[best]) - np.maximum(lo, lo[best]), 0, None).prod(1)
    area = sizes.prod(1)
    return inter / (area + area[best] - inter + 1e-9)


def pose_features(pose: Pose | None, version: int = FEATURES_VERSION, previous: Pose | None = None,
                  steps: int = 1) -> np.ndarray:
    """A `Pose` (or None) -> `(P,)` float32 channels of `version` (`channel_names`; see the
    module docstring): with version 2, every landmark as the model places it, seen or not;
    from version 4, each landmark's speed since `previous`, the last pose found, `steps`
    timeline steps before (None: at a video's start, the speeds read `UNSEEN`)."""
    out = np.zeros(len(channel_names(version)), np.float32)
    if pose is None:
        return out
    p, world = pose.image[:, :3].astype(np.float64), pose.world.astype(np.float64)
    hips = (p[L_HIP, :2] + p[R_HIP, :2]) / 2
    torso = (p[L_SHOULDER, :2] + p[R_SHOULDER, :2]) / 2 - hips
    widths = np.linalg.norm(p[L_SHOULDER, :2] - p[R_SHOULDER, :2]) + np.linalg.norm(p[L_HIP, :2] - p[R_HIP, :2])
    # a torso seen end-on (bent towards the camera) is short: the body's width sets the scale then
    length = max(float(np.linalg.norm(torso)), 0.5 * float(widths), 1.0)
    angles = [_angle(world[a], world[b], world[c]) for a, b, c in JOINTS.values()]
    rel = np.clip((p[list(KEYPOINTS), :2] - hips) / length, -MAX_REACH, MAX_REACH)
    out[:len(BODY_CHANNELS)] = [1.0, *angles, abs(torso[0]) / length, torso[1] / length,
                                *np.abs(rel[:, 0]), *rel[:, 1]]
    if version >= 3:
        seen = seen_landmarks(pose.image[:, 3])
        out[unseen_channels(seen)] = UNSEEN
    if version >= 4:
        out[len(BODY_CHANNELS):] = landmark_speeds(pose, previous, steps, length, seen)
    return out


def landmark_speeds(pose: Pose, previous: Pose | None, steps: int, length: float, seen: set[int]) -> np.ndarray:
    """`(13,)` how far each of `KEYPOINTS` moved in the frame per timeline step since
    `previous`, in torso lengths (`length` pixels): which parts of the body move and which
    stay put (the hands of a pull-up, the feet of a squat). A left and right landmark that
    traded places (the model swaps the sides of a person facing the camera from one step to
    the next) are matched the nearer way. `UNSEEN` for a landmark not seen now or then,
    and for all of them without a previous pose."""
    if previous is None:
        return np.full(len(KEYPOINTS), UNSEEN)
    now, then = pose.image[list(KEYPOINTS), :2].astype(np.float64), previous.image[list(KEYPOINTS), :2]
    moved = np.linalg.norm(now - then, axis=1)
    crossed = np.linalg.norm(now - then[TWIN], axis=1)
    swapped = (crossed + crossed[TWIN]) < (moved + moved[TWIN])
    speed = np.minimum(np.where(swapped, crossed, moved) / (length * steps), MAX_REACH)
    both = seen & seen_landmarks(previous.image[:, 3])
    return np.where([k in both for k in KEYPOINTS], speed, UNSEEN)


def channel_names(version: int = FEATURES_VERSION) -> tuple[str, ...]:
    """The channels pose features of `version` have: from 4 on, the landmarks' speeds too."""
    return CHANNELS if version >= 4 else BODY_CHANNELS


def seen_landmarks(visibility: np.ndarray) -> set[int]:
    """`(33,)` visibility -> the landmarks seen: visible enough, and hanging from a seen one."""
    seen = set(ALWAYS_SEEN)
    for i in KEYPOINTS:     # each joint comes after the one it hangs from
        if visibility[i] >= MIN_VISIBILITY and (i not in PARENT or PARENT[i] in seen):
            seen.add(i)
    return seen


def unseen_channels(seen: set[int]) -> list[int]:
    """The channels that read a landmark not in `seen`: its position and each angle it
    is one of the three points of (`LANDMARK_CHANNELS`)."""
    return sorted({c for landmark in KEYPOINTS if landmark not in seen for c in LANDMARK_CHANNELS[landmark]})


def mirror_order() -> np.ndarray:
    """`(P,)` channel order of the same pose seen in a mirror: each left joint's channel
    and its right twin's trade places (the x offsets are already sizes, `|x|`), so a
    right-arm curl reads as a left-arm one."""
    index = {name: i for i, name in enumerate(CHANNELS)}
    return np.array([index[other_side(name)] for name in CHANNELS])


def _angle(a: np.ndarray, b: np.ndarray, c: np.ndarray) -> float:
    """The angle at `b`, in units of pi: 1 straight, 0 folded back."""
    u, v = a - b, c - b
    cos = float(u @ v) / (np.linalg.norm(u) * np.linalg.norm(v) + 1e-9)
    return float(np.arccos(np.clip(cos, -1.0, 1.0)) / np.pi)


_per_thread = threading.local()


def thread_estimator() -> "PoseEstimator":
    """This thread's estimator, made once (loading and verifying the models takes ~60 ms:
    not once per video)."""
    if getattr(_per_thread, "estimator", None) is None:
        _per_thread.estimator = PoseEstimator()
    return _per_thread.estimator


class PoseEncoder:
    """One video's or stream's timeline steps, in order: decoded frames `(N, H, W, 3)` uint8
    RGB -> `(N, S, P)` float32 pose channels, the same in each of the spec's `S = grid * grid`
    cells. A step where nobody is found keeps the last pose found for up to `spec.hold`
    steps (the detector loses a person for a step or two mid-action: a hanging body, motion
    blur), then reads as nobody. Uses its thread's estimator: one encoder per thread."""

    def __init__(self, spec: PoseSpec):
        self.spec = spec
        self.estimator = thread_estimator()
        self.reset()

    def reset(self) -> None:
        """A new video or stream: no pose to hold, nobody to track."""
        self.last: np.ndarray | None = None
        self.held = 0
        self.alignment: np.ndarray | None = None
        self.previous: Pose | None = None   # the last pose found, `since` steps before the next
        self.since = 1

    def __call__(self, frames) -> np.ndarray:
        feats = np.stack([self.fill(self.features(self.estimate(f))) for f in frames])
        return np.repeat(feats[:, None], self.spec.grid * self.spec.grid, axis=1)

    def features(self, pose: Pose | None) -> np.ndarray:
        """`(P,)` channels of the next step's `pose` (None: nobody found), its speeds
        measured from the last pose found."""
        step = pose_features(pose, self.spec.version, self.previous, self.since)
        self.since += 1
        if pose is not None:
            self.previous, self.since = pose, 1
        return step

    def estimate(self, frame: np.ndarray) -> Pose | None:
        """The next step's pose; with `spec.track`, looked for where the last step's was."""
        pose = self.estimator(np.ascontiguousarray(frame), self.alignment)
        if self.spec.track:
            self.alignment = None if pose is None else pose.alignment
        return pose

    def fill(self, step: np.ndarray) -> np.ndarray:
        """`(P,)` channels of the next step, the last pose found in place of nobody while the hold lasts."""
        if step[0] > 0:                      # `present`
            self.last, self.held = step, 0
        elif self.last is not None and self.held < self.spec.hold:
            self.held += 1
            return self.last
        return step


def pose_spec(mode: str, grid: int, train_videos: list, reader: str = "auto", hold: int = 0,
              track: bool = False) -> PoseSpec | None:
    """The pose stream `motion.pose` asks for: `on`, `off`, or `auto`: on when the detector
    finds a person in the middle frame of at least `AUTO_SHARE` of up to `AUTO_VIDEOS`
    training videos (spread over the list), and the pose models are at hand. `hold`,
    `track`: `PoseSpec`'s."""
    if mode not in MODES:
        raise ConfigError(f"motion.pose={mode!r} is not one of {', '.join(MODES)}")
    if mode == "off" or (mode == "auto" and not train_videos):
        return None
    if mode == "on":
        thread_estimator()          # the models are there, or a clear error now rather than mid-run
        return PoseSpec(grid, hold=hold, track=track)
    try:
        estimator = thread_estimator()
    except (WeightsError, ImportError) as exc:
        log.warning("pose stream off: %s", exc)
        return None
    picks = [train_videos[i] for i in np.linspace(0, len(train_videos) - 1, AUTO_VIDEOS).round().astype(int)]
    found = [estimator.detect(frame) is not None for frame in _middle_frames(dict.fromkeys(picks), reader)]
    share = float(np.mean(found)) if found else 0.0
    log.info("pose stream %s: a person in %d of %d sampled training videos", "on" if share >= AUTO_SHARE
             else "off", sum(found), len(found))
    return PoseSpec(grid, hold=hold, track=track) if found and share >= AUTO_SHARE else None


def _middle_frames(videos, reader: str):
    """The middle frame of each readable video, RGB; unreadable ones are left out (the
    extraction names them)."""
    from .video_io import open_video
    for video in videos:
        try:
            with open_video(video, reader) as v:
                yield v.get_frames(np.array([v.num_frames // 2]))[0]
        except Exception:   # reported by name when the video is extracted
            continue
