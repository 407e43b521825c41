"""Ablation: global vs grid pooling, LSTM vs the order-blind baseline, on synthetic
time-reversed pairs and on classes that differ only in appearance.

    python scripts/ablation.py                       # default variants, writes docs/ablation.md
    python scripts/ablation.py --groups 6 --clips 3  # smaller, faster

Each variant trains and evaluates with the demo config plus its overrides, on the
same generated dataset and split; the baseline (mean-pooled features + linear) is
trained on the same cached features as the LSTM of that row.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from actionrec.config import load_config
from actionrec.demo import PAIRS
from actionrec.pipeline import evaluate, train
from actionrec.synthetic import APPEARANCE_CLASSES, DEMO_CLASSES, make_ucf_dataset

VARIANTS = {
    "global": ["backbone.pooling=global"],
    "grid3": ["backbone.pooling=grid", "backbone.grid=3"],
    "grid3+deltas": ["backbone.pooling=grid", "backbone.grid=3", "head.deltas=true"],
}


def accuracy(metrics: dict, key: str, classes) -> float:
    rows = {r["class"]: r["accuracy"] for r in metrics[key]}
    return sum(rows[c] for c in classes) / len(classes)


def run_variant(name: str, overrides: list[str], data: Path, work: Path, seeds: int) -> dict:
    results = []
    for seed in range(seeds):
        cfg = load_config("demo", [*overrides, f"train.seed={seed}", f"cache.dir={work / 'cache'}",
                                   f"logging.run_dir={work / 'runs'}", "logging.wandb=disabled",
                                   "logging.progress_bar=false"])
        start = time.perf_counter()
        result = train(data, cfg, work / f"{name}-{seed}.safetensors", progress=False)
        m = evaluate(result.bundle, data, cfg, json_path=work / f"{name}-{seed}.json", progress=False)
        results.append({"top1": m["top1"], "baseline_top1": m["baseline_top1"],
                        "appearance": accuracy(m, "per_class", APPEARANCE_CLASSES),
                        "baseline_appearance": accuracy(m, "baseline_per_class", APPEARANCE_CLASSES),
                        **{f"{a}/{b}": accuracy(m, "per_class", (a, b)) for a, b in PAIRS},
                        **{f"baseline {a}/{b}": accuracy(m, "baseline_per_class", (a, b)) for a, b in PAIRS},
                        "seconds": time.perf_counter() - start})
    return {k: sum(r[k] for r in results) / len(results) for k in results[0]}


def table(rows: dict, data_desc: str, seeds: int) -> str:
    """Markdown; each cell is `LSTM / order-blind baseline` top-1 accuracy."""
    cols = ["all classes", *[f"{a}/{b}" for a, b in PAIRS], "appearance"]
    keys = [("top1", "baseline_top1"), *[(f"{a}/{b}", f"baseline {a}/{b}") for a, b in PAIRS],
            ("appearance", "baseline_appearance")]
    lines = [f"Data: {data_desc}; mean of {seeds} training seed(s). "
             "Cells: LSTM / order-blind baseline, top-1.", "",
             "| variant | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, r in rows.items():
        cells = [f"{r[a]:.2f} / {r[b]:.2f}" for a, b in keys]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workdir", default="runs/ablation")
    p.add_argument("--groups", type=int, default=10)
    p.add_argument("--clips", type=int, default=4)
    p.add_argument("--test-groups", type=int, default=3)
    p.add_argument("--seeds", type=int, default=2)
    p.add_argument("--variants", nargs="*", default=list(VARIANTS), choices=list(VARIANTS))
    p.add_argument("--out", default="docs/ablation.md")
    args = p.parse_args()
    work = Path(args.workdir)
    classes = (*DEMO_CLASSES, *APPEARANCE_CLASSES)
    data = make_ucf_dataset(work / "data", classes=classes, groups=args.groups,
                            clips_per_group=args.clips, test_groups=args.test_groups)
    desc = (f"{len(classes)} classes x {args.groups} groups x {args.clips} clips, "
            f"groups 1-{args.test_groups} held out for test")
    rows = {}
    for name in args.variants:
        rows[name] = run_variant(name, VARIANTS[name], data, work, args.seeds)
        print(f"{name}: " + json.dumps({k: round(v, 3) for k, v in rows[name].items()}), flush=True)
    text = table(rows, desc, args.seeds)
    print("\n" + text)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
