"""Drawing predictions onto frames, shared by the live window, its recording and
the batch labeller's annotated copies."""

from __future__ import annotations

import cv2
import numpy as np

from .streaming import Prediction

FONT = cv2.FONT_HERSHEY_SIMPLEX


def headline(pred: Prediction | None) -> tuple[str, tuple[int, int, int]]:
    """The overlay's first line and its RGB colour: the label and its confidence, or why
    there is none."""
    grey = (200, 200, 200)
    if pred is None or pred.warming_up:
        return ("warming up..." if pred is not None else "waiting..."), grey
    if pred.nobody:
        return "no action (nobody in view)", grey
    if pred.label is None:
        return f"no action ({pred.score:.0%})", grey
    return f"{pred.label} {pred.score:.0%}", (80, 255, 80)


def draw_prediction(frame: np.ndarray, pred: Prediction | None, fps: float | None = None,
                    latency_ms: float | None = None, paused: bool = False) -> np.ndarray:
    """Annotate `(H, W, 3)` uint8 RGB in place (and return it): label and confidence,
    the top 3 as bars, and FPS / latency when given."""
    h, w = frame.shape[:2]
    scale = max(0.4, min(w, h) / 480)
    thick = max(1, round(scale * 2))
    panel = frame[: int(110 * scale) + 10, : min(w, int(330 * scale))]
    panel[:] = (panel * 0.45).astype(np.uint8)           # darken behind the text
    title, colour = headline(pred)
    y = int(28 * scale)
    cv2.putText(frame, title, (8, y), FONT, 0.8 * scale, colour, thick, cv2.LINE_AA)
    for name, prob in (pred.topk[:3] if pred is not None else []):
        y += int(22 * scale)
        bar = int(120 * scale * prob)
        cv2.rectangle(frame, (8, y - int(12 * scale)), (8 + bar, y), (70, 140, 255), -1)
        cv2.putText(frame, f"{name} {prob:.2f}", (int(134 * scale), y), FONT, 0.5 * scale,
                    (255, 255, 255), max(1, thick - 1), cv2.LINE_AA)
    status = []
    if fps is not None:
        status.append(f"{fps:.1f} fps")
    if latency_ms is not None:
        status.append(f"{latency_ms:.1f} ms")
    if paused:
        status.append("PAUSED")
    if status:
        cv2.putText(frame, "  ".join(status), (8, h - 10), FONT, 0.55 * scale, (255, 255, 0),
                    max(1, thick - 1), cv2.LINE_AA)
    return frame
