"""Generate a hard synthetic *temporal* action dataset in UCF101 layout.

    python scripts/make_temporal_set.py --root DIR [--groups 10] [--clips-per-group 4]
        [--test-groups 3] [--seed 0] [--size 160x120] [--profile hard|plain] [--workers N]

Classes (6) come in time-reversed pairs: slide_right / slide_left, grow / shrink,
turn_clockwise / turn_anticlockwise. Each clip is rendered as the "forward" member of
its pair (moving right, growing, turning clockwise on screen); clips of the partner
class are the same kind of rendering with the frame order reversed. Every nuisance
below is drawn from a time-reversible distribution (i.i.d. per frame, stationary
Gaussian AR(1), random sign or random phase), so a clip played backwards is a
typical clip of its partner class and frame order is the only cue to the label.

Conditions (W = frame width, H = frame height; ranges are uniform unless stated):
- Object: one small random shape (irregular polygon, ellipse, or irregular star),
  colour from the scene's hue family, textured (stripes, checks, speckle, shading)
  with the scene's probability, sometimes outlined; a minimum colour contrast with
  the background under its path. Diameter 10-20% of W (slide, turn).
- slide: horizontal travel 30-60% of W (plus a vertical drift of up to 6% of H).
- grow: diameter grows geometrically by a factor 2-3 up to a largest size of
  15-25% of W (so the smallest size is 5-12.5% of W), plus a drift up to 6% of W/H.
- turn: rotation about the object's centre by 90-270 degrees in total, plus a drift.
- Secondary motion in every class (random sign): rotation up to 20 degrees, size
  change by a factor up to 1.1 (geometric about the drawn diameter), translation drift
  (above); the start angle is random.
- Timing: length 1.6-4.4 s at 25 fps (40-110 frames); still holds of 0-15% of the
  clip at each end; speed profile one of linear, smoothstep, ease-in, ease-out
  (power 1.5-2.5), or a random smoothed log-normal speed. Object placement random,
  always fully inside the frame.
- Scene (one per group gNN): gradient between two random colours along a random
  direction, multi-scale colour texture, sometimes a periodic pattern (tiles /
  blinds), 12-40 random static clutter shapes (translucent or opaque), 2-6 static
  decoys drawn from the object's own style family; lighting gain 0.65-1.25, colour
  tint 0.85-1.15 per channel, haze 0-35 grey levels; camera-shake character; style
  family (hue centre, shape-kind mix, texture and outline probabilities).
- Per clip within a scene: a view offset of up to +-(m/2 - 1)/2 px per axis, where
  m = max(12, W/10) is the hidden canvas margin (+-3.5 px at 160x120).
- Camera shake: stationary AR(1) random walk of the whole frame, per-axis sigma
  0.4-1.5 px, correlation 0.80-0.95 per frame, clipped to +-(m/2 - 1)/2 px (+-3.5 px
  at 160x120); rotation about the frame centre, sigma 0-0.6 degrees. Light flicker:
  AR(1) gain with sigma 0-3%.
- Sensor noise: i.i.d. Gaussian per pixel and channel, sigma 3-10 grey levels per
  clip, fresh every frame; then MJPG compression.
- Distractor (60% of clips, every class alike): a second small shape (5-9% of W)
  drifting on a Lissajous path (amplitude 5-25% of W/H, 0.2-1.5 cycles), spinning,
  and in 40% of those blinking (period 8-30 frames, duty 30-70%).

Profiles: the conditions above are `--profile hard` (the default). `--profile plain`
keeps the scenes, clutter, noise, shake, flicker and timing, but has no distractor, no
decoys and no secondary motion, and moves the object as the demo generator does: a
turn sweeps 180-270 degrees along an arc of radius 20-35% of H about a pivot near the
frame centre (the object turning with it), a growth is 2.5-3.5x from 10-20% of W (at
most 85% of H), centred near the frame centre.

Layout: ROOT/<Class>/v_<Class>_gNN_cMM.avi (MJPG, 25 fps) and ROOT/ucfTrainTestlist/
{classInd.txt, trainlist01.txt, testlist01.txt} in UCF101 format; the last
`--test-groups` groups are the test split. Scenes and clips are drawn from
`numpy.random.SeedSequence([seed, ...])`, so different seeds give unrelated datasets
(one for development, another held out). Files are written to a hidden temporary
name, checked by reopening them with cv2.VideoCapture and counting frames, then
moved into place with os.replace; a re-run over an existing root replaces its files
and removes generated videos the new arguments no longer produce.
"""

