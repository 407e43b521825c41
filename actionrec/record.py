"""`actionrec record`: a guided recorder for your own actions.

source (webcam, URL or file) -> capture thread (`live.start_capture`) -> `TakeRecorder`:
countdown -> recording -> take saved -> countdown -> ... -> done

Each take is saved as `DATA/<label>/<label>_s<NN>_t<MM>.mp4`, the folder-per-class
layout `actionrec train` reads. `sNN` is the recording session: one run of the
recorder for one label, numbered after the sessions already in the folder, so
re-running adds takes and never overwrites. The group-aware split reads `sNN` as
the group, so takes of one session never straddle training and validation.

Timing follows the source's timestamps (media time for a file, capture time for a
camera or URL), so a file stands in for a camera exactly: a take is the frames
whose timestamps fall within `seconds` of its first frame.

A take is kept in memory (frames larger than `max_side` are scaled down) and
written, under a temporary name then renamed, only once complete. A take cut short
(the source ends or is lost, frames stop arriving for more than `MAX_GAP_S`, `q`,
Esc, Ctrl-C, SIGTERM, SIGHUP) is discarded: no half take ever lands in the dataset. Every saved
take is also listed in `DATA/recordings.json` (`datasets.RECORDINGS_FILE`), which
tells `actionrec train` to use the `personal` preset.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .datasets import RECORDINGS_FILE, VIDEO_EXTENSIONS, class_dirs, group_of
from .config import RecordConfig
from .console import summary_block
from .errors import ConfigError
from .live import (FrameBuffer, FrameSource, Window, check_live_args, start_capture,
                   stop_capture, write_json_atomic)
from .signals import EXIT_CODES as STOP_CODES
from .signals import deferred, ending
from .video_io import write_video

log = logging.getLogger(__name__)

MAX_GAP_S = 0.5            # frames stopping longer than this mid-take discard the take
TAKE_SUFFIX = ".mp4"
TAKE_CODEC = "mp4v"
_LABEL = re.compile(r"[^\W_][\w-]*")
_FONT = cv2.FONT_HERSHEY_SIMPLEX
DISCARD_REASONS = {"interrupted": "interrupted (Ctrl-C)", "terminated": "terminated (SIGTERM)",
                   "hangup": "hung up (SIGHUP)", "user_quit": "stopped (q/Esc)",
                   "end_of_stream": "the source ended", "source_lost": "the source was lost"}
REC_RED = (230, 30, 30)             # RGB: the recording dot, border and progress bar
COUNTDOWN_YELLOW = (255, 200, 0)    # RGB: the countdown number and progress bar


def check_label(label: str) -> str:
    """The label, or a `ConfigError` naming it: it becomes a folder and file names."""
    if not _LABEL.fullmatch(label or ""):
        raise ConfigError(f"label {label!r} must be a word of letters, digits, '_' or '-' "
                          f"(e.g. wave or open_door): it names the class folder")
    return label


def take_name(label: str, session: int, number: int, suffix: str = TAKE_SUFFIX) -> str:
    """The file name of take `number` of `label`'s session `session`: `<label>_sNN_tMM<suffix>`."""
    return f"{label}_s{session:02d}_t{number:02d}{suffix}"


def next_session(class_dir: Path, label: str) -> int:
    """One more than the highest session number of `label`'s takes in `class_dir`."""
    # case-blind: on macOS and Windows `Wave` and `wave` are one folder
    pattern = re.compile(rf"\.?{re.escape(label)}_s(\d+)_t\d+.*", re.IGNORECASE)
    numbers = [int(m.group(1)) for p in class_dir.iterdir()
               if (m := pattern.fullmatch(p.name))] if class_dir.is_dir() else []
    return max(numbers, default=0) + 1


def remove_stale_temporaries(class_dir: Path, label: str) -> list[Path]:
    """Delete half-written takes a killed earlier run left (`.<label>_sNN_tMM.tmp.mp4`)."""
    stale = sorted(class_dir.glob(f".{label}_s*_t*.tmp*")) if class_dir.is_dir() else []
    for path in stale:
        path.unlink(missing_ok=True)
    return stale


def fit_frame(frame: np.ndarray, max_side: int) -> np.ndarray:
    """`(H, W, 3)` uint8 scaled down so its longer side is at most `max_side`, with even
    sides (what mp4v writes); returned unchanged when it already fits."""
    h, w = frame.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
    if size == (w, h):
        return frame
    return cv2.resize(frame, size, interpolation=cv2.INTER_AREA)


