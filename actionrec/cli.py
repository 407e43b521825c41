"""Command line: argument parsing only; the work happens in `pipeline` and friends."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
import warnings

from .config import dump_config, load_config
from .console import quiet_libraries, summary_block, verbose_requested
from .errors import ActionRecError, check_bundle_path, check_results_path
from .formats import FORMATS
from .signals import ending, stop_signals


def add_config_args(p: argparse.ArgumentParser, default: str | None = "default") -> None:
    shown = default or "personal for a folder made by `actionrec record`, else default"
    p.add_argument("--config", default=default, help="YAML file or preset name in configs/ "
                   f"(default: {shown})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="override one config value, e.g. --set train.lr=3e-4 (repeatable)")
    p.add_argument("--print-config", action="store_true", help="print the full config and exit")
    p.add_argument("--quiet", action="store_true", help="no progress, only results, warnings and errors")
    p.add_argument("--verbose", action="store_true",
                   help="show everything, the libraries' own messages included (for bug reports; "
                        "also ACTIONREC_LOG=debug)")


def workers_arg(value: str) -> int | str:
    """`--workers`: auto, or a whole number of at least 1."""
    if value == "auto":
        return value
    try:
        count = int(value)
    except ValueError:
        count = 0
    if count < 1:
        raise argparse.ArgumentTypeError(f"expected auto or a whole number of at least 1, got {value!r}")
    return count


def add_engine_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--engine", choices=["local", "ray"], default="local",
                   help="where videos are processed: this machine (default), or a Ray cluster "
                        "(pip install 'actionrec[ray]')")
    p.add_argument("--ray-address", metavar="ADDR", help="join this running Ray cluster (auto: RAY_ADDRESS or "
                   "the one on this machine); without it Ray starts here. Paths must then be absolute, "
                   "on storage every node sees")


def add_format_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=FORMATS, help="the dataset's format (default: data.format, auto: detected)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="actionrec", description="Recognise human actions in video.")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a head on a UCF101-style dataset and write a bundle")
    p.add_argument("--data", required=True, help="dataset root or annotation file (UCF101, HMDB51, "
                   "Kinetics CSV, Something-Something JSON, time segments, folders, list files)")
    p.add_argument("--fold", type=int, help="UCF101 or HMDB51 split 1-3")
    add_format_arg(p)
    p.add_argument("--epochs", type=int, help="maximum epochs")
    p.add_argument("--out", required=True, help="bundle to write, e.g. weights/my.safetensors")
    add_config_args(p, default=None)

    p = sub.add_parser("evaluate", help="score a bundle on a dataset's test split")
    p.add_argument("--bundle", required=True)
    p.add_argument("--data", required=True)
    p.add_argument("--fold", type=int)
    add_format_arg(p)
    p.add_argument("--json", help="write the metrics here (default: runs/eval-*/metrics.json)")
    add_config_args(p)

    p = sub.add_parser("datasets", help="what a dataset holds: `actionrec datasets inspect --data X`")
    p.add_argument("action", choices=["inspect"])
    p.add_argument("--data", required=True, help="dataset root or annotation file")
    p.add_argument("--fold", type=int, help="UCF101 or HMDB51 split 1-3")
    add_format_arg(p)
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    add_config_args(p)

    p = sub.add_parser("demo", help="generate a small dataset, train, evaluate: the whole job")
    p.add_argument("--workdir", default="runs/demo")
    add_config_args(p, default="demo")

    p = sub.add_parser("live", help="label actions live from a webcam, video file or stream URL")
    p.add_argument("--bundle", required=True)
    p.add_argument("--source", default="0", help="webcam index, video file or stream URL (default: 0)")
    p.add_argument("--headless", action="store_true", help="no window; use with --output and/or --stats")
    p.add_argument("--output", help="write the annotated video here (.mp4)")
    p.add_argument("--stats", help="write frame/latency statistics and the label timeline here (.json)")
    p.add_argument("--max-frames", type=int, help="stop after this many frames")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="replay a file source at its own frame rate, like a camera "
                        "(default: on with a window, off when headless)")
    add_config_args(p)

    p = sub.add_parser("record", help="record takes of one of your own actions into a dataset folder")
    p.add_argument("--source", default="0", help="webcam index, video file or stream URL (default: 0)")
    p.add_argument("--data", required=True, help="dataset folder; takes go to DATA/<label>/")
    p.add_argument("--label", required=True, help="the action being recorded, e.g. wave")
    p.add_argument("--clips", type=int, help="takes to record (default: record.clips, 5)")
    p.add_argument("--seconds", type=float, help="length of each take (default: record.seconds, 3)")
    p.add_argument("--countdown", type=float, help="seconds to get ready before each take "
                   "(default: record.countdown, 3)")
    p.add_argument("--headless", action="store_true", help="no window (a file or stream source)")
    p.add_argument("--realtime", action=argparse.BooleanOptionalAction, default=None,
                   help="replay a file source at its own frame rate, like a camera "
                        "(default: on with a window, off when headless)")
    add_config_args(p)

    p = sub.add_parser("label", help="label every video in files, folders, globs or list files")
    p.add_argument("--bundle", required=True)
    p.add_argument("inputs", nargs="+", help="video files, folders (recursive), globs, or .txt lists of paths")
    p.add_argument("--out", required=True, help="results file: .csv or .jsonl (re-runs resume it)")
    p.add_argument("--top-k", type=int, default=3)
    p.add_argument("--segments", action="store_true", help="add a label timeline for each video")
    p.add_argument("--workers", type=workers_arg, default="auto",
                   help="videos labelled in parallel, each in its own process (default: auto, one per "
                        "core on a CPU-only machine when there are at least 32 videos or 16 MiB of them)")
    p.add_argument("--annotate", metavar="DIR", help="also write annotated copies of the videos here")
    add_engine_args(p)
    add_config_args(p)

    p = sub.add_parser("extract", help="fill the feature cache for every video of a dataset (train reads it)")
    p.add_argument("--data", required=True, help="dataset root or annotation file")
    p.add_argument("--fold", type=int, help="UCF101 or HMDB51 split 1-3")
    add_format_arg(p)
    add_engine_args(p)
    add_config_args(p)

    p = sub.add_parser("fetch-weights", help="fetch and verify the pretrained weights offline (MobileNetV2, BlazePose)")
    return parser


class StderrHandler(logging.StreamHandler):
    """Writes to whatever `sys.stderr` is at the time of each message (it may be replaced
    between two calls of `main` in one process)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, value) -> None:
        pass