from __future__ import annotations

import argparse
import colorsys
import math
import os
import re
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

FPS = 25.0
SPLIT_DIR = "ucfTrainTestlist"
# class -> (motion kind, played backwards?)
CLASSES = {
    "grow": ("grow", False), "shrink": ("grow", True),
    "slide_left": ("slide", True), "slide_right": ("slide", False),
    "turn_anticlockwise": ("turn", True), "turn_clockwise": ("turn", False),
}
CLASS_NAMES = sorted(CLASSES)
SHAPE_KINDS = ("polygon", "ellipse", "star")
SCENE_TAG, CLIP_TAG = 0x5CE4E, 0xC11B


@dataclass
class Scene:
    """One group's recording conditions: background canvas and per-scene parameters."""
    canvas: np.ndarray          # (H + 2m, W + 2m, 3) float32 BGR background
    margin: int                 # m: canvas border around the frame, room for shake
    shake_sigma: float          # px, per axis
    shake_rho: float            # AR(1) correlation per frame
    shake_rot: float            # degrees
    flicker: float              # relative gain sigma
    gain: np.ndarray            # (3,) per-channel lighting gain (gain x tint)
    haze: float                 # grey levels added (contrast loss)
    style: dict                 # object style family


# The nuisances that differ between profiles. `hard` is the stand-in described above;
# `plain` keeps the clutter, noise, shake, flicker and timing but drops the moving
# distractor, the decoys in the object's own style and the secondary motion, and moves
# as the demo generator does: `grow` from 10-20% of the width by a factor 2.5-3.5 (at
# most 85% of the height), `turn` along an arc of 180-270 degrees about a pivot 20-35%
# of the height away (the demo's dot at the tip of a sweeping bar). That is the hidden
# set the accuracy issue describes (the demo's task family, objects 10-20% of the width
# on cluttered, noisy backgrounds, slight hand-held jitter, 1.6-4.4 s at 25 fps).
PROFILES = {
    "hard": {"decoys": (2, 7), "distractor_p": 0.6, "secondary": 1.0, "demo_motions": False},
    "plain": {"decoys": (0, 1), "distractor_p": 0.0, "secondary": 0.0, "demo_motions": True},
}


# ------------------------------------------------------------------ small helpers

def rng_for(seed: int, *keys: int) -> np.random.Generator:
    """A generator for one (seed, keys) stream; different seeds give unrelated streams."""
    return np.random.default_rng(np.random.SeedSequence([seed, *keys]))


def hsv_colour(h: float, s: float, v: float) -> np.ndarray:
    """HSV in [0, 1] -> BGR float32 in [0, 255]."""
    r, g, b = colorsys.hsv_to_rgb(h % 1.0, s, v)
    return np.array([b, g, r], np.float32) * 255.0


