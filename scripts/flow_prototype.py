"""A flow-only reference on a UCF101-layout temporal set, outside the package's recipe.

    python scripts/flow_prototype.py --data data/temporal_dev [--size 320x240] [--grid 4] [--seeds 0 1 2]

DIS optical flow (OpenCV, `medium`) between 16 uniformly spaced frames of each video,
on grey frames resized to `--size`; the frame's median flow is subtracted (camera
shake); mean dx, dy and magnitude per cell of a `--grid` x `--grid` grid; the 15 steps
go into a 2-layer, 128-unit LSTM trained with Adam (60 epochs, batch 16) on split 1's
training list, read at its last step, and scored on the test list. Prints top-1 and
per-class accuracy per seed. `docs/accuracy.md` compares it with the default recipe to
tell how hard a stand-in set is.
"""

from __future__ import annotations

import argparse
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

STEPS = 16


def flow_cells(path: str, size: tuple[int, int], grid: int) -> np.ndarray:
    """`(STEPS - 1, grid * grid * 3)` float32: per step, each cell's mean dx, dy, magnitude."""
    cap = cv2.VideoCapture(path)
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    picks = np.linspace(0, len(frames) - 1, STEPS).round().astype(int)
    grey = [cv2.resize(cv2.cvtColor(frames[i], cv2.COLOR_BGR2GRAY), size, interpolation=cv2.INTER_AREA)
            for i in picks]
    dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    w, h = size
    steps = []
    for before, now in zip(grey, grey[1:]):
        flow = dis.calc(before, now, None)
        flow -= np.median(flow.reshape(-1, 2), axis=0)
        x = np.concatenate([flow, np.linalg.norm(flow, axis=2, keepdims=True)], axis=2)
        x = x[: h // grid * grid, : w // grid * grid]
        steps.append(x.reshape(grid, h // grid, grid, w // grid, 3).mean((1, 3)).ravel())
    return np.asarray(steps, np.float32)


def split(root: Path, name: str, classes: list[str]) -> list[tuple[str, int]]:
    items = []
    for line in (root / "ucfTrainTestlist" / name).read_text().splitlines():
        if line.strip():
            rel = line.split()[0]
            items.append((str(root / rel), classes.index(rel.split("/")[0])))
    return items


def fit_and_score(x_train, y_train, x_test, y_test, seed: int) -> tuple[float, np.ndarray]:
    torch.manual_seed(seed)
    lstm = torch.nn.LSTM(x_train.shape[2], 128, 2, batch_first=True, dropout=0.3)
    head = torch.nn.Linear(128, int(y_train.max()) + 1)
    opt = torch.optim.Adam([*lstm.parameters(), *head.parameters()], 1e-3)
    for _ in range(60):
        order = torch.randperm(len(x_train))
        for i in range(0, len(order), 16):
            batch = order[i:i + 16]
            loss = F.cross_entropy(head(lstm(x_train[batch])[0][:, -1]), y_train[batch])
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(lstm.parameters(), 5.0)
            opt.step()
    with torch.no_grad():
        pred = head(lstm(x_test)[0][:, -1]).argmax(1)
    per_class = np.array([(pred[y_test == k] == k).float().mean().item() for k in range(head.out_features)])
    return (pred == y_test).float().mean().item(), per_class


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, required=True, help="UCF101-layout dataset (ucfTrainTestlist/)")
    p.add_argument("--size", default="320x240", help="flow frame size WxH (default 320x240)")
    p.add_argument("--grid", type=int, default=4)
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    args = p.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    classes = [line.split()[1] for line in (args.data / "ucfTrainTestlist" / "classInd.txt").read_text().split("\n")
               if line.strip()]
    train, test = split(args.data, "trainlist01.txt", classes), split(args.data, "testlist01.txt", classes)
    cv2.setNumThreads(1)
    torch.set_num_threads(1)
    encode = partial(flow_cells, size=size, grid=args.grid)
    with ProcessPoolExecutor(2) as pool:
        x_train = np.stack(list(pool.map(encode, [path for path, _ in train])))
        x_test = np.stack(list(pool.map(encode, [path for path, _ in test])))
    mean, std = x_train.mean((0, 1)), x_train.std((0, 1)) + 1e-6
    x_train, x_test = (torch.tensor((x - mean) / std) for x in (x_train, x_test))
    y_train, y_test = torch.tensor([y for _, y in train]), torch.tensor([y for _, y in test])
    scores = []
    for seed in args.seeds:
        top1, per_class = fit_and_score(x_train, y_train, x_test, y_test, seed)
        scores.append(top1)
        print(f"seed {seed}: top-1 {top1:.3f}  " + "  ".join(f"{c} {a:.2f}" for c, a in zip(classes, per_class)))
    print(f"mean top-1 {np.mean(scores):.3f} ± {np.std(scores):.3f} over seeds {args.seeds}")


if __name__ == "__main__":
    main()
