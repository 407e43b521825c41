"""`actionrec demo`: the whole job on an embedded default, in a few minutes on 2 cores.

Generates a small UCF101-layout dataset of time-reversed pairs (grow/shrink, slide
left/right, turn clockwise/anticlockwise: each class is its partner played
backwards, so only the order of frames tells them apart), trains the head on frozen
pretrained features, evaluates it next to the order-blind baseline and reports
where the bundle, plots and logs are.
"""

from __future__ import annotations

import time
from pathlib import Path

from .config import Config
from .console import summary_block
from .pipeline import evaluate, order_blind, summary, train
from .synthetic import make_ucf_dataset

PAIRS = [("grow", "shrink"), ("slide_left", "slide_right"), ("turn_clockwise", "turn_anticlockwise")]


def pair_table(metrics: dict) -> str:
    """Accuracy of the LSTM and the baseline on each time-reversed pair."""
    lstm = {row["class"]: row["accuracy"] for row in metrics["per_class"]}
    base = {row["class"]: row["accuracy"] for row in metrics.get("baseline_per_class", [])}
    lines = [f"{'time-reversed pair':<34}  LSTM  baseline"]
    for a, b in PAIRS:
        if a in lstm and b in lstm:
            l = (lstm[a] + lstm[b]) / 2
            m = (base.get(a, float("nan")) + base.get(b, float("nan"))) / 2
            lines.append(f"{a + ' / ' + b:<34}  {l:.2f}  {m:.2f}")
    return "\n".join(lines)


def run_demo(cfg: Config, workdir: str | Path = "runs/demo", progress: bool = True) -> dict:
    start = time.perf_counter()
    workdir = Path(workdir)
    d = cfg.demo
    data = make_ucf_dataset(workdir / "data", classes=d.classes, groups=d.groups,
                            clips_per_group=d.clips_per_group, test_groups=d.test_groups,
                            num_frames=d.num_frames, size=(d.size, d.size))
    bundle_path = Path("weights") / "demo.safetensors"
    result = train(data, cfg, bundle_path, progress=progress)
    metrics = evaluate(bundle_path, data, cfg, json_path=result.run_dir / "eval" / "metrics.json",
                       progress=progress)
    seconds = time.perf_counter() - start
    print("\n" + summary(metrics))
    print("\n" + pair_table(metrics))
    extraction = (f"{result.extraction_fps:.1f} frames/s" if result.extraction_fps
                  else "reused from the cache")
    print("\n" + summary_block("demo: done", [
        ("test top-1", f"{metrics['top1']:.3f} (order-blind: {order_blind(metrics)})"),
        ("feature extraction", extraction),
        ("head training", f"{result.train_clips_per_second:.0f} clips/s from the cache"),
        ("bundle", result.bundle), ("metrics", metrics["json"]), ("confusion", metrics["confusion_png"]),
        ("logs", result.run_dir), ("wall time", f"{seconds:.0f} s")],
        f"actionrec live --bundle {result.bundle} --source 0   (or a video file)"))
    metrics["wall_seconds"] = seconds
    metrics["extraction_fps"] = result.extraction_fps
    metrics["train_clips_per_second"] = result.train_clips_per_second
    return metrics
