"""Build real-pixel *direction* tasks (pan, zoom, time reversal) from real source videos.

    python scripts/prepare_real_tasks.py INPUT [INPUT ...] --out ROOT
        [--tasks pan zoom reverse] [--seed 0] [--clips-per-source 4]
        [--test-sources NAME ... | --test-fraction 0.33] [--size 224x168]
        [--fps 25] [--duration 2.0 3.0] [--exclude NAME ...]

INPUT is a video file or a folder (searched recursively for .mp4/.avi/.mov/.mkv/.webm).
For each task a folders-layout dataset is written:

    ROOT/real_<task>/{train,test}/<class>/<source>_cNN.mp4   plus ROOT/real_<task>/MANIFEST.csv

Tasks and classes (the scene itself keeps playing forward unless stated):
- pan:     `pan_left` / `pan_right`. A crop window of 50-70% of the frame width (output
           aspect) slides horizontally over 60-100% of its free range; `pan_right` means
           the window (the virtual camera) moves right, so the content drifts left.
- zoom:    `zoom_in` / `zoom_out`. The crop window shrinks (zoom_in) or grows (zoom_out)
           geometrically between the largest output-aspect box and 45-65% of it, about a
           random point that stays fixed on screen.
- reverse: `forward` / `reversed`. A fixed crop (80-100% of the largest box) of the
           clip, played forward or with its frame order reversed.

Every clip lasts `--duration` seconds (uniform in the range) at `--fps`; source frames
are mapped by time, so low-fps sources repeat frames and high-fps sources skip some.
Speed profiles of pan/zoom are linear or smoothstep. Whole source videos are held out:
the sources named by `--test-sources` (file name, stem, or path) or, failing that, a
seeded `--test-fraction` of them go to test, the rest to train; each side gets the two
classes in equal numbers (+-1). Clips are written to a temporary name, reopened with
cv2.VideoCapture and checked for >= 20 frames, then moved into place with os.replace;
clips left over from an earlier run with other arguments are removed.
"""

from __future__ import annotations

import argparse
import csv
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

VIDEO_EXTS = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v"}
TASK_CLASSES = {
    "pan": ("pan_left", "pan_right"),
    "zoom": ("zoom_in", "zoom_out"),
    "reverse": ("forward", "reversed"),
}
MIN_FRAMES = 20


@dataclass
class Source:
    """One input video: its path, a unique short name, and its stream properties."""
    path: Path
    name: str
    frames: int
    fps: float
    width: int
    height: int

    @property
    def seconds(self) -> float:
        return self.frames / self.fps


@dataclass
class ClipPlan:
    """One output clip: which source, where it starts, how long, which side and label."""
    source: Source
    index: int
    start_s: float
    duration_s: float
    side: str
    label: str = ""


# ------------------------------------------------------------------ inputs

def find_videos(inputs: list[str], exclude: list[str]) -> list[Path]:
    """Video files named by `inputs` (files, or folders searched recursively), sorted."""
    found: list[Path] = []
    for item in inputs:
        p = Path(item)
        if p.is_dir():
            found += [f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in VIDEO_EXTS]
        elif p.is_file():
            found.append(p)
        else:
            raise SystemExit(f"input not found: {item}")
    unique = sorted({f.resolve() for f in found})
    return [f for f in unique if not matches(f, exclude)]


def matches(path: Path, names: list[str]) -> bool:
    """True when `path` is named by one of `names` (full name, stem, or path suffix)."""
    text = str(path)
    return any(n in (path.name, path.stem) or text.endswith(n) for n in names)


def probe(path: Path) -> tuple[int, float, int, int]:
    """(frame count, fps, width, height) of a video, counting frames by decoding."""
    cap = cv2.VideoCapture(str(path))
    if not cap.isOpened():
        return 0, 0.0, 0, 0
    fps = cap.get(cv2.CAP_PROP_FPS)
    fps = fps if 1.0 <= fps <= 240.0 else 25.0
    w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    return n, fps, w, h


def load_sources(paths: list[Path], min_seconds: float) -> list[Source]:
    """Probe every path and keep the readable ones at least `min_seconds` long."""
    sources, used = [], set()
    for p in paths:
        n, fps, w, h = probe(p)
        if n == 0 or n / fps < min_seconds:
            print(f"skip {p}: {n} frames at {fps:.1f} fps is shorter than {min_seconds} s",
                  file=sys.stderr)
            continue
        base = re.sub(r"[^A-Za-z0-9]+", "", p.stem)[:24] or "video"
        name, k = f"{base}{p.suffix.lower().lstrip('.')}", 1
        while name in used:
            name, k = f"{base}{p.suffix.lower().lstrip('.')}{k}", k + 1
        used.add(name)
        sources.append(Source(p, name, n, fps, w, h))
    return sources


