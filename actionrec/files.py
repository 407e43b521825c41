"""Files written whole: under a temporary name beside the target, then renamed.

A reader (or a resumed run) never sees half a file, and a run stopped part way
(an error, Ctrl-C, SIGTERM) leaves no temporary file behind.
"""

from __future__ import annotations

import os
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator


@contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yields `.<name>.<pid>-<thread>.tmp<suffix>` beside `path` to write; on success it replaces
    `path`, on any exception (interrupts included) it is removed. `suffix` keeps an
    extension that the writer reads (`.npy`, `.mp4`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}-{threading.get_ident()}.tmp{suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write `text` (UTF-8) to `path` whole."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return Path(path)