@dataclass
class Take:
    """The frames of the take in progress: `(H, W, 3)` uint8 RGB and their timestamps (s)."""
    number: int
    frames: list = field(default_factory=list)
    times: list = field(default_factory=list)

    @property
    def span(self) -> float:
        return self.times[-1] - self.times[0] if self.times else 0.0

    @property
    def spacing(self) -> float:
        """Mean seconds between frames so far (0 with fewer than two)."""
        return self.span / (len(self.times) - 1) if len(self.times) > 1 else 0.0


class TakeRecorder:
    """Turns `(frame, ts)` into saved takes of one label and session.

    `feed(frame, ts)` advances the countdown / recording state by the frame's
    timestamp; `phase` is "countdown", "recording" or "done". `saved` lists the takes
    written, `discarded` the reasons takes were thrown away.
    """

    def __init__(self, class_dir: Path, label: str, session: int, clips: int, seconds: float,
                 countdown: float, max_side: int,
                 on_saved: Callable[[list[Path]], object] | None = None):
        self.class_dir, self.label, self.session = class_dir, label, session
        self.clips, self.seconds, self.countdown, self.max_side = clips, seconds, countdown, max_side
        self.phase, self.phase_start = "countdown", None
        self.take: Take | None = None
        self.saved: list[Path] = []
        self.discarded: list[str] = []
        self.on_saved = on_saved      # called with the takes saved so far after each one (the manifest)

    def take_path(self, number: int) -> Path:
        return self.class_dir / take_name(self.label, self.session, number)

    def feed(self, frame: np.ndarray, ts: float) -> None:
        """One `(H, W, 3)` uint8 RGB frame at `ts` seconds."""
        if self.phase == "done":
            return
        if self.phase_start is None:
            self.phase_start = ts
        if self.phase == "countdown" and ts - self.phase_start >= self.countdown - 1e-9:
            self.phase, self.phase_start = "recording", ts
            self.take = Take(len(self.saved) + 1)
        if self.phase != "recording":
            return
        take = self.take
        if take.times and ts - take.times[-1] > MAX_GAP_S:
            self.discard(f"frames stopped for {ts - take.times[-1]:.1f} s")
            self.phase_start = ts
            return
        take.frames.append(fit_frame(frame, self.max_side))
        take.times.append(ts)
        # the take is complete when its last frame's display time ends at `seconds`
        if ts + take.spacing - self.phase_start >= self.seconds - 1e-6:
            self.phase_start = ts + take.spacing      # the next countdown starts with the next frame
            self.save()

    def save(self) -> None:
        """Write the take, at the frame rate its timestamps show (frames a slow loop
        dropped do not speed it up), and list it in the manifest: both whole, even when a
        stop signal comes meanwhile (`signals.deferred`)."""
        take, path = self.take, self.take_path(self.take.number)
        fps = round(1 / take.spacing, 3) if take.spacing > 0 else 30.0
        with deferred():
            write_video(path, take.frames, fps, codec=TAKE_CODEC)
            self.saved.append(path)
            self.take = None
            self.phase = "done" if len(self.saved) >= self.clips else "countdown"
            log.info("saved take %d/%d: %s (%d frames, %.1f s)", take.number, self.clips, path,
                     len(take.frames), len(take.frames) / fps)
            if self.on_saved is not None:
                self.on_saved(list(self.saved))

    def discard(self, reason: str) -> None:
        """Throw the take in progress away (nothing of it is on disk yet)."""
        if self.take is None:
            return
        message = f"take {self.take.number} discarded: {reason}"
        log.warning("%s", message)
        self.discarded.append(message)
        self.take, self.phase = None, "countdown"

    def status(self, ts: float | None) -> tuple[str, float, int | None]:
        """What the screen says now, the progress of the phase in [0, 1], and the whole
        seconds left of a countdown (None outside one)."""
        elapsed = 0.0 if ts is None or self.phase_start is None else max(0.0, ts - self.phase_start)
        number = len(self.saved) + 1
        if self.phase == "done":
            return f"done: {len(self.saved)} takes of {self.label}", 1.0, None
        if self.phase == "countdown":
            left = int(np.ceil(max(0.0, self.countdown - elapsed)))
            return (f"get ready: {self.label}, take {number}/{self.clips}",
                    elapsed / self.countdown if self.countdown else 1.0, max(1, left))
        return (f"REC {self.label}: take {number}/{self.clips}  {elapsed:.1f}/{self.seconds:g} s",
                elapsed / self.seconds, None)


