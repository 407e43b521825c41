"""The live loop: webcam, stream URL or video file -> labelled window, recording, stats.

A thin front end over `streaming.StreamingRecognizer`: every frame the loop handles
is pushed with its timestamp; the recognizer takes frames as steps at the bundle's
rate (e.g. 8 per second) and the rest are only shown, with the last prediction drawn
on them (`overlay.draw_prediction`, the same drawing for the window and the recording).

Capture and drops
-----------------
Frames are read in their own thread (`capture_frames`) and handed to the loop through
a `FrameBuffer` of `BUFFER_FRAMES` frames. Two modes:

- dropping (cameras, live stream URLs, and files or URLs of known length with
  `realtime`): the source never waits.
  A frame arriving at a full buffer pushes out the oldest one, and the loop takes the
  newest frame, dropping any older ones; both are counted in `frames_dropped`. When
  inference is slower than the source, the label is always about (nearly) the frame
  on screen, never about a backlog. A realtime file is paced at its own fps by the
  capture thread, so it behaves like a camera.
- blocking (files and URLs of known length without `realtime`, the default
  headless): the capture thread waits
  for room and the loop takes frames in order, so every frame is handled: the run is
  deterministic (tests, offline annotation).

Timestamps are media time `index / fps` for a file or a URL of known length, and
`time.monotonic()` at capture, counted from the first frame, for a camera or a live URL.

Ends and drops
--------------
The end of a file is a normal end (`ended = "end_of_stream"`, exit code 0), and so
is the end of a URL that finishes (an HTTP file, a video-on-demand playlist): one
whose length is known and has been read, or one that, reopened, starts again from
the very frame it first gave (a finished stream replays; a live one never gives a
bit-identical frame). A camera or URL that stops delivering frames otherwise is
reopened, `RETRY_DELAY_S` apart; after `RETRIES` attempts over the run the run ends
with `ended = "source_lost"` (exit code 1). A source that delivers frames for
`HEALTHY_S` after coming back earns its attempts back.
Whatever ends the run (end of stream, `q`/Esc, a closed window, `--max-frames`,
Ctrl-C, SIGTERM, SIGHUP, a lost source), the recording is finished and renamed into
place, and the stats are written; the exit code says which (`EXIT_CODES`).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .bundle import load_bundle
from .console import summary_block
from .errors import ActionRecError, ConfigError, VideoReadError
from .files import write_text_atomic
from .overlay import draw_prediction
from . import signals
from .signals import ending
from .streaming import Prediction, StreamingRecognizer, build_recognizer, step_threads
from .video_io import OpenCVReader, check_video_file, opencv_frame_to_rgb

log = logging.getLogger(__name__)

BUFFER_FRAMES = 2          # frames between capture and inference
RETRIES = 5                # reopen attempts over a run when a camera/URL stops delivering frames
RETRY_DELAY_S = 0.5        # ... this far apart
HEALTHY_S = 10.0           # a source delivering this long after coming back earns its attempts back
CAMERA_FPS = 30.0          # recording rate for cameras and URLs
WINDOW = "actionrec live"
EXIT_CODES = {"end_of_stream": 0, "user_quit": 0, "max_frames": 0, "source_lost": 1,
              **signals.EXIT_CODES,   # interrupted 130, terminated 143, hangup 129
              "error": 1}   # "error": the loop raised; the exception then gives the exit code
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


class LiveError(ActionRecError):
    """The live loop cannot start or write its outputs."""


# ---------------------------------------------------------------- sources

def source_kind(spec: str) -> str:
    """"camera" (all digits: a webcam index), "stream" (`scheme://...`) or "file"."""
    if spec.isdigit():
        return "camera"
    return "stream" if _URL.match(spec) else "file"


def open_capture(target: int | str) -> cv2.VideoCapture:
    """A webcam index or stream URL opened with OpenCV."""
    return cv2.VideoCapture(target)


class FrameSource:
    """One webcam, stream URL or video file, read one frame at a time.

    `read()` gives `(frame, ts)`: `(H, W, 3)` uint8 RGB and seconds (media time for a
    file; `time.monotonic()` at capture, from the first frame, for a camera or URL),
    or None at the end of a file or when a camera/URL read fails. `name` is what
    messages call it ("camera 0", the URL or the path).
    """

    def __init__(self, spec: str):
        self.spec, self.kind = str(spec), source_kind(str(spec))
        self.name = f"camera {self.spec}" if self.kind == "camera" else self.spec
        if self.kind == "file":
            check_video_file(self.spec)          # a missing file is named before the model loads
        self.fps = CAMERA_FPS
        self.length = 0          # frames of a URL of known length (0: a live stream)
        self.replayed = False    # reopened, the source gave its first frame again
        self._cap, self._reader = None, None
        self._index, self._t0, self._first = 0, None, None

    @property
    def is_live(self) -> bool:
        """A camera or URL: reopened when it stops delivering."""
        return self.kind != "file"

    @property
    def finite(self) -> bool:
        """A file or a URL of known length: read in full, timed by media time."""
        return self.kind == "file" or self.length > 0

    @property
    def position(self) -> int:
        """Frames read so far."""
        return self._index

    def finished(self) -> bool:
        """Whether a failed read means the source has ended rather than dropped: a file;
        a URL read to its known length (within 1%); a source that replayed."""
        if self.kind == "file" or self.replayed:
            return True
        return self.length > 0 and self._index >= self.length - max(1, round(0.01 * self.length))

    def open(self) -> None:
        """Open the source; `VideoReadError` naming it when it cannot be opened."""
        if self.kind == "file":
            self._reader = OpenCVReader(self.spec)
            self.fps = self._reader.fps
            return
        cap = open_capture(int(self.spec) if self.kind == "camera" else self.spec)
        if not cap.isOpened():
            cap.release()
            raise VideoReadError(self.name, "cannot open (no such device, or the stream does not answer)")
        self._cap = cap
        if self.kind == "stream" and self._first is None:     # the first open: what the URL is
            count, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
            if count > 0 and fps > 0:
                self.length, self.fps = int(count), float(fps)

    def read(self, after_reopen: bool = False) -> tuple[np.ndarray, float] | None:
        """The next frame; `after_reopen`: the first read after `reopen()`, None (and
        `replayed` set) when a URL started again from its first frame."""
        if self.kind == "file":
            return self._read_file()
        ok, frame = self._cap.read() if self._cap is not None else (False, None)
        if not ok or frame is None:
            return None
        if self.kind == "stream" and (self._first is None or after_reopen):
            fingerprint = hashlib.blake2b(frame.tobytes(), digest_size=16).digest()
            if self._first is None:
                self._first = fingerprint
            elif fingerprint == self._first:
                self.replayed = True
                return None
        now = time.monotonic()
        self._t0 = now if self._t0 is None else self._t0
        self._index += 1
        ts = (self._index - 1) / self.fps if self.length else now - self._t0
        return opencv_frame_to_rgb(frame, self.name), ts

    def _read_file(self) -> tuple[np.ndarray, float] | None:
        if self._reader is None or self._index >= self._reader.num_frames:
            return None
        try:
            frame = self._reader.get_frames([self._index])[0]
        except VideoReadError as exc:     # truncated: the stream ends where decoding does
            log.warning("%s; ending the stream there", exc)
            return None
        self._index += 1
        return frame, (self._index - 1) / self.fps

    def reopen(self) -> bool:
        """Release and open again; False when it cannot be opened."""
        self.release()
        try:
            self.open()
        except VideoReadError:
            return False
        return True

    def release(self) -> None:
        cap, reader, self._cap, self._reader = self._cap, self._reader, None, None
        if cap is not None:
            cap.release()
        if reader is not None:
            reader.close()


# ---------------------------------------------------------------- capture thread

class FrameBuffer:
    """The hand-off from the capture thread to the loop: at most `size` `(frame, ts)` items.

    Dropping: `put` never waits (a full buffer loses its oldest item) and `take` returns
    the newest item, dropping older ones. Blocking: `put` waits for room and `take`
    returns the oldest. `dropped` counts every item lost. The producer ends with
    `finish(reason)`; the loop stops the producer with `stop()`.
    """

    def __init__(self, size: int, drop: bool):
        self.size, self.drop = size, drop
        self.items: deque = deque()
        self.cond = threading.Condition()
        self.dropped = 0
        self.ended: str | None = None
        self.message: str | None = None
        self.stopped = False

    def put(self, item: tuple[np.ndarray, float]) -> bool:
        """Hand over one item; False once the loop has stopped."""
        with self.cond:
            while not self.drop and len(self.items) >= self.size and not self.stopped:
                self.cond.wait()
            if self.stopped:
                return False
            if len(self.items) >= self.size:
                self.items.popleft()
                self.dropped += 1
            self.items.append(item)
            self.cond.notify_all()
            return True

    def take(self, timeout: float) -> tuple[np.ndarray, float] | None:
        """The next item to handle, or None when none came within `timeout` seconds."""
        with self.cond:
            self.cond.wait_for(lambda: self.items or self.ended, timeout)
            if not self.items:
                return None
            if self.drop:
                self.dropped += len(self.items) - 1
                item = self.items.pop()
                self.items.clear()
            else:
                item = self.items.popleft()
            self.cond.notify_all()
            return item

    def exhausted(self) -> bool:
        with self.cond:
            return self.ended is not None and not self.items

    def finish(self, ended: str, message: str | None = None) -> None:
        with self.cond:
            self.ended, self.message = ended, message
            self.cond.notify_all()

    def stop(self) -> None:
        with self.cond:
            self.stopped = True
            self.cond.notify_all()

    def wait_stopped(self, seconds: float) -> bool:
        """Sleep up to `seconds`; True (at once) when the loop stops meanwhile."""
        with self.cond:
            return self.cond.wait_for(lambda: self.stopped, seconds)


def capture_frames(source: FrameSource, buffer: FrameBuffer, pace: bool) -> None:
    """Read `source` into `buffer` until the source ends or the loop stops (its own
    thread). `pace`: hold each frame until its media time has passed (realtime file)."""
    start, reopens = None, Reopens()
    try:
        while True:
            item = source.read()
            if item is None and not source.finished():
                item = recover(source, buffer, reopens)
            if item is None and source.finished():
                ended_early(source)
                buffer.finish("end_of_stream")
                return
            if item is None:
                buffer.finish("source_lost", f"{source.name}: stopped delivering frames; gave up "
                                             f"after {RETRIES} reopen attempts {RETRY_DELAY_S:g} s apart")
                return
            reopens.delivered()
            if pace:
                start = start if start is not None else time.monotonic() - item[1]
                time.sleep(max(0.0, start + item[1] - time.monotonic()))
            if not buffer.put(item):
                return
    except Exception as exc:   # never leave the loop waiting for frames that will not come
        buffer.finish("source_lost", f"{source.name}: capture failed: {type(exc).__name__}: {exc}")


class Reopens:
    """Reopen attempts used over a run; a source that has delivered frames for `HEALTHY_S`
    since it last came back earns them back."""

    def __init__(self):
        self.used, self.back_at = 0, None

    def delivered(self) -> None:
        if self.back_at is not None and time.monotonic() - self.back_at >= HEALTHY_S:
            self.used, self.back_at = 0, None


def recover(source: FrameSource, buffer: FrameBuffer, reopens: Reopens) -> tuple[np.ndarray, float] | None:
    """Reopen a camera/URL that stopped delivering: the first frame after it comes back;
    None when the attempts of the run are used up, the loop stops meanwhile, or the
    source turns out to have ended (it replays from its first frame)."""
    while reopens.used < RETRIES:
        reopens.used += 1
        log.warning("%s: no frame; reopening (%d/%d)", source.name, reopens.used, RETRIES)
        if buffer.wait_stopped(RETRY_DELAY_S):
            return None
        if source.reopen():
            item = source.read(after_reopen=True)
            if source.replayed:
                return None
            if item is not None:
                log.warning("%s: back", source.name)
                reopens.back_at = time.monotonic()
                return item
    return None


def ended_early(source: FrameSource) -> None:
    """Say so when a URL of known length ended (replayed) before its length was read."""
    if source.replayed:
        log.info("%s: reopened, it started again from its first frame: the stream has ended", source.name)
    if source.replayed and source.length and source.position < source.length - 1:
        log.warning("%s: ended after %d of its %d frames (the connection dropped, and a URL "
                    "reopened from its start is not replayed)", source.name, source.position, source.length)


# ---------------------------------------------------------------- outputs

@dataclass
class LiveStats:
    """Counts, step latencies and the label timeline of one run.

    `runs`: `[label, start_s, score_sum, steps]` per run of consecutive steps with the
    same label; `stream_end` (s) closes the last run.
    """
    source: str
    frames_processed: int = 0
    steps: int = 0
    latencies: list = field(default_factory=list)
    runs: list = field(default_factory=list)
    stream_end: float = 0.0
    started: float | None = None
    finished: float | None = None
    paused_s: float = 0.0                 # time spent paused, not counted in `fps`
    paused_at: float | None = None

    def add_frame(self, end_ts: float) -> None:
        self.frames_processed += 1
        self.stream_end = max(self.stream_end, end_ts)
        now = time.perf_counter()
        self.started = now if self.started is None else self.started
        self.finished = now

    def add_step(self, pred: Prediction) -> None:
        self.steps += 1
        self.latencies.append(pred.latency_ms)
        if self.runs and self.runs[-1][0] == pred.label:
            self.runs[-1][2] += pred.score
            self.runs[-1][3] += 1
        else:
            self.runs.append([pred.label, pred.timestamp, pred.score, 1])

    def set_paused(self, paused: bool) -> None:
        now = time.perf_counter()
        if paused:
            self.paused_at = now
        elif self.paused_at is not None:
            self.paused_s += now - self.paused_at
            self.paused_at = None

    @property
    def fps(self) -> float:
        """Loop frames per second, first frame to last, time paused left out."""
        span = (self.finished or 0.0) - (self.started or 0.0) - self.paused_s
        return (self.frames_processed - 1) / span if self.frames_processed > 1 and span > 0 else 0.0

    def timeline(self) -> list[dict]:
        """Runs as `{start, end, label, score, steps}`; each ends where the next starts."""
        ends = [run[1] for run in self.runs[1:]] + [self.stream_end]
        return [{"start": round(start, 3), "end": round(max(end, start), 3), "label": label,
                 "score": round(total / n, 6), "steps": n}
                for (label, start, total, n), end in zip(self.runs, ends)]

    def to_dict(self, ended: str, dropped: int, **extra) -> dict:
        lat = np.asarray(self.latencies, dtype=float)
        p50, p95 = (round(float(np.percentile(lat, q)), 2) for q in (50, 95)) if lat.size else (None, None)
        return {"source": self.source, "ended": ended, "frames_processed": self.frames_processed,
                "frames_dropped": dropped, "steps": self.steps, "fps": round(self.fps, 2),
                "latency_ms_p50": p50, "latency_ms_p95": p95, **extra, "timeline": self.timeline()}


def write_json_atomic(path: str | Path, data: dict) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2) + "\n")


class Recording:
    """Annotated frames -> `path` (mp4v at `fps`), written under a temporary name that
    `finish()` renames: the file is only ever seen complete and playable."""

    def __init__(self, path: str | Path, fps: float):
        self.path, self.fps = Path(path), fps
        self.tmp = self.path.with_name(f".{self.path.stem}.{os.getpid()}.tmp{self.path.suffix or '.mp4'}")
        self.writer, self.frames = None, 0

    def write(self, frame: np.ndarray) -> None:
        """Append `(H, W, 3)` uint8 RGB; the writer opens at the first frame (its size)."""
        if self.writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            h, w = frame.shape[:2]
            self.writer = cv2.VideoWriter(str(self.tmp), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, (w, h))
            if not self.writer.isOpened():
                raise LiveError(f"{self.path}: OpenCV cannot write an mp4v video here")
        self.writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        self.frames += 1

    def finish(self) -> Path | None:
        """Close the file and move it into place; None when no frame was written."""
        if self.writer is None:
            return None
        self.writer.release()
        self.writer = None
        os.replace(self.tmp, self.path)
        return self.path


class Window:
    """The OpenCV window (never created headless): shows RGB frames, reports keys."""

    def __init__(self, title: str = WINDOW):
        self.title = title
        cv2.namedWindow(title, cv2.WINDOW_AUTOSIZE | cv2.WINDOW_GUI_NORMAL)

    def show(self, frame: np.ndarray | None) -> str | None:
        """Show `(H, W, 3)` uint8 RGB (None: only poll the keys); "quit" (q, Esc, window
        closed), "pause" (space) or None."""
        if frame is not None:
            cv2.imshow(self.title, cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        key = cv2.waitKey(1) & 0xFF
        if key in (ord("q"), 27):
            return "quit"
        if key == ord(" "):
            return "pause"
        try:
            visible = cv2.getWindowProperty(self.title, cv2.WND_PROP_VISIBLE)
        except cv2.error:
            return "quit"
        return "quit" if visible < 1 else None

    def close(self) -> None:
        try:
            cv2.destroyWindow(self.title)
            cv2.waitKey(1)
        except cv2.error:
            pass


# ---------------------------------------------------------------- the loop

class LiveLoop:
    """Take frames from the buffer, push them, draw, show, record, count."""

    def __init__(self, recognizer: StreamingRecognizer, source: FrameSource, window: Window | None,
                 recording: Recording | None, max_frames: int | None):
        self.recognizer, self.source = recognizer, source
        self.window, self.recording, self.max_frames = window, recording, max_frames
        self.stats = LiveStats(source.name)
        self.pred: Prediction | None = None
        self.frame: np.ndarray | None = None       # the last frame handled, (H, W, 3) uint8 RGB
        self.screen: np.ndarray | None = None      # ... annotated
        self.clock: deque = deque(maxlen=30)       # perf_counter of recent frames: the shown fps
        self.paused = False

    def run(self, buffer: FrameBuffer) -> str:
        """Handle frames until the run ends; the reason (`LiveStats` `ended` values)."""
        while self.max_frames is None or self.stats.frames_processed < self.max_frames:
            item = None
            if not self.paused:
                item = buffer.take(timeout=0.02 if self.window else 1.0)
                if item is None and buffer.exhausted():
                    return buffer.ended
                if item is not None:
                    self.handle(*item)
            if self.window is not None and self.interact(fresh=item is not None) == "quit":
                return "user_quit"
        return "max_frames"

    def handle(self, frame: np.ndarray, ts: float) -> None:
        """Push one `(H, W, 3)` uint8 RGB frame; draw, record and count it."""
        pred = self.recognizer.push(frame, ts)
        if pred is not None:
            self.pred = pred
            self.stats.add_step(pred)
        self.clock.append(time.perf_counter())
        with signals.deferred():        # a stop between the two would leave the stats a frame ahead
            self.stats.add_frame(ts + 1.0 / self.source.fps if self.source.finite else ts)
            self.frame = frame
            self.screen = self.annotate()
            if self.recording is not None:
                self.recording.write(self.screen)

    def annotate(self) -> np.ndarray:
        latency = self.pred.latency_ms if self.pred is not None else None
        return draw_prediction(self.frame.copy(), self.pred, self.shown_fps(), latency, self.paused)

    def shown_fps(self) -> float | None:
        span = self.clock[-1] - self.clock[0] if len(self.clock) > 1 else 0.0
        return (len(self.clock) - 1) / span if span > 0 else None

    def interact(self, fresh: bool) -> str | None:
        """Show the newest annotated frame (the last one, marked PAUSED, while paused) and
        act on the keys; "quit" when the user asks to stop."""
        action = self.window.show(self.screen if fresh else None)
        if action == "pause" and self.frame is not None:
            self.paused = not self.paused
            self.stats.set_paused(self.paused)
            self.clock.clear()
            self.window.show(self.annotate())
        if self.paused:
            time.sleep(0.03)
        return action if action == "quit" else None


# ---------------------------------------------------------------- running

def start_capture(source: FrameSource, realtime: bool) -> tuple[FrameBuffer, threading.Thread]:
    """The buffer and the started capture thread: dropping for live sources and realtime
    files or URLs of known length (paced at their fps), blocking otherwise."""
    buffer = FrameBuffer(BUFFER_FRAMES, drop=not source.finite or realtime)
    thread = threading.Thread(target=capture_frames, name="actionrec-capture", daemon=True,
                              args=(source, buffer, realtime and source.finite))
    thread.start()
    return buffer, thread


def run_live(bundle_path: str | Path, source: str, cfg, headless: bool = False,
             output: str | Path | None = None, stats: str | Path | None = None,
             max_frames: int | None = None, realtime: bool | None = None) -> int:
    """Label `source` (webcam index, stream URL or video file) live; the exit code:
    0 (end of file or stream, quit, closed window, `max_frames`), 1 (source lost),
    130 (Ctrl-C), 143 (SIGTERM), 129 (SIGHUP).

    `realtime` (files only; None: on with a window, off headless) replays a file at its
    fps, dropping frames that inference cannot keep up with, as a camera would.
    """
    check_live_args(headless, max_frames)
    src = FrameSource(source)
    try:
        loop = prepare(bundle_path, src, cfg, headless, output, max_frames)
    except KeyboardInterrupt as exc:
        src.release()
        reason, code = ending(exc)
        print(f"{reason} before the first frame", file=sys.stderr)
        return code
    realtime = (not headless) if realtime is None else realtime
    buffer, thread = start_capture(src, realtime)
    ended = "error"          # stays so only when the loop raises
    try:
        with step_threads(loop.recognizer):
            ended = loop.run(buffer)
    except KeyboardInterrupt as exc:     # Ctrl-C, SIGTERM, SIGHUP (`signals`)
        ended = ending(exc)[0]
    finally:
        finish_run(loop, src, buffer, thread, ended, stats, realtime)
    return report(loop, buffer, ended, stats)


def check_live_args(headless: bool, max_frames: int | None,
                    hint: str = "use --headless with --output and/or --stats") -> None:
    """Refuse what would fail later, or crash Qt: `max_frames` < 1, a window without a display."""
    if max_frames is not None and max_frames < 1:
        raise ConfigError(f"--max-frames must be at least 1, got {max_frames}")
    no_display = not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    if not headless and sys.platform.startswith("linux") and no_display:
        raise LiveError(f"no display for the window (DISPLAY is not set): {hint}")


def prepare(bundle_path: str | Path, src: FrameSource, cfg, headless: bool,
            output: str | Path | None, max_frames: int | None) -> LiveLoop:
    """Load the bundle and warm the encoder, open the source, then the window."""
    recognizer = build_recognizer(load_bundle(bundle_path), cfg)
    src.open()
    try:
        window = None if headless else Window()
    except BaseException:
        src.release()
        raise
    recording = Recording(output, src.fps) if output else None
    return LiveLoop(recognizer, src, window, recording, max_frames)


def stop_capture(source: FrameSource, buffer: FrameBuffer, thread: threading.Thread,
                 window: Window | None) -> None:
    """Stop the capture thread, release the source and close the window."""
    buffer.stop()
    thread.join(timeout=RETRY_DELAY_S + 2.0)
    if thread.is_alive():    # stuck in a read (a dead network stream): releasing would race it
        log.warning("%s: capture thread still blocked in a read; not released", source.name)
    else:
        source.release()
    if window is not None:
        window.close()


def finish_run(loop: LiveLoop, source: FrameSource, buffer: FrameBuffer, thread: threading.Thread,
               ended: str, stats: str | Path | None, realtime: bool) -> None:
    """Stop the capture, release the source, close the window, finish the recording and
    write the stats; also when the run ends on an error."""
    stop_capture(source, buffer, thread, loop.window)
    output = loop.recording.finish() if loop.recording is not None else None
    if stats:
        data = loop.stats.to_dict(ended, buffer.dropped, source_fps=round(source.fps, 3),
                                  realtime=realtime or not source.finite,
                                  output=str(output) if output else None)
        write_json_atomic(stats, data)


def report(loop: LiveLoop, buffer: FrameBuffer, ended: str, stats: str | Path | None) -> int:
    """The reason a lost source was given up (stderr), the summary block; the exit code."""
    s = loop.stats
    if ended == "source_lost":
        print(f"error: {buffer.message}", file=sys.stderr)
    lat = s.to_dict(ended, buffer.dropped)
    print(summary_block(f"live: {ended.replace('_', ' ')}", [
        ("source", s.source),
        ("frames", f"{s.frames_processed} handled, {buffer.dropped} dropped; {s.steps} steps; {s.fps:.1f} fps"),
        ("latency", f"p50 {lat['latency_ms_p50']} ms, p95 {lat['latency_ms_p95']} ms" if s.steps else None),
        ("last label", s.runs[-1][0] if s.runs else None),
        ("video", loop.recording.path if loop.recording and loop.recording.frames else None),
        ("stats", stats)]))
    return EXIT_CODES[ended]