def smooth_noise(rng: np.random.Generator, h: int, w: int, cell: int, channels: int) -> np.ndarray:
    """Zero-mean unit-ish Gaussian noise smoothed over `cell` pixels, shape (h, w, channels)."""
    small = rng.standard_normal((h // cell + 3, w // cell + 3, channels)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    return big.reshape(h, w, channels)


def ar1(rng: np.random.Generator, n: int, sigma: float, rho: float) -> np.ndarray:
    """A stationary Gaussian AR(1) series (time-reversible in distribution)."""
    out = np.empty(n, np.float64)
    out[0] = rng.normal(0.0, sigma)
    step = sigma * math.sqrt(1.0 - rho * rho)
    for i in range(1, n):
        out[i] = rho * out[i - 1] + rng.normal(0.0, step)
    return out


# ------------------------------------------------------------------ shapes and sprites

def shape_points(rng: np.random.Generator, kind: str) -> np.ndarray:
    """Outline of a random shape of `kind`, (N, 2) points with max radius exactly 1."""
    if kind == "polygon":
        n = int(rng.integers(3, 9))
        ang = np.sort(rng.uniform(0, 2 * np.pi, n) * 0.35 + np.arange(n) * 2 * np.pi / n)
        rad = rng.uniform(0.55, 1.0, n)
    elif kind == "ellipse":
        ang = np.linspace(0, 2 * np.pi, 48, endpoint=False)
        minor = rng.uniform(0.35, 0.65)
        rad = minor / np.sqrt((minor * np.cos(ang)) ** 2 + np.sin(ang) ** 2)
    else:
        arms = int(rng.integers(4, 8))
        ang = np.arange(2 * arms) * np.pi / arms + rng.uniform(-0.12, 0.12, 2 * arms)
        rad = np.where(np.arange(2 * arms) % 2 == 0, rng.uniform(0.7, 1.0, 2 * arms),
                       rng.uniform(0.3, 0.55, 2 * arms))
    pts = np.stack([rad * np.cos(ang), rad * np.sin(ang)], axis=1)
    return pts / np.abs(rad).max()


def texture_layer(rng: np.random.Generator, n: int, base: np.ndarray, texture_p: float) -> np.ndarray:
    """An (n, n, 3) colour fill: plain `base`, or a stripes/checks/speckle/shading texture."""
    other = np.clip(base * rng.uniform(0.35, 0.75) + rng.uniform(0, 90, 3), 0, 255)
    if rng.random() >= texture_p:
        return np.broadcast_to(base, (n, n, 3)).astype(np.float32)
    yy, xx = (np.mgrid[0:n, 0:n].astype(np.float32) / n) - 0.5
    kind = rng.choice(["stripes", "checks", "speckle", "shading"])
    a = rng.uniform(0, np.pi)
    freq = rng.uniform(2.0, 5.0)
    if kind == "stripes":
        mix = (np.sin(2 * np.pi * freq * (xx * np.cos(a) + yy * np.sin(a))) > 0).astype(np.float32)
    elif kind == "checks":
        mix = ((np.floor(xx * freq * 2) + np.floor(yy * freq * 2)) % 2).astype(np.float32)
    elif kind == "speckle":
        mix = (smooth_noise(rng, n, n, max(2, n // 10), 1)[..., 0] > 0.3).astype(np.float32)
    else:
        mix = np.clip(0.5 + (xx * np.cos(a) + yy * np.sin(a)) * 1.6, 0, 1)
    return (base * (1 - mix[..., None]) + other * mix[..., None]).astype(np.float32)


def make_sprite(rng: np.random.Generator, style: dict, diameter: float) -> np.ndarray:
    """A premultiplied BGRA float32 sprite (res, res, 4) of one random object of `style`.

    The shape spans `res - 2` pixels (its max diameter); drawn 4x supersampled."""
    kind = SHAPE_KINDS[rng.choice(3, p=style["kinds"])]
    res = max(12, int(math.ceil(diameter)) + 2)
    big = res * 4
    pts = shape_points(rng, kind) * (big / 2 - 4) + (big - 1) / 2
    mask = np.zeros((big, big), np.uint8)
    cv2.fillPoly(mask, [np.round(pts * 16).astype(np.int32)], 255, cv2.LINE_AA, shift=4)
    base = hsv_colour(style["hue"] + rng.normal(0, 0.06), rng.uniform(*style["sat"]), rng.uniform(0.35, 1.0))
    colour = np.ascontiguousarray(texture_layer(rng, big, base, style["texture_p"]))
    if rng.random() < style["outline_p"]:
        edge = (0.0, 0.0, 0.0) if rng.random() < 0.6 else (255.0, 255.0, 255.0)
        cv2.polylines(colour, [np.round(pts * 16).astype(np.int32)], True, edge, 6, cv2.LINE_AA, shift=4)
    alpha = mask.astype(np.float32) / 255.0
    rgba = np.dstack([colour * alpha[..., None], alpha]).astype(np.float32)
    return cv2.resize(rgba, (res, res), interpolation=cv2.INTER_AREA)


def paste_sprite(canvas: np.ndarray, sprite: np.ndarray, cx: float, cy: float,
                 diameter: float, theta: float, opacity: float = 1.0) -> None:
    """Composite `sprite` onto `canvas` in place, centred at (cx, cy), scaled so its shape
    spans `diameter` px, rotated by `theta` radians (clockwise on screen, y down)."""
    res = sprite.shape[0]
    s = diameter / (res - 2)
    c, sn = math.cos(theta) * s, math.sin(theta) * s
    ext = s * res * 0.75 + 2
    h, w = canvas.shape[:2]
    x0, y0 = max(0, int(cx - ext)), max(0, int(cy - ext))
    x1, y1 = min(w, int(cx + ext) + 2), min(h, int(cy + ext) + 2)
    if x1 <= x0 or y1 <= y0 or opacity <= 0:
        return
    mid = (res - 1) / 2
    m = np.array([[c, -sn, cx - x0 - c * mid + sn * mid],
                  [sn, c, cy - y0 - sn * mid - c * mid]], np.float32)
    patch = cv2.warpAffine(sprite, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0, 0))
    region = canvas[y0:y1, x0:x1]
    region *= 1.0 - patch[..., 3:4] * opacity
    region += patch[..., :3] * opacity


# ------------------------------------------------------------------ scenes

def scene_style(rng: np.random.Generator) -> dict:
    """The object style family of a scene: hue centre, shape-kind mix, texture/outline odds."""
    return {"hue": rng.random(), "kinds": rng.dirichlet([1.0, 1.0, 1.0]),
            "sat": (rng.uniform(0.2, 0.6), rng.uniform(0.7, 1.0)),
            "texture_p": rng.uniform(0.2, 0.9), "outline_p": rng.uniform(0.0, 0.6)}


def background_base(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Gradient between two random colours, multi-scale colour texture, maybe a pattern."""
    c0, c1 = rng.uniform(15, 240, (2, 3)).astype(np.float32)
    a = rng.uniform(0, 2 * np.pi)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    t = xx * math.cos(a) + yy * math.sin(a)
    t = (t - t.min()) / max(1e-6, float(t.max() - t.min()))
    img = c0 + (c1 - c0) * t[..., None]
    for cell in rng.choice([2, 4, 8, 16, 32], size=int(rng.integers(2, 5)), replace=False):
        img += smooth_noise(rng, h, w, int(cell), 3) * rng.uniform(4, 22)
    if rng.random() < 0.4:
        period, b = rng.uniform(6, 24), rng.uniform(0, np.pi)
        wave = np.sin(2 * np.pi * (xx * math.cos(b) + yy * math.sin(b)) / period)
        img += (np.sign(wave) if rng.random() < 0.5 else wave)[..., None] * rng.uniform(6, 25)
    return img


def draw_clutter(rng: np.random.Generator, img: np.ndarray, count: int) -> None:
    """Draw `count` random static shapes (rects, ellipses, polygons, lines) onto `img`."""
    h, w = img.shape[:2]
    for _ in range(count):
        layer = img.copy()
        colour = tuple(float(v) for v in rng.uniform(0, 255, 3))
        cx, cy = int(rng.integers(0, w)), int(rng.integers(0, h))
        size = int(rng.uniform(0.03, 0.25) * w)
        kind = rng.integers(4)
        if kind == 0:
            cv2.rectangle(layer, (cx, cy), (cx + size, cy + int(size * rng.uniform(0.3, 2))), colour, -1)
        elif kind == 1:
            axes = (max(1, size // 2), max(1, int(size * rng.uniform(0.2, 0.6))))
            cv2.ellipse(layer, (cx, cy), axes, float(rng.uniform(0, 180)), 0, 360, colour, -1, cv2.LINE_AA)
        elif kind == 2:
            pts = shape_points(rng, "polygon") * size / 2 + (cx, cy)
            cv2.fillPoly(layer, [pts.astype(np.int32)], colour, cv2.LINE_AA)
        else:
            end = (cx + int(rng.normal(0, size)), cy + int(rng.normal(0, size)))
            cv2.line(layer, (cx, cy), end, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
        alpha = float(rng.uniform(0.3, 1.0))
        img[:] = cv2.addWeighted(layer, alpha, img, 1.0 - alpha, 0.0)


@lru_cache(maxsize=4)
def make_scene(seed: int, group: int, w: int, h: int, profile: str = "hard") -> Scene:
    """The scene of group `group` (1-based) for `seed`: background, lighting, shake, style."""
    rng = rng_for(seed, SCENE_TAG, group)
    margin = max(12, w // 10)
    ch, cw = h + 2 * margin, w + 2 * margin
    canvas = background_base(rng, ch, cw)
    draw_clutter(rng, canvas, int(rng.integers(12, 41)))
    style = scene_style(rng)
    for _ in range(int(rng.integers(*PROFILES[profile]["decoys"]))):
        diameter = rng.uniform(0.06, 0.2) * w
        paste_sprite(canvas, make_sprite(rng, style, diameter), rng.uniform(0, cw), rng.uniform(0, ch),
                     diameter, rng.uniform(0, 2 * np.pi))
    gain = rng.uniform(0.65, 1.25) * rng.uniform(0.85, 1.15, 3)
    return Scene(canvas=np.clip(canvas, 0, 255).astype(np.float32), margin=margin,
                 shake_sigma=rng.uniform(0.4, 1.5), shake_rho=rng.uniform(0.8, 0.95),
                 shake_rot=rng.uniform(0.0, 0.6), flicker=rng.uniform(0.0, 0.03),
                 gain=gain.astype(np.float32), haze=rng.uniform(0, 35), style=style)


# ------------------------------------------------------------------ clip motion

def progress(rng: np.random.Generator, n: int) -> np.ndarray:
    """Monotone progress 0 -> 1 over n frames: holds at both ends plus a random speed
    profile. The set of profiles is closed under time reversal (ease-in <-> ease-out)."""
    pre, post = (rng.uniform(0, 0.15, 2) * n).astype(int)
    m = max(2, n - pre - post)
    u = np.linspace(0.0, 1.0, m)
    kind = rng.integers(5)
    if kind == 0:
        q = u
    elif kind == 1:
        q = u * u * (3 - 2 * u)
    elif kind == 2:
        q = u ** rng.uniform(1.5, 2.5)
    elif kind == 3:
        q = 1 - (1 - u) ** rng.uniform(1.5, 2.5)
    else:
        v = np.convolve(np.exp(rng.normal(0, 0.7, m + 4)), np.ones(5) / 5, mode="valid")[: m - 1]
        q = np.concatenate([[0.0], np.cumsum(v)]) / v.sum()
    return np.concatenate([np.zeros(pre), q, np.ones(n - pre - m)])[:n]


def motion(rng: np.random.Generator, kind: str, n: int, w: int, h: int, profile: str = "hard") -> tuple:
    """Forward-member motion of `kind`: per-frame offsets dx, dy (px, from the start;
    with the profile's `demo_motions`, `grow` and `turn` give positions in the frame, about
    its centre, as the demo places them), diameter (px) and angle (rad, growing =
    clockwise), secondary motions included (scaled by the profile's `secondary`)."""
    nuisance = PROFILES[profile]
    extra = nuisance["secondary"]
    p, q = progress(rng, n), progress(rng, n)
    sign = lambda: float(rng.choice([-1.0, 1.0]))  # noqa: E731
    dx = sign() * rng.uniform(0, 0.06) * w * q * extra
    dy = sign() * rng.uniform(0, 0.06) * h * q * extra
    theta = rng.uniform(0, 2 * np.pi) + sign() * np.radians(rng.uniform(0, 20)) * q * extra
    diameter = rng.uniform(0.10, 0.20) * w * (1 + rng.uniform(0, 0.1) * extra) ** (sign() * (q - 0.5))
    if kind == "slide":
        dx = rng.uniform(0.30, 0.60) * w * p
    elif kind == "grow" and nuisance["demo_motions"]:
        factor = min(rng.uniform(2.5, 3.5), 0.85 * h / float(diameter.max()))
        diameter = diameter * factor ** p
        dx, dy = dx + rng.uniform(0.4, 0.6) * w, dy + rng.uniform(0.4, 0.6) * h
    elif kind == "grow":
        factor = rng.uniform(2.0, 3.0)
        diameter = rng.uniform(0.15, 0.25) * w / factor * factor ** p
    elif kind == "turn" and nuisance["demo_motions"]:
        radius, start = rng.uniform(0.2, 0.35) * h, rng.uniform(0, 2 * np.pi)
        angle = start + np.radians(rng.uniform(180, 270)) * p
        dx = rng.uniform(0.45, 0.55) * w + radius * np.cos(angle)
        dy = rng.uniform(0.45, 0.55) * h + radius * np.sin(angle)
        theta = theta + angle - start
    elif kind == "turn":
        theta = theta + np.radians(rng.uniform(90, 270)) * p
    return dx, dy, diameter, theta


def place(rng: np.random.Generator, dx: np.ndarray, dy: np.ndarray, diameter: np.ndarray,
          w: int, h: int) -> tuple[np.ndarray, np.ndarray]:
    """Random start so the whole path (shape fully inside, 2 px margin) stays in frame."""
    r = diameter / 2 + 2
    out = []
    for off, size in ((dx, w), (dy, h)):
        lo, hi = float(np.max(r - off)), float(np.min(size - r - off))
        out.append(off + (rng.uniform(lo, hi) if hi > lo else (lo + hi) / 2))
    return out[0], out[1]


def distractor(rng: np.random.Generator, style: dict, n: int, w: int, h: int,
               chance: float = 0.6) -> dict | None:
    """A second small shape on a Lissajous path, spinning, maybe blinking (in `chance` of
    clips). Random phases and signs make it time-reversible in distribution."""
    if rng.random() >= chance:
        return None
    t = np.arange(n) / FPS
    diameter = rng.uniform(0.05, 0.09) * w
    path = []
    for size in (w, h):
        amp = rng.uniform(0.05, 0.25) * size
        omega = 2 * np.pi * rng.uniform(0.2, 1.5) / (n / FPS)
        room = amp + diameter
        centre = rng.uniform(room, size - room) if size > 2 * room else size / 2
        path.append(centre + amp * np.sin(omega * t + rng.uniform(0, 2 * np.pi)))
    theta = rng.uniform(0, 2 * np.pi) + rng.choice([-1, 1]) * rng.uniform(0, 3) * t
    visible = np.ones(n)
    if rng.random() < 0.4:
        period, duty = rng.uniform(8, 30), rng.uniform(0.3, 0.7)
        visible = (((np.arange(n) + rng.uniform(0, period)) % period) < duty * period).astype(float)
    return {"sprite": make_sprite(rng, style, diameter), "x": path[0], "y": path[1],
            "d": diameter, "theta": theta, "visible": visible}


# ------------------------------------------------------------------ rendering

def object_colour_ok(scene: Scene, sprite: np.ndarray, x: np.ndarray, y: np.ndarray, m: int) -> bool:
    """Whether the object's mean colour differs enough (L1 >= 60) from the background
    around its path (so the clip stays solvable)."""
    colour = sprite[..., :3].sum((0, 1)) / max(1e-6, float(sprite[..., 3].sum()))
    x0, x1 = int(x.min()) + m, int(x.max()) + m + 1
    y0, y1 = int(y.min()) + m, int(y.max()) + m + 1
    bg = scene.canvas[y0:y1, x0:x1].reshape(-1, 3).mean(0)
    return float(np.abs(colour - bg).sum()) >= 60.0


def clip_plan(scene: Scene, kind: str, rng: np.random.Generator, w: int, h: int,
              profile: str = "hard") -> dict:
    """Everything one clip needs per frame: object path and sprite, distractor, view offset,
    camera shake, flicker and noise level."""
    nuisance = PROFILES[profile]
    n = int(round(rng.uniform(1.6, 4.4) * FPS))
    dx, dy, diameter, theta = motion(rng, kind, n, w, h, profile)
    placed = nuisance["demo_motions"] and kind in ("grow", "turn")
    x, y = (dx, dy) if placed else place(rng, dx, dy, diameter, w, h)
    for _ in range(12):
        sprite = make_sprite(rng, scene.style, float(diameter.max()))
        if object_colour_ok(scene, sprite, x, y, scene.margin):
            break
    lim = scene.margin / 2 - 1
    view = rng.uniform(-lim / 2, lim / 2, 2)
    shake = [np.clip(ar1(rng, n, scene.shake_sigma, scene.shake_rho), -lim / 2, lim / 2) for _ in range(2)]
    return {"n": n, "x": x, "y": y, "d": diameter, "theta": theta, "sprite": sprite,
            "distractor": distractor(rng, scene.style, n, w, h, nuisance["distractor_p"]), "view": view,
            "shake": shake, "rot": ar1(rng, n, scene.shake_rot, scene.shake_rho),
            "flicker": 1.0 + ar1(rng, n, scene.flicker, 0.9), "sigma": rng.uniform(3.0, 10.0)}


def render_frame(scene: Scene, plan: dict, i: int, w: int, h: int, rng: np.random.Generator) -> np.ndarray:
    """Frame i of a planned clip as uint8 BGR (h, w, 3): composite, shake, light, noise."""
    m = scene.margin
    canvas = scene.canvas.copy()
    dis = plan["distractor"]
    if dis is not None and dis["visible"][i] > 0:
        paste_sprite(canvas, dis["sprite"], dis["x"][i] + m, dis["y"][i] + m, dis["d"], dis["theta"][i])
    paste_sprite(canvas, plan["sprite"], plan["x"][i] + m, plan["y"][i] + m, plan["d"][i], plan["theta"][i])
    a = math.radians(plan["rot"][i])
    c, s = math.cos(a), math.sin(a)
    ox = m + plan["view"][0] + plan["shake"][0][i]
    oy = m + plan["view"][1] + plan["shake"][1][i]
    hx, hy = (w - 1) / 2, (h - 1) / 2
    # dst -> src map: rotate about the frame centre, then shift into the canvas.
    mat = np.array([[c, -s, hx - c * hx + s * hy + ox], [s, c, hy - s * hx - c * hy + oy]], np.float32)
    frame = cv2.warpAffine(canvas, mat, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_REFLECT)
    frame *= scene.gain * np.float32(plan["flicker"][i])
    noise = rng.standard_normal(frame.shape, dtype=np.float32)
    noise *= np.float32(plan["sigma"])
    frame += noise
    frame += np.float32(scene.haze)
    return np.clip(frame, 0, 255, out=frame).astype(np.uint8)


def render_clip(seed: int, cls: str, group: int, clip: int, w: int, h: int,
                profile: str = "hard") -> np.ndarray:
    """All frames (n, h, w, 3) uint8 BGR of clip `clip` of class `cls` in group `group`.
    The partner class of a pair is the forward rendering played backwards."""
    kind, backwards = CLASSES[cls]
    scene = make_scene(seed, group, w, h, profile)
    rng = rng_for(seed, CLIP_TAG, group, CLASS_NAMES.index(cls), clip)
    plan = clip_plan(scene, kind, rng, w, h, profile)
    frames = np.stack([render_frame(scene, plan, i, w, h, rng) for i in range(plan["n"])])
    return frames[::-1].copy() if backwards else frames


# ------------------------------------------------------------------ files

def count_frames(path: Path) -> int:
    """Frames cv2.VideoCapture decodes from `path` (-1 when it cannot open it)."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        return -1
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n


def write_video(path: Path, frames: np.ndarray) -> None:
    """Write BGR frames as MJPG .avi atomically (hidden temp name, check, os.replace)."""
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.avi")
    h, w = frames.shape[1:3]
    writer = cv2.VideoWriter(str(tmp), cv2.CAP_FFMPEG, cv2.VideoWriter_fourcc(*"MJPG"), FPS, (w, h))
    try:
        if not writer.isOpened():
            raise RuntimeError(f"{tmp}: cv2.VideoWriter could not open an MJPG .avi")
        for frame in frames:
            writer.write(frame)
        writer.release()
        got = count_frames(tmp)
        if got != len(frames):
            raise RuntimeError(f"{tmp}: reopened with {got} frames, wrote {len(frames)}")
        os.replace(tmp, path)
    finally:
        writer.release()
        tmp.unlink(missing_ok=True)


def clip_name(cls: str, group: int, clip: int) -> str:
    """UCF101 file name, e.g. `v_grow_g01_c02.avi`."""
    return f"v_{cls}_g{group:02d}_c{clip:02d}.avi"


def make_clip(job: tuple) -> tuple[str, int]:
    """Worker: render and write one clip; returns (relative path, frame count)."""
    root, seed, cls, group, clip, w, h, profile = job
    cv2.setNumThreads(1)
    frames = render_clip(seed, cls, group, clip, w, h, profile)
    rel = f"{cls}/{clip_name(cls, group, clip)}"
    write_video(Path(root) / rel, frames)
    return rel, len(frames)


def write_text(path: Path, lines: list[str]) -> None:
    """Write lines to `path` atomically."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    tmp.write_text("".join(line + "\n" for line in lines))
    os.replace(tmp, path)


def write_splits(root: Path, groups: int, clips: int, test_groups: int) -> dict:
    """classInd.txt, trainlist01.txt (1-based labels), testlist01.txt (no labels)."""
    split = root / SPLIT_DIR
    split.mkdir(parents=True, exist_ok=True)
    first_test = groups - test_groups + 1
    train, test = [], []
    for label, cls in enumerate(CLASS_NAMES, 1):
        for g in range(1, groups + 1):
            for c in range(1, clips + 1):
                rel = f"{cls}/{clip_name(cls, g, c)}"
                (test.append(rel) if g >= first_test else train.append(f"{rel} {label}"))
    write_text(split / "classInd.txt", [f"{i} {cls}" for i, cls in enumerate(CLASS_NAMES, 1)])
    write_text(split / "trainlist01.txt", train)
    write_text(split / "testlist01.txt", test)
    return {"train": len(train), "test": len(test)}


def remove_stale(root: Path, wanted: set[str]) -> int:
    """Delete generated videos (and leftover temp files) in the class folders that this
    run does not produce; returns how many were removed. Other files are left alone."""
    removed = 0
    for cls in CLASS_NAMES:
        stem = rf"v_{re.escape(cls)}_g\d+_c\d+"
        pattern = re.compile(rf"{stem}\.avi|\.{stem}\.tmp\d+\.avi")
        for path in (root / cls).iterdir():
            if pattern.fullmatch(path.name) and f"{cls}/{path.name}" not in wanted:
                path.unlink()
                removed += 1
    return removed


# ------------------------------------------------------------------ command line

def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H); both even (video writers round odd sizes down) and >= 32."""
    match = re.fullmatch(r"\s*(\d+)\s*[xX]\s*(\d+)\s*", text)
    if not match:
        raise argparse.ArgumentTypeError(f"size must look like 160x120, got {text!r}")
    w, h = int(match.group(1)), int(match.group(2))
    if w < 32 or h < 32 or w % 2 or h % 2:
        raise argparse.ArgumentTypeError(f"size {w}x{h}: width and height must be even and >= 32")
    return w, h


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--root", required=True, type=Path, help="output dataset folder")
    ap.add_argument("--groups", type=int, default=10, help="scenes gNN per class (default 10)")
    ap.add_argument("--clips-per-group", type=int, default=4,
                    help="clips cMM per group and class (default 4)")
    ap.add_argument("--test-groups", type=int, default=3,
                    help="last groups that form the test split (default 3)")
    ap.add_argument("--seed", type=int, default=0, help="dataset seed (default 0)")
    ap.add_argument("--size", type=parse_size, default=(160, 120), help="frame size WxH (default 160x120)")
    ap.add_argument("--profile", choices=sorted(PROFILES), default="hard",
                    help="nuisances: hard (decoys, a distractor, secondary motion) or plain "
                         "(clutter, noise and shake only); default hard")
    ap.add_argument("--workers", type=int, default=min(os.cpu_count() or 1, 8),
                    help="worker processes (default: CPU count, at most 8)")
    args = ap.parse_args(argv)
    if args.groups < 1 or args.clips_per_group < 1 or args.workers < 1 or args.seed < 0:
        ap.error("--groups, --clips-per-group and --workers must be >= 1, --seed >= 0")
    if not 0 <= args.test_groups < args.groups:
        ap.error(f"--test-groups must be in [0, {args.groups - 1}] (some groups must train)")
    return args


def main(argv: list[str] | None = None) -> int:
    """Generate the dataset; print a one-line summary per stage."""
    args = parse_args(argv)
    start = time.perf_counter()
    w, h = args.size
    root = args.root.resolve()
    jobs = [(str(root), args.seed, cls, g, c, w, h, args.profile) for g in range(1, args.groups + 1)
            for cls in CLASS_NAMES for c in range(1, args.clips_per_group + 1)]
    for cls in CLASS_NAMES:
        (root / cls).mkdir(parents=True, exist_ok=True)
    if args.workers == 1:
        results = [make_clip(job) for job in jobs]
    else:
        with ProcessPoolExecutor(max_workers=args.workers) as pool:
            results = list(pool.map(make_clip, jobs, chunksize=max(1, len(jobs) // (args.workers * 8))))
    removed = remove_stale(root, {rel for rel, _ in results})
    counts = write_splits(root, args.groups, args.clips_per_group, args.test_groups)
    frames = sum(n for _, n in results)
    print(f"{root}: {len(results)} clips ({frames} frames, {frames / FPS:.0f} s of video), "
          f"{len(CLASS_NAMES)} classes x {args.groups} groups x {args.clips_per_group} clips, "
          f"{w}x{h}, seed {args.seed}, profile {args.profile}; train {counts['train']}, test {counts['test']} "
          f"(test groups {args.groups - args.test_groups + 1}-{args.groups}); "
          f"{removed} stale files removed; {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