def draw_status(frame: np.ndarray, text: str, progress: float, recording: bool,
                count: int | None = None) -> np.ndarray:
    """Annotate a copy of `(H, W, 3)` uint8 RGB for the window: the status line, a red dot
    and a red frame border while recording, `count` (seconds left of the countdown) large
    in the middle, and a progress bar along the bottom. Saved takes are never annotated."""
    out = frame.copy()
    h, w = out.shape[:2]
    scale = max(0.4, min(w, h) / 480)
    band = out[: int(40 * scale)]
    band[:] = (band * 0.4).astype(np.uint8)
    x = 10
    if recording:
        cv2.rectangle(out, (0, 0), (w - 1, h - 1), REC_RED, max(2, round(6 * scale)))
        cv2.circle(out, (int(18 * scale), int(20 * scale)), int(9 * scale), REC_RED, -1, cv2.LINE_AA)
        x = int(34 * scale)
    cv2.putText(out, text, (x, int(28 * scale)), _FONT, 0.7 * scale,
                (255, 90, 90) if recording else (255, 255, 255), max(1, round(2 * scale)), cv2.LINE_AA)
    if count is not None:
        size, thick = 5 * scale, max(2, round(10 * scale))
        (tw, th), _ = cv2.getTextSize(str(count), _FONT, size, thick)
        origin = ((w - tw) // 2, (h + th) // 2)
        cv2.putText(out, str(count), origin, _FONT, size, (0, 0, 0), thick + max(2, round(6 * scale)), cv2.LINE_AA)
        cv2.putText(out, str(count), origin, _FONT, size, COUNTDOWN_YELLOW, thick, cv2.LINE_AA)
    bar = int(w * min(1.0, max(0.0, progress)))
    cv2.rectangle(out, (0, h - int(8 * scale)), (bar, h), REC_RED if recording else COUNTDOWN_YELLOW, -1)
    return out


# ---------------------------------------------------------------- the manifest

def record_manifest(data_dir: Path, label: str, session: int, takes: list[Path], source: str,
                    seconds: float, started: str) -> Path:
    """Write this session's takes into `DATA/recordings.json` (rewritten atomically)."""
    manifest = data_dir / RECORDINGS_FILE
    data = read_manifest(manifest)
    data["sessions"][f"{label}_s{session:02d}"] = {
        "label": label, "session": f"s{session:02d}", "source": source, "seconds": seconds,
        "started": started, "takes": [str(path.relative_to(data_dir)) for path in takes]}
    return write_json_atomic(manifest, data)


def read_manifest(manifest: Path) -> dict:
    """The manifest's contents; a fresh one when absent, a warning when unreadable."""
    if not manifest.is_file():
        return {"format": 1, "sessions": {}}
    try:
        data = json.loads(manifest.read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("sessions"), dict):
            return data
    except (OSError, ValueError):
        pass
    log.warning("%s: unreadable; starting a new one (the takes themselves are untouched)", manifest)
    return {"format": 1, "sessions": {}}


def dataset_summary(data_dir: Path) -> list[str]:
    """One line per class folder of `data_dir`: takes, and sessions as the split sees them
    (`datasets.group_of`)."""
    lines = []
    for class_dir in class_dirs(data_dir):
        takes = [p for p in class_dir.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS
                 and not p.name.startswith(".")]
        sessions = {group_of(p, class_dir) for p in takes}
        lines.append(f"{class_dir.name}: {len(takes)} takes, {len(sessions)} session(s)")
    return lines


def background_hint(data_dir: Path, background: str) -> list[str]:
    """A line on recording a class of "no action" (`data.background_class`) once `data_dir`
    holds two or more actions and none of it: without one, live names the nearest action
    whatever you do, standing between sets included."""
    classes = {p.name for p in class_dirs(data_dir)}
    if len(classes) < 2 or not background or background in classes:
        return []
    return [f"no '{background}' class: live names the nearest action whatever you do; to have it say "
            f"\"no action\" between them, record yourself standing and walking about with --label "
            f"{background} (it costs some accuracy on the actions: docs/personal.md)"]


# ---------------------------------------------------------------- running

def run_record(source: str, data_dir: str | Path, label: str, plan: RecordConfig, headless: bool = False,
               realtime: bool | None = None, background: str = "none") -> int:
    """Record `plan.clips` takes of `label` from `source` into `data_dir`, each
    `plan.seconds` long after a `plan.countdown`; the exit code:
    0 (every take recorded, or `q`/Esc), 1 (the source ended or was lost first), 130 (Ctrl-C),
    143 (SIGTERM), 129 (SIGHUP).

    `realtime` (files only; None: on with a window, off headless) replays a file at its
    fps, as a camera would deliver it. `background`: the class that means "no action"
    (`data.background_class`), suggested in the summary while the dataset has none.
    """
    check_label(label)
    check_live_args(headless, None, hint="use --headless (with a file or stream source)")
    data_dir = Path(data_dir)
    src = FrameSource(source)
    class_dir = data_dir / label
    for stale in remove_stale_temporaries(class_dir, label):
        log.warning("removed a half-written take of an interrupted run: %s", stale)
    session = next_session(class_dir, label)
    started = datetime.now().isoformat(timespec="seconds")
    try:
        src.open()
    except KeyboardInterrupt as exc:
        src.release()
        reason, code = ending(exc)
        print(f"{reason} before the first frame", file=sys.stderr)
        return code
    recorder = TakeRecorder(class_dir, label, session, plan.clips, plan.seconds, plan.countdown, plan.max_side,
                            lambda takes: record_manifest(data_dir, label, session, takes, src.name,
                                                          plan.seconds, started))
    realtime = (not headless) if realtime is None else realtime
    try:
        window = None if headless else Window(f"actionrec record: {label}")
    except BaseException:
        src.release()
        raise
    buffer, thread = start_capture(src, realtime)
    ended = "error"          # stays so only when the loop raises
    try:
        ended = record_loop(recorder, buffer, window)
    except KeyboardInterrupt as exc:     # Ctrl-C, SIGTERM, SIGHUP (`signals`)
        ended = ending(exc)[0]
    finally:
        stop_capture(src, buffer, thread, window)
        if recorder.phase == "recording":
            recorder.discard(DISCARD_REASONS.get(ended, "the recorder failed"))
    return report(recorder, data_dir, ended, buffer, background)


def record_loop(recorder: TakeRecorder, buffer: FrameBuffer, window: Window | None) -> str:
    """Feed frames to `recorder` until every take is saved or the source ends; the reason."""
    while recorder.phase != "done":
        item = buffer.take(timeout=0.02 if window else 1.0)
        if item is None and buffer.exhausted():
            return buffer.ended
        screen = None
        if item is not None:
            recorder.feed(*item)
            if window is not None:
                text, progress, count = recorder.status(item[1])
                screen = draw_status(item[0], text, progress, recorder.phase == "recording", count)
        if window is not None and window.show(screen) == "quit":
            return "user_quit"
    return "done"


def report(recorder: TakeRecorder, data_dir: Path, ended: str, buffer: FrameBuffer, background: str = "none") -> int:
    """Say what was recorded, what was lost and what to do next; the exit code."""
    done = len(recorder.saved)
    where = recorder.class_dir
    if ended != "done":
        why = {"end_of_stream": "the source ended", "source_lost": buffer.message,
               "user_quit": "you stopped"}.get(ended, ended)
        print(f"{why} after {done} of {recorder.clips} takes of {recorder.label}; "
              f"the {done} saved take(s) are in {where}", file=sys.stderr)
    print(summary_block(f"record: {'done' if ended == 'done' else ended.replace('_', ' ')}", [
        ("takes", f"{done} of {recorder.clips} of {recorder.label} (session s{recorder.session:02d})"),
        ("discarded", len(recorder.discarded) or None), ("saved in", where),
        ("dataset", data_dir if data_dir.is_dir() else None)],
        f"record more actions, then: actionrec train --data {data_dir} --out weights/mine.safetensors",
        notes=dataset_summary(data_dir) + background_hint(data_dir, background) if data_dir.is_dir() else []))
    return {"done": 0, "user_quit": 0, **STOP_CODES}.get(ended, 1)