def configure_logging(quiet: bool = False, verbose: bool = False) -> None:
    """Our progress messages, plain, on stderr (warnings only when `quiet`, everything
    when `verbose`)."""
    ours = logging.getLogger("actionrec")
    ours.setLevel(logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO)
    ours.propagate = False
    if any(isinstance(h, StderrHandler) for h in ours.handlers):
        return
    handler = StderrHandler()
    handler.setFormatter(logging.Formatter("%(message)s"))
    ours.addHandler(handler)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    verbose = getattr(args, "verbose", False) or verbose_requested()
    configure_logging(getattr(args, "quiet", False), verbose)
    warnings.formatwarning = lambda msg, cat, *a, **k: f"warning: {msg}\n"
    with stop_signals(), quiet_libraries(verbose) as libraries:
        try:
            return run(args)
        except ActionRecError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as exc:     # Ctrl-C, SIGTERM or SIGHUP outside live/record/label
            reason, code = ending(exc)
            print(f"{reason}: stopped; what was finished is kept (cache entries, checkpoints, bundles are only "
                  f"written whole); run the same command again to resume", file=sys.stderr)
            return code
        except BaseException:                # a crash: keep what the libraries said, for the report
            libraries["failed"] = True
            raise


def check_paths(args: argparse.Namespace) -> None:
    """The bundle a command reads and the results file `label` writes, checked before the
    model's libraries load (seconds): a mistyped path is named at once."""
    if getattr(args, "bundle", None) is not None:
        check_bundle_path(args.bundle)
    if args.command == "label":
        check_results_path(args.out)