def assign_sides(sources: list[Source], test_names: list[str], fraction: float,
                 rng: np.random.Generator) -> dict[str, str]:
    """Map source name -> 'train' / 'test'; whole sources are held out, never split."""
    if test_names:
        test = {s.name for s in sources if matches(s.path, test_names)}
    else:
        order = rng.permutation(len(sources))
        k = min(len(sources) - 1, max(1, round(fraction * len(sources))))
        test = {sources[i].name for i in order[:k]}
    if not test or len(test) == len(sources):
        raise SystemExit("need at least one train and one test source")
    return {s.name: ("test" if s.name in test else "train") for s in sources}


# ------------------------------------------------------------------ planning

def plan_clips(sources: list[Source], sides: dict[str, str], per_source: int,
               duration: tuple[float, float], classes: tuple[str, str],
               rng: np.random.Generator) -> list[ClipPlan]:
    """Spread `per_source` clips over each source; balance the two labels per side."""
    plans: list[ClipPlan] = []
    for src in sources:
        for k in range(per_source):
            dur = min(float(rng.uniform(*duration)), src.seconds)
            slot = (src.seconds - dur) / per_source       # start drawn inside slot k
            start = slot * (k + float(rng.uniform(0.0, 1.0)))
            plans.append(ClipPlan(src, k, start, dur, sides[src.name]))
    for side in ("train", "test"):
        group = [p for p in plans if p.side == side]
        labels = [classes[i % 2] for i in range(len(group))]
        for plan, j in zip(group, rng.permutation(len(group))):
            plan.label = labels[j]
    return plans


def read_frames(src: Source, start_s: float, duration_s: float, fps: float) -> list[np.ndarray]:
    """Decode the source frames shown at output times start + i / fps, in time order."""
    n_out = max(MIN_FRAMES, int(round(duration_s * fps)))
    first = int(start_s * src.fps)
    wanted = [min(src.frames - 1, first + int(i * src.fps / fps)) for i in range(n_out)]
    cap = cv2.VideoCapture(str(src.path))
    cap.set(cv2.CAP_PROP_POS_FRAMES, first)
    got: dict[int, np.ndarray] = {}
    need = set(wanted)
    pos, last = first, None
    while pos <= wanted[-1]:
        ok, frame = cap.read()
        if not ok:
            break
        last = frame
        if pos in need:
            got[pos] = frame
        pos += 1
    cap.release()
    if last is None:
        raise RuntimeError(f"cannot decode {src.path} at {start_s:.2f} s")
    out, prev = [], None
    for i in wanted:
        prev = got.get(i, prev if prev is not None else last)
        out.append(prev)
    return out


# ------------------------------------------------------------------ geometry

def largest_box(w: int, h: int, aspect: float) -> tuple[float, float, float, float]:
    """The largest centred (x, y, w, h) box of `aspect` (= width / height) in a w x h frame."""
    bw, bh = (w, w / aspect) if w / h <= aspect else (h * aspect, h)
    return (w - bw) / 2, (h - bh) / 2, bw, bh


def progress(n: int, rng: np.random.Generator) -> np.ndarray:
    """n values from 0 to 1: a linear or smoothstep speed profile."""
    t = np.linspace(0.0, 1.0, n)
    return t if rng.random() < 0.5 else t * t * (3.0 - 2.0 * t)


def crop_boxes(task: str, label: str, n: int, w: int, h: int, aspect: float,
               rng: np.random.Generator) -> np.ndarray:
    """(n, 4) crop boxes (x, y, w, h) per output frame for `task` / `label`."""
    x0, y0, bw, bh = largest_box(w, h, aspect)
    t = progress(n, rng)
    if task == "pan":
        cw = bw * rng.uniform(0.5, 0.7)
        ch = cw / aspect
        free = w - cw
        travel = free * rng.uniform(0.6, 1.0)
        a = rng.uniform(0.0, free - travel)
        xs = a + travel * (t if label == "pan_right" else 1.0 - t)
        y = rng.uniform(0.0, h - ch)
        return np.stack([xs, np.full(n, y), np.full(n, cw), np.full(n, ch)], 1)
    if task == "zoom":
        s_min = rng.uniform(0.45, 0.65)
        px, py = x0 + bw * rng.uniform(0.25, 0.75), y0 + bh * rng.uniform(0.25, 0.75)
        grow = t if label == "zoom_out" else 1.0 - t
        s = s_min * (1.0 / s_min) ** grow                  # geometric scale schedule
        return np.stack([px + (x0 - px) * s, py + (y0 - py) * s, bw * s, bh * s], 1)
    s = rng.uniform(0.8, 1.0)                              # reverse: one fixed crop
    box = (x0 + (bw - bw * s) * rng.random(), y0 + (bh - bh * s) * rng.random(), bw * s, bh * s)
    return np.tile(np.array(box), (n, 1))


def render(frames: list[np.ndarray], boxes: np.ndarray, size: tuple[int, int]) -> list[np.ndarray]:
    """Resample each frame's crop box to `size` (w, h) with sub-pixel accuracy."""
    ow, oh = size
    out = []
    for frame, (x, y, bw, bh) in zip(frames, boxes):
        sx, sy = bw / ow, bh / oh
        m = np.array([[sx, 0.0, x + 0.5 * sx - 0.5], [0.0, sy, y + 0.5 * sy - 0.5]])
        out.append(cv2.warpAffine(frame, m, (ow, oh), flags=cv2.INTER_AREA | cv2.WARP_INVERSE_MAP,
                                  borderMode=cv2.BORDER_REPLICATE))
    return out


