"""What the commands print: progress that fits where it goes, the libraries underneath
kept quiet, and one summary block at the end.

- Progress (`Progress`, `EpochLines`): a live bar on a terminal; on a pipe, a file or
  under `CI=true`, no redraws: a plain line every `PLAIN_EVERY_S` seconds and one at
  the end (per epoch for training). `--quiet`: none at all.
- Library chatter (`quiet_libraries`): OpenCV's and FFmpeg's log lines and decord's C++
  messages are written by native code straight to the process's stderr file
  descriptor. For the run of a command that descriptor points at a capture file,
  while Python's own `sys.stderr` (our messages, warnings, the bars) keeps the real
  one. Bad files are still reported once, in our words, naming the file. The capture
  is kept (and its path printed) only when the command crashes, for a bug report.
  Lightning's and wandb's notices are silenced at their loggers. `--verbose` or
  `ACTIONREC_LOG=debug` turns all of this off.
- The summary block (`summary_block`): what was done, the key numbers, where the
  outputs are, what to run next; the same on a terminal and in a log.
"""

from __future__ import annotations

import logging
import os
import sys
import tempfile
import time
from contextlib import contextmanager
from typing import Iterator

PLAIN_EVERY_S = 10.0       # seconds between plain progress lines (pipe, file, CI)
QUIET_LOGGERS = ("lightning", "lightning.pytorch", "lightning.fabric", "pytorch_lightning", "wandb", "ray")


def verbose_requested() -> bool:
    return os.environ.get("ACTIONREC_LOG", "").lower() == "debug"


def interactive(stream=None) -> bool:
    """Whether `stream` (default stderr) is a terminal a bar can redraw on: a TTY, outside CI."""
    stream = sys.stderr if stream is None else stream
    if os.environ.get("CI", "").lower() in ("1", "true", "yes") or os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Progress:
    """Progress over `total` items: a tqdm bar on a terminal; elsewhere `desc: n/total
    units (seconds, rate/s)` every `PLAIN_EVERY_S` seconds, and at the end when it took
    that long; nothing when not `enabled`. `update(n)` counts items done; `close()` ends it."""

    def __init__(self, total: int, desc: str, unit: str, enabled: bool = True):
        self.total, self.desc, self.unit, self.enabled = total, desc, unit, enabled and total > 0
        self.done, self.start = 0, time.monotonic()
        self.last_line = self.start
        self.bar = None
        if self.enabled and interactive():
            from tqdm import tqdm
            self.bar = tqdm(total=total, desc=desc, unit=unit, file=sys.stderr)

    def update(self, n: int = 1) -> None:
        self.done += n
        if self.bar is not None:
            self.bar.update(n)
        elif self.enabled and time.monotonic() - self.last_line >= PLAIN_EVERY_S:
            self.line()

    def line(self) -> None:
        self.last_line = time.monotonic()
        seconds = self.last_line - self.start
        rate = f", {self.done / seconds:.1f} {self.unit}/s" if seconds > 0 and self.done else ""
        print(f"{self.desc}: {self.done}/{self.total} {self.unit}s ({seconds:.0f} s{rate})", file=sys.stderr)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        elif self.enabled and self.last_line > self.start:      # it printed: say it finished
            self.line()
        self.enabled = False

    def __enter__(self) -> "Progress":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def epoch_callback(label: str = ""):
    """A Lightning callback that prints one line per epoch (used where no bar is drawn):
    `epoch 8/30  train/loss 0.120  train/acc 1.000  val/loss 0.014  val/acc 1.000`; with a
    `label` (an ensemble's `head 2/3`), `epoch 8/30 (head 2/3)  ...`."""
    from lightning.pytorch.callbacks import Callback

    class EpochLines(Callback):
        def on_train_epoch_end(self, trainer, pl_module) -> None:
            metrics = {k: float(v) for k, v in trainer.callback_metrics.items()
                       if k.startswith(("train/", "val/")) and getattr(v, "numel", lambda: 1)() == 1}
            shown = "  ".join(f"{k} {v:.3f}" for k, v in sorted(metrics.items()))
            tag = f" ({label})" if label else ""
            print(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}{tag}  {shown}".rstrip(), file=sys.stderr)

    return EpochLines()


@contextmanager
def quiet_libraries(verbose: bool = False) -> Iterator[dict]:
    """For a command's run: native stderr chatter into a capture file (Python's
    `sys.stderr` keeps the real stream), OpenCV's log level at errors, Lightning's and
    wandb's notices off. Yields a dict whose `"failed"` the caller sets on a crash: the
    capture is then kept and named, else removed. A no-op when `verbose`."""
    state = {"failed": False}
    if verbose or verbose_requested():
        yield state
        return
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    os.environ.setdefault("WANDB_SILENT", "true")
    os.environ.setdefault("OPENCV_LOG_LEVEL", "ERROR")
    set_opencv_log_level("ERROR")
    try:
        with native_stderr_captured(state):
            yield state
    finally:
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


@contextmanager
def native_stderr_captured(state: dict) -> Iterator[None]:
    """File descriptor 2 into a capture file, Python's `sys.stderr` onto the real one (see
    `quiet_libraries`); nothing where there is no descriptor (an embedding host)."""
    try:
        sys.stderr.flush()
        real_fd = os.dup(2)
    except (AttributeError, OSError, ValueError):
        yield
        return
    capture = tempfile.NamedTemporaryFile(prefix="actionrec-libraries-", suffix=".log", delete=False)
    python_stderr = sys.stderr
    if writes_to_fd2(python_stderr):       # else (a test's capture, a host's stream) it stays as it is
        sys.stderr = os.fdopen(os.dup(real_fd), "w", buffering=1, errors="backslashreplace",
                               encoding=getattr(python_stderr, "encoding", None) or "utf-8")
    os.dup2(capture.fileno(), 2)
    try:
        yield
    finally:
        sys.stderr.flush()
        os.dup2(real_fd, 2)
        os.close(real_fd)
        if sys.stderr is not python_stderr:
            ours, sys.stderr = sys.stderr, python_stderr
            ours.close()
        capture.close()
        keep_or_remove(capture.name, state["failed"])


def writes_to_fd2(stream) -> bool:
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False


def keep_or_remove(path: str, failed: bool) -> None:
    """The capture file: named on stderr when the command crashed and it holds something."""
    if failed and os.path.getsize(path) > 0:
        print(f"messages from the libraries underneath (for a bug report): {path}", file=sys.stderr)
        return
    os.unlink(path)


def set_opencv_log_level(level: str) -> None:
    try:
        import cv2
        cv2.utils.logging.setLogLevel(getattr(cv2.utils.logging, f"LOG_LEVEL_{level}"))
    except (ImportError, AttributeError):
        pass


def summary_block(title: str, items: list[tuple[str, object]], next_step: str | None = None,
                  notes: list[str] = ()) -> str:
    """The block a command ends with: `== title ==`, aligned `key: value` lines (None
    values left out), indented `notes` (one per problem), and `next:` what to run next."""
    rows = [(k, str(v)) for k, v in items if v is not None]
    width = max((len(k) for k, _ in rows + [("next", "")]), default=0) + 1
    lines = [f"== {title} =="] + [f"{(k + ':').ljust(width)} {v}" for k, v in rows]
    lines += [f"  {note}" for note in notes]
    if next_step:
        lines.append(f"{'next:'.ljust(width)} {next_step}")
    return "\n".join(lines)