def run(args: argparse.Namespace) -> int:
    if args.command == "fetch-weights":
        from .weights import fetch_all
        for path in fetch_all():
            print(f"verified: {path}")
        return 0
    overrides = list(args.overrides)
    if getattr(args, "fold", None):
        overrides.append(f"data.fold={args.fold}")
    if getattr(args, "format", None):
        overrides.append(f"data.format={args.format}")
    if getattr(args, "epochs", None):
        overrides.append(f"train.epochs={args.epochs}")
    for key in ("clips", "seconds", "countdown"):       # record's flags
        if getattr(args, key, None) is not None:
            overrides.append(f"record.{key}={getattr(args, key)}")
    if args.command == "train" and args.config is None:
        args.config = default_preset(args.data)
    cfg = load_config(args.config, overrides)
    if args.print_config:
        print(dump_config(cfg), end="")
        return 0
    check_paths(args)
    progress = not args.quiet
    cfg.logging.progress_bar = cfg.logging.progress_bar and progress
    if args.command == "train":
        return run_train(args, cfg, progress)
    if args.command == "datasets":
        from .dataset_report import format_report, inspect_dataset
        report = inspect_dataset(args.data, cfg, progress and not args.json)
        print(json.dumps(report, indent=2) if args.json else format_report(report))
        return 0
    if args.command == "evaluate":
        return run_evaluate(args, cfg, progress)
    if args.command == "live":
        from .live import run_live
        return run_live(args.bundle, args.source, cfg, headless=args.headless, output=args.output,
                        stats=args.stats, max_frames=args.max_frames, realtime=args.realtime)
    if args.command == "record":
        from .record import run_record
        return run_record(args.source, args.data, args.label, cfg.record, headless=args.headless,
                          realtime=args.realtime, background=cfg.data.background_class)
    if args.command == "label":
        from .batch import run_label
        return run_label(args.bundle, args.inputs, args.out, cfg, topk=args.top_k, segments=args.segments,
                         workers=args.workers, annotate_dir=args.annotate, progress=progress,
                         engine=args.engine, address=args.ray_address)
    if args.command == "extract":
        return run_extract(args, cfg, progress)
    from .demo import run_demo
    run_demo(cfg, args.workdir, progress)
    return 0


def default_preset(data: str) -> str:
    """`personal` for a dataset folder that `actionrec record` made, else `default`."""
    from .datasets import RECORDINGS_FILE, is_recorded
    if not is_recorded(data):
        return "default"
    logging.getLogger("actionrec").info(
        "config: personal (a dataset recorded with `actionrec record`: %s/%s); --config default to override",
        data, RECORDINGS_FILE)
    return "personal"


def run_train(args, cfg, progress: bool) -> int:
    from .pipeline import summary, train
    start = time.perf_counter()
    result = train(args.data, cfg, args.out, progress)
    test = result.test_metrics
    if test is not None:
        print(f"held-out test videos:\n{summary(test)}\n")
    val = None
    if result.best_val_acc is not None:
        val = f"{result.best_val_acc:.3f} (order-blind baseline {result.baseline_val_acc:.3f})"
    print(summary_block("train: done", [
        ("bundle", result.bundle), ("config", args.config), ("run dir", result.run_dir),
        ("heads", f"{cfg.head.ensemble}, from different initial weights; their probabilities averaged"
         if cfg.head.ensemble > 1 else None), ("best val top-1", val),
        ("test top-1", f"{test['top1']:.3f}" if test is not None else None),
        ("metrics", test["json"] if test is not None else None),
        ("skipped", f"{len(result.skipped)} video(s) without features (reasons below)" if result.skipped else None),
        ("time", f"{time.perf_counter() - start:.0f} s")],
        f"actionrec live --bundle {result.bundle} --source 0   (or evaluate --bundle {result.bundle} --data ...)",
        notes=[f"skipped: {path}: {reason}" for path, reason in result.skipped.items()]))
    return 0


def run_extract(args, cfg, progress: bool) -> int:
    from .pipeline import extract
    report = extract(args.data, cfg, args.engine, args.ray_address, progress)
    nodes = report.nodes
    print(summary_block("extract: done", [
        ("videos", f"extracted {len(report.extracted)}, reused {len(report.reused)}, failed {len(report.failed)}"),
        ("frames", f"{report.frames} at {report.frames_per_second:.1f} frames/s" if report.extracted else None),
        ("engine", f"ray, {len(nodes)} node(s)" if nodes else args.engine),
        ("cache", cfg.cache.dir)],
        f"actionrec train --data {args.data} --out weights/mine.safetensors   (reads this cache)"))
    return 1 if report.failed else 0


def run_evaluate(args, cfg, progress: bool) -> int:
    from .pipeline import evaluate, order_blind, summary
    metrics = evaluate(args.bundle, args.data, cfg, args.fold, args.json, progress=progress)
    print(summary(metrics) + "\n")
    print(summary_block("evaluate: done", [
        ("videos", metrics["num_videos"]),
        ("top-1", f"{metrics['top1']:.3f} (mean class {metrics['mean_class_acc']:.3f})"),
        ("order-blind", order_blind(metrics)),
        ("metrics", metrics["json"]), ("confusion", metrics["confusion_png"])],
        f"actionrec label --bundle {args.bundle} VIDEOS_OR_FOLDERS --out labels.csv"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
