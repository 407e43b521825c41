"""Stop signals: SIGTERM and SIGHUP end a run the way Ctrl-C does.

`timeout`, `docker stop`, systemd and job schedulers stop a process with SIGTERM; a
closed terminal sends SIGHUP. Inside `stop_signals()` both raise `Terminated` in the
main thread. `Terminated` is a `KeyboardInterrupt`, so every place that already
finishes its work on Ctrl-C (the live recording, the stats, the results file, the
take in progress) does the same for them. `ending(exc)` names the reason and the exit
code a command returns: 130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP (128 + the
signal's number, as shells report a process killed by it).

Only the first signal raises; later ones, while the run is finishing its outputs, are
noted and ignored, so a second `docker stop` cannot cut the recording being closed.
`deferred()` holds a signal back, Ctrl-C included, for a short critical section (a take
being written, a live frame counted and recorded) and raises it when the section ends.
"""

from __future__ import annotations

import logging
import signal
import threading
from contextlib import contextmanager
from typing import Iterator

log = logging.getLogger(__name__)

STOP_SIGNALS = tuple(s for s in (getattr(signal, "SIGTERM", None), getattr(signal, "SIGHUP", None)) if s)
REASONS = {signal.SIGINT: "interrupted"} | {s: {"SIGTERM": "terminated", "SIGHUP": "hangup"}[s.name]
                                             for s in STOP_SIGNALS}
EXIT_CODES = {reason: 128 + int(s) for s, reason in REASONS.items()}   # as shells report a signal


class Terminated(KeyboardInterrupt):
    """A stop signal (SIGTERM, SIGHUP) received by the main thread."""

    def __init__(self, signum: int):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def ending(exc: BaseException) -> tuple[str, int]:
    """The reason a run ended on `exc` (a `KeyboardInterrupt`) and its exit code:
    ("interrupted", 130), ("terminated", 143) or ("hangup", 129)."""
    reason = REASONS[signal.Signals(exc.signum if isinstance(exc, Terminated) else signal.SIGINT)]
    return reason, EXIT_CODES[reason]


class _State:
    def __init__(self):
        self.received: int | None = None   # the first stop signal
        self.depth = 0                      # nesting of `deferred()`
        self.pending: int | None = None     # a signal held back by `deferred()`


_state = _State()


def _handle_interrupt(signum: int, frame) -> None:
    """Ctrl-C: Python's own `KeyboardInterrupt`, held back inside `deferred()`."""
    if _state.depth:
        _state.pending = _state.pending or signum
        return
    signal.default_int_handler(signum, frame)


def _handle(signum: int, _frame) -> None:
    if _state.received is not None:
        log.warning("%s received again while finishing; ignored", signal.Signals(signum).name)
        return
    _state.received = signum
    if _state.depth:
        _state.pending = signum
        return
    raise Terminated(signum)


@contextmanager
def stop_signals() -> Iterator[_State]:
    """Within: SIGTERM and SIGHUP raise `Terminated`, and Ctrl-C `KeyboardInterrupt`, except
    inside `deferred()` (main thread only; elsewhere a no-op; a signal the process was started
    ignoring, as under `nohup`, stays ignored). The previous handlers come back on exit.
    Yields the state: `.received` is the stop signal."""
    if threading.current_thread() is not threading.main_thread():
        yield _state
        return
    # a signal ignored when we started stays ignored: `nohup` means it for SIGHUP
    handlers = {s: _handle for s in STOP_SIGNALS}
    if signal.getsignal(signal.SIGINT) is signal.default_int_handler:   # not one a library installed
        handlers[signal.SIGINT] = _handle_interrupt
    previous = {s: signal.signal(s, h) for s, h in handlers.items() if signal.getsignal(s) is not signal.SIG_IGN}
    _state.received = _state.pending = None
    try:
        yield _state
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


@contextmanager
def deferred() -> Iterator[None]:
    """Hold a stop signal or Ctrl-C back until the block ends, then raise it (a short
    critical section: a file that must be written whole; a frame counted and recorded)."""
    _state.depth += 1
    try:
        yield
    finally:
        _state.depth -= 1
        if not _state.depth and _state.pending is not None:
            signum, _state.pending = _state.pending, None
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            raise Terminated(signum)
