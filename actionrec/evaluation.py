"""Scores -> metrics: top-1/top-5, mean class accuracy, clip vs video accuracy,
a per-class table and a confusion-matrix plot.

Video-level scores are the mean of a video's clip probabilities (multi-clip testing).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from .files import atomic_path, write_text_atomic


def video_scores(clip_probs: torch.Tensor, clip_video: torch.Tensor, num_videos: int) -> torch.Tensor:
    """Average clip probabilities `(M, K)` per video -> `(num_videos, K)`."""
    sums = torch.zeros(num_videos, clip_probs.shape[1]).index_add_(0, clip_video, clip_probs)
    counts = torch.bincount(clip_video, minlength=num_videos).clamp(min=1).unsqueeze(1)
    return sums / counts


def topk_accuracy(scores: torch.Tensor, labels: torch.Tensor, k: int) -> float:
    k = min(k, scores.shape[1])
    hits = (scores.topk(k, dim=1).indices == labels.unsqueeze(1)).any(dim=1)
    return float(hits.float().mean()) if len(labels) else 0.0


def confusion_matrix(pred: torch.Tensor, labels: torch.Tensor, num_classes: int) -> np.ndarray:
    """`(K, K)` counts, rows = true class, columns = predicted class."""
    cm = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(cm, (labels.numpy(), pred.numpy()), 1)
    return cm


def classification_metrics(clip_probs: torch.Tensor, clip_labels: torch.Tensor, clip_video: torch.Tensor,
                           video_labels: torch.Tensor, class_names: list[str]) -> dict:
    """All headline numbers; `top1`/`top5`/`mean_class_acc` are video-level."""
    scores = video_scores(clip_probs, clip_video, len(video_labels))
    pred = scores.argmax(1)
    cm = confusion_matrix(pred, video_labels, len(class_names))
    support = cm.sum(1)
    per_class = np.divide(np.diag(cm), support, out=np.zeros(len(cm)), where=support > 0)
    return {
        "top1": topk_accuracy(scores, video_labels, 1),
        "top5": topk_accuracy(scores, video_labels, 5),
        "mean_class_acc": float(per_class[support > 0].mean()) if (support > 0).any() else 0.0,
        "clip_top1": topk_accuracy(clip_probs, clip_labels, 1),
        "video_top1": topk_accuracy(scores, video_labels, 1),
        "num_videos": int(len(video_labels)),
        "num_clips": int(len(clip_labels)),
        "per_class": [{"class": name, "accuracy": float(acc), "videos": int(n)}
                      for name, acc, n in zip(class_names, per_class, support)],
        "confusion_matrix": cm.tolist(),
    }


def per_class_table(metrics: dict) -> str:
    width = max([len(row["class"]) for row in metrics["per_class"]] + [5])
    lines = [f"{'class':<{width}}  accuracy  videos"]
    lines += [f"{row['class']:<{width}}  {row['accuracy']:8.3f}  {row['videos']:6d}"
              for row in metrics["per_class"]]
    return "\n".join(lines)


def plot_confusion(cm: np.ndarray, class_names: list[str], path: str | Path, title: str) -> Path:
    """Row-normalised confusion matrix as a PNG (written atomically)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    norm = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = max(4.0, 0.45 * len(class_names) + 2)
    fig, ax = plt.subplots(figsize=(size, size))
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    ticks = np.arange(len(class_names))
    ax.set_xticks(ticks, class_names, rotation=90, fontsize=8)
    ax.set_yticks(ticks, class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    if len(class_names) <= 20:
        for i, j in zip(*np.nonzero(cm)):
            ax.text(j, i, str(cm[i, j]), ha="center", va="center", fontsize=7,
                    color="white" if norm[i, j] > 0.5 else "black")
    fig.tight_layout()
    with atomic_path(path, ".png") as tmp:
        fig.savefig(tmp, dpi=100)
    plt.close(fig)
    return path


def write_json(data: dict, path: str | Path) -> Path:
    return write_text_atomic(path, json.dumps(data, indent=2))
