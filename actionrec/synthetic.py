"""Synthetic videos for tests and the demo: written with OpenCV, no downloads."""

from __future__ import annotations

from pathlib import Path
from typing import Iterable

import cv2
import numpy as np


def write_video(path: str | Path, frames: Iterable[np.ndarray], fps: float = 25.0,
                codec: str = "MJPG") -> Path:
    """Write RGB uint8 frames `(H, W, 3)` to `path` (an .avi with MJPG by default).

    The file is written under a temporary name and renamed, so a reader never sees
    half a video.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    writer = None
    try:
        for frame in frames:
            if writer is None:
                h, w = frame.shape[:2]
                writer = cv2.VideoWriter(str(tmp), cv2.VideoWriter_fourcc(*codec), fps, (w, h))
                if not writer.isOpened():
                    raise OSError(f"{path}: OpenCV cannot write codec {codec!r}")
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        if writer is not None:
            writer.release()
    if writer is None:
        raise ValueError(f"{path}: no frames to write")
    tmp.replace(path)
    return path