# ------------------------------------------------------------------ output

def write_clip(frames: list[np.ndarray], path: Path, fps: float) -> int:
    """Write frames as mp4 to a temporary name, verify >= MIN_FRAMES, os.replace into place."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{os.getpid()}.mp4")
    h, w = frames[0].shape[:2]
    writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*"mp4v"), fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"cannot open a video writer for {tmp}")
    for f in frames:
        writer.write(f)
    writer.release()
    cap = cv2.VideoCapture(str(tmp))
    n = 0
    while cap.grab():
        n += 1
    cap.release()
    if n < MIN_FRAMES:
        tmp.unlink(missing_ok=True)
        raise RuntimeError(f"{path}: only {n} frames readable")
    os.replace(tmp, path)
    return n


def make_clip(task: str, plan: ClipPlan, root: Path, args: argparse.Namespace,
              rng: np.random.Generator) -> dict:
    """Render and write one planned clip; return its manifest row."""
    frames = read_frames(plan.source, plan.start_s, plan.duration_s, args.fps)
    if task == "reverse" and plan.label == "reversed":
        frames = frames[::-1]
    aspect = args.size[0] / args.size[1]
    boxes = crop_boxes(task, plan.label, len(frames), plan.source.width, plan.source.height,
                       aspect, rng)
    out = render(frames, boxes, args.size)
    rel = Path(plan.side) / plan.label / f"{plan.source.name}_c{plan.index:02d}.mp4"
    n = write_clip(out, root / rel, args.fps)
    return {"file": rel.as_posix(), "side": plan.side, "label": plan.label,
            "source": str(plan.source.path), "start_s": f"{plan.start_s:.2f}",
            "duration_s": f"{plan.duration_s:.2f}", "frames": n}


def write_manifest(rows: list[dict], path: Path) -> None:
    """Write the manifest CSV atomically."""
    tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
    with open(tmp, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def remove_stale(root: Path, keep: set[str]) -> None:
    """Delete clips under root/{train,test}/ that this run did not produce."""
    for side in ("train", "test"):
        for f in (root / side).rglob("*.mp4"):
            if f.relative_to(root).as_posix() not in keep:
                f.unlink()


def build_task(task: str, sources: list[Source], sides: dict[str, str],
               args: argparse.Namespace) -> list[dict]:
    """Generate one task's dataset under OUT/real_<task>; return its manifest rows."""
    root = Path(args.out) / f"real_{task}"
    salt = sorted(TASK_CLASSES).index(task)
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, salt]))
    plans = plan_clips(sources, sides, args.clips_per_source, tuple(args.duration),
                       TASK_CLASSES[task], rng)
    rows = [make_clip(task, p, root, args, rng) for p in plans]
    remove_stale(root, {r["file"] for r in rows})
    write_manifest(rows, root / "MANIFEST.csv")
    for side in ("train", "test"):
        counts = {c: sum(r["side"] == side and r["label"] == c for r in rows)
                  for c in TASK_CLASSES[task]}
        print(f"real_{task} {side}: {counts}")
    return rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options (see the module docstring)."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("inputs", nargs="+", help="video files or folders")
    ap.add_argument("--out", required=True, help="output root; tasks go to OUT/real_<task>")
    ap.add_argument("--tasks", nargs="+", default=list(TASK_CLASSES), choices=list(TASK_CLASSES))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--clips-per-source", type=int, default=4)
    ap.add_argument("--test-sources", nargs="*", default=[],
                    help="sources held out for test (file name, stem or path suffix)")
    ap.add_argument("--test-fraction", type=float, default=0.33,
                    help="fraction of sources held out when --test-sources is not given")
    ap.add_argument("--exclude", nargs="*", default=[], help="sources to ignore")
    ap.add_argument("--size", default="224x168", help="output WxH")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--duration", type=float, nargs=2, default=[2.0, 3.0], metavar=("MIN", "MAX"))
    args = ap.parse_args(argv)
    args.size = tuple(int(v) for v in args.size.lower().split("x"))
    return args


def main(argv: list[str] | None = None) -> int:
    """Entry point: find sources, hold some out, build every requested task."""
    args = parse_args(argv)
    paths = find_videos(args.inputs, args.exclude)
    sources = load_sources(paths, min_seconds=MIN_FRAMES / args.fps)
    rng = np.random.default_rng(np.random.SeedSequence([args.seed, 0x51DE]))
    sides = assign_sides(sources, args.test_sources, args.test_fraction, rng)
    for s in sources:
        print(f"{sides[s.name]:5s} {s.name:30s} {s.seconds:5.1f} s  {s.width}x{s.height}  {s.path}")
    for task in args.tasks:
        build_task(task, sources, sides, args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
