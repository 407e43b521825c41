"""Command line: argument parsing only; the work happens in `pipeline` and friends."""

from __future__ import annotations

import argparse
import logging
import sys
import warnings

from .config import dump_config, load_config
from .errors import ActionRecError


def add_config_args(p: argparse.ArgumentParser, default: str | None = "default") -> None:
    p.add_argument("--config", default=default, help="YAML file or preset name in configs/ "
                   f"(default: {default})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the full config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actionrec", description="Recognise human actions in video.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a head on a UCF101-style dataset and write a bundle")
    p.add_argument("--data", required=True, help="dataset root (UCF101, train/test folders, or list files)")
    p.add_argument("--fold", type=int, help="UCF101 split fold 1-3")
    p.add_argument("--epochs", type=int, help="maximum epochs")
    p.add_argument("--out", required=True, help="bundle to write, e.g. weights/my.safetensors")
    add_config_args(p)

    p = sub.add_parser("evaluate", help="score a bundle on a dataset's test split")
    p.add_argument("--bundle", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--fold", type=int)
    p.add_argument("--json", help="write the metrics here (default: runs/eval-*/metrics.json)")
    add_config_args(p)

    p = sub.add_parser("demo", help="generate a small dataset, train, evaluate: the whole job")
    p.add_argument("--workdir", default="runs/demo")
    add_config_args(p, default="demo")

    p = sub.add_parser("fetch-weights", help="fetch and verify the MobileNetV2 ImageNet weights offline")
    return parser


def configure_logging() -> None:
    """Our progress messages, plain, on stderr."""
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    ours = logging.getLogger("actionrec")
    ours.addHandler(handler)
    ours.setLevel(logging.INFO)
    ours.propagate = False


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    try:
        return run(args)
    except ActionRecError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    if args.command == "fetch-weights":
        from .weights import fetch_offline
        print(f"verified: {fetch_offline()}")
        return 0
    overrides = list(args.overrides)
    if getattr(args, "fold", None):
        overrides.append(f"data.fold={args.fold}")
    if getattr(args, "epochs", None):
        overrides.append(f"train.epochs={args.epochs}")
    cfg = load_config(args.config, overrides)
    if args.print_config:
        print(dump_config(cfg), end="")
        return 0
    progress = not args.quiet
    cfg.logging.progress_bar = cfg.logging.progress_bar and progress
    if args.command == "train":
        return run_train(args, cfg, progress)
    if args.command == "evaluate":
        return run_evaluate(args, cfg, progress)
    from .demo import run_demo
    run_demo(cfg, args.workdir, progress)
    return 0


def run_train(args, cfg, progress: bool) -> int:
    from .pipeline import train
    result = train(args.data, cfg, args.out, progress)
    print(f"bundle: {result.bundle}\nrun dir: {result.run_dir}")
    if result.best_val_acc is not None:
        print(f"best val accuracy: {result.best_val_acc:.3f} (order-blind baseline: {result.baseline_val_acc:.3f})")
    if result.skipped:
        print(f"skipped {len(result.skipped)} unreadable video(s): " + ", ".join(result.skipped))
    return 0


def run_evaluate(args, cfg, progress: bool) -> int:
    from .pipeline import evaluate, summary
    metrics = evaluate(args.bundle, args.data, cfg, args.fold, args.json, progress=progress)
    print(summary(metrics))
    print(f"metrics: {metrics['json']}\nconfusion matrix: {metrics['confusion_png']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
