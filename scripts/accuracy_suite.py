"""Accuracy suite: every recipe on several independent sources, several seeds each.

    python scripts/accuracy_suite.py --data /work/data                     # all sources, all recipes
    python scripts/accuracy_suite.py --data D --sources demo temporal_dev --recipes old default --seeds 0 1 2
    python scripts/accuracy_suite.py --data D --sources real_workout --recipes default --inits 3
    python scripts/accuracy_suite.py --smoke                               # the small CI version
    python scripts/accuracy_suite.py --combine new.json old.json:f041dfd --md docs/accuracy_table.md

Sources (each a dataset folder `actionrec train` reads, with held-out groups):
  demo              the demo generator (`actionrec.synthetic`), generated here
  temporal_dev      `scripts/make_temporal_set.py --seed 1`: small objects, clutter,
                    noise, shake, variable speed and length, distractors (generated
                    here when missing)
  temporal_holdout  the same generator, `--seed 2`: never used to choose anything
  plain_dev         the same generator's `plain` profile at 320x240, `--seed 4`: the demo's
                    motions (a sweep about the centre, a large growth) on cluttered, noisy,
                    shaking backgrounds without distractors (generated here when missing)
  plain_holdout     the same, `--seed 5`: never used to choose anything
  plain_fresh       the same, `--seed 6`, made after every default was chosen: run once
  real_actions      real people, by class, whole sources held out (DATA/real_actions)
  real_workout      another split of the same recordings, 4 classes (DATA/real_workout)
  real_pan, real_zoom, real_reverse
                    real footage, direction tasks (`scripts/prepare_real_tasks.py`)

A recipe is the default config plus overrides; `old` is the recipe before the
motion stream, standardisation, skip path and class balancing. Each run trains with
`actionrec.pipeline.train` and scores the held-out test split with `evaluate`
(video top-1, mean class accuracy, and both order-blind references on the same
features). Output: a JSON of every run and a markdown table of mean and spread
(`--json`, `--md`).

A seed sets both the split (which groups go to validation) and the head's initial
weights. On small real sets the initial weights alone move top-1 by 0.2 or more, so
`--inits N` trains N heads per split (training seeds `seed + 100 * i`; with an ensemble of
E heads, `seed + 100 * E * i`, so no two runs share a head): every cell is then the mean
and spread over seeds x inits runs.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
import warnings
from pathlib import Path

from actionrec.config import load_config
from actionrec.pipeline import evaluate, train
from actionrec.synthetic import make_ucf_dataset

OLD = ["motion.stream=none", "motion.pose=off", "head.probe=false", "backbone.resize_mode=center_crop", "head.readout=last",
       "train.class_balance=false", "train.label_smoothing=0.0", "data.duplicate_similarity=1.0",
       "data.duplicate_step_similarity=1.0", "head.ensemble=1", "backbone.crop_size=224"]
RECIPES = {
    "old": OLD,
    "default": [],
    "single_head": ["head.ensemble=1"],
    "ensemble5": ["head.ensemble=5"],
    "no_motion": ["motion.stream=none"],
    "no_pose": ["motion.pose=off"],
    "pose_no_flow": ["motion.stream=none"],
    "pose_weight1": ["train.pose_weight=1.0"],
    "pose_weight05": ["train.pose_weight=0.5"],
    "pose_weight1_no_deltas": ["train.pose_weight=1.0", "head.deltas=false"],
    "pose_weight1_h64": ["train.pose_weight=1.0", "head.pose_hidden_size=64"],
    "pose_weight1_h32": ["train.pose_weight=1.0", "head.pose_hidden_size=32"],
    "pose_h64": ["head.pose_hidden_size=64"],
    "no_pose_stats": ["head.pose_stats=false"],
    "no_mirror": ["train.pose_mirror=false"],
    "refit": ["train.refit_all=true"],
    "val30": ["data.val_fraction=0.3"],
    "early_fusion": ["head.fusion=early"],
    "center_crop": ["backbone.resize_mode=center_crop"],
    "skip": ["head.skip=true"],
    "last_step": ["head.readout=last"],
    "no_deltas": ["head.deltas=false"],
    "flow_fast": ["motion.preset=fast"],
    "flow_medium": ["motion.preset=medium"],
    "flow_fine": ["motion.preset=fine"],
    "flow96": ["motion.size=96"],
    "flow112": ["motion.size=112"],
    "flow128": ["motion.size=128"],
    "flow160": ["motion.size=160"],
    "flow224": ["motion.size=224"],
    "colour_flow": ["motion.colour=true"],
    "camera_shift": ["motion.camera=shift"],
    "camera_similarity": ["motion.camera=similarity"],
    "camera_border": ["motion.camera=border"],
    "fps12": ["sampling.fps=12"],
    "fps4": ["sampling.fps=4"],
    "steps32": ["sampling.clip_steps=32"],
    "no_balance": ["train.class_balance=false", "train.label_smoothing=0.0"],
    "small_head": ["head.hidden_size=128"],
    "no_probe": ["head.probe=false"],
    "clips4": ["train.clips_per_video=4"],
    "eval5": ["sampling.eval_clips=5"],
    "grid4": ["backbone.grid=4"],
    "fusion_w0": ["train.fusion_weight=0.0"],
    "big_head": ["head.hidden_size=512"],
    "lr3e3": ["train.lr=0.003"],
    "span08": ["train.min_time_span=0.8"],
    "epochs60": ["train.epochs=60"],
    "dropout50": ["head.dropout=0.5", "head.input_dropout=0.3", "head.output_dropout=0.5"],
}
SOURCES = ("demo", "temporal_dev", "plain_dev", "real_actions", "real_workout", "real_pan", "real_zoom",
           "real_reverse", "temporal_holdout", "plain_holdout", "plain_fresh")
# generated sources: make_temporal_set.py arguments
GENERATED = {"temporal_dev": ["--seed", "1"], "temporal_holdout": ["--seed", "2"],
             "plain_dev": ["--seed", "4", "--size", "320x240", "--profile", "plain"],
             "plain_holdout": ["--seed", "5", "--size", "320x240", "--profile", "plain"],
             "plain_fresh": ["--seed", "6", "--size", "320x240", "--profile", "plain"]}
METRICS = ("top1", "mean_class_acc", "baseline_top1", "probe_top1", "probe_mean_class_acc")


def prepare_source(name: str, data: Path, work: Path, smoke: bool) -> Path:
    """The dataset folder of source `name`, generated when it is a generator's."""
    if name == "demo":
        groups, clips = (5, 2) if smoke else (12, 5)
        return make_ucf_dataset(work / "demo", groups=groups, clips_per_group=clips,
                                test_groups=2 if smoke else 3, num_frames=40, size=(112, 112))
    if name in GENERATED:
        root = data / name
        if not root.is_dir():
            size = ["--groups", "4", "--clips-per-group", "2", "--test-groups", "1"] if smoke else []
            subprocess.run([sys.executable, str(Path(__file__).with_name("make_temporal_set.py")),
                            "--root", str(root), *GENERATED[name], *size], check=True)
        return root
    return data / name       # there: `sources_to_run` checked


def sources_to_run(named: list[str] | None, data: Path) -> list[str]:
    """The sources a run covers, checked before any training: each named one must be
    generated here or be a folder under `data`; with none named, every source, less the
    real ones not under `data` (printed)."""
    absent = [n for n in named or SOURCES if n != "demo" and n not in GENERATED and not (data / n).is_dir()]
    if named and absent:
        raise SystemExit(f"no dataset folder for {', '.join(absent)} under {data} (sources: "
                         f"{', '.join(SOURCES)}; see this script's docstring for how to make them)")
    if absent:
        print(f"left out, not under {data}: {', '.join(absent)}", flush=True)
    return [n for n in named or SOURCES if n not in absent]


def run_one(source: Path, recipe_name: str, seed: int, work: Path, base: str, init: int = 0) -> dict:
    """Train and evaluate one (source, recipe, split seed, init); the metrics that the table
    reads, and where the run's bundle and metrics are (each run's own files)."""
    recipe = RECIPES[recipe_name]
    heads = load_config(base, recipe).head.ensemble     # an ensemble's heads take seeds +100 each: no overlap
    cfg = load_config(base, [*recipe, f"train.seed={seed + 100 * heads * init}", f"data.split_seed={seed}",
                             f"cache.dir={work / 'cache'}", f"logging.run_dir={work / 'runs'}",
                             "logging.wandb=disabled", "logging.progress_bar=false", "logging.csv=false"])
    start = time.perf_counter()
    run = f"{source.name}-{recipe_name}-{seed}-{init}"
    bundle, metrics = work / "bundles" / f"{run}.safetensors", work / "eval" / f"{run}.json"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        result = train(source, cfg, bundle, progress=False)
        m = evaluate(result.bundle, source, cfg, json_path=metrics, progress=False)
    # its checkpoints, ~100 MB a run; the bundle is kept. Each run has a folder of its own
    # (`logging.run_name` is not set), so nothing else is in it.
    shutil.rmtree(result.run_dir, ignore_errors=True)
    return {**{k: m.get(k) for k in METRICS}, "seed": seed, "init": init, "val_acc": result.best_val_acc,
            "test_videos": m["num_videos"], "seconds": round(time.perf_counter() - start, 1),
            "bundle": str(bundle), "metrics": str(metrics)}


def summarise(runs: list[dict]) -> dict:
    """Mean and spread (population std) of each metric over seeds."""
    out = {}
    for key in METRICS:
        values = [r[key] for r in runs if r.get(key) is not None]
        if values:
            out[key] = {"mean": statistics.fmean(values), "std": statistics.pstdev(values)}
    return out


def markdown(results: dict, seeds: list[int]) -> str:
    """One table per source: recipe rows, metric columns, `mean ± std` over seeds."""
    lines = [f"Seeds: {', '.join(map(str, seeds))}. Cells: mean ± spread over runs (seeds x inits) of video top-1 "
             "on the held-out test split; `mean class` is the mean per-class accuracy; `mean-pool` "
             "and `probe` are the order-blind references trained on the same features.", ""]
    cols = ["top-1", "mean class", "mean-pool top-1", "probe top-1"]
    for source, recipes in results.items():
        lines += [f"### {source}", "", "| recipe | " + " | ".join(cols) + " |",
                  "|---|" + "---|" * len(cols)]
        for recipe, entry in recipes.items():
            s = entry["summary"]
            cells = [f"{s[k]['mean']:.3f} ± {s[k]['std']:.3f}" if k in s else "-"
                     for k in ("top1", "mean_class_acc", "baseline_top1", "probe_top1")]
            lines.append(f"| {recipe} | " + " | ".join(cells) + " |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--data", type=Path, default=Path("data"), help="folder holding the dataset sources")
    p.add_argument("--sources", nargs="+", default=None,
                   help="default: every source; a real one not under --data is left out, said so")
    p.add_argument("--recipes", nargs="+", default=list(RECIPES), choices=list(RECIPES))
    p.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    p.add_argument("--inits", type=int, default=1, help="heads trained per split seed (initial weights)")
    p.add_argument("--config", default="default", help="base config the recipes override")
    p.add_argument("--work", type=Path, default=Path(".cache/accuracy"))
    p.add_argument("--json", type=Path, default=Path("docs/bench/accuracy.json"))
    p.add_argument("--md", type=Path, default=None, help="also write the tables here")
    p.add_argument("--smoke", action="store_true", help="tiny generated sources only (CI)")
    p.add_argument("--combine", nargs="+", metavar="JSON[:NAME]",
                   help="no runs: merge these outputs (recipe 'default' of a file renamed NAME) into --md")
    args = p.parse_args(argv)
    if args.combine:
        results, seeds = combine(args.combine)
        write_atomic(args.md or Path("accuracy.md"), markdown(results, seeds))
        return results
    results: dict = {}
    for name in sources_to_run(args.sources, args.data):
        source = prepare_source(name, args.data, args.work, args.smoke)
        for recipe in args.recipes:
            runs = [run_one(source, recipe, seed, args.work, args.config, init)
                    for seed in args.seeds for init in range(args.inits)]
            results.setdefault(name, {})[recipe] = {"runs": runs, "summary": summarise(runs)}
            s = results[name][recipe]["summary"]
            print(f"{name:<18} {recipe:<12} top-1 {s['top1']['mean']:.3f} ± {s['top1']['std']:.3f}   "
                  f"mean class {s['mean_class_acc']['mean']:.3f}   probe "
                  f"{s.get('probe_top1', {}).get('mean', float('nan')):.3f}", flush=True)
            write_atomic(args.json, json.dumps({"seeds": args.seeds, "inits": args.inits, "results": results},
                                               indent=2))
    if args.md is not None:
        write_atomic(args.md, markdown(results, args.seeds))
    return results


def combine(files: list[str]) -> tuple[dict, list[int]]:
    """Results of several suite outputs in one dict, sources in first-seen order."""
    merged: dict = {}
    for spec in files:
        path, _, name = spec.partition(":")
        data = json.loads(Path(path).read_text())
        for source, recipes in data["results"].items():
            for recipe, entry in recipes.items():
                merged.setdefault(source, {})[name if name and recipe == "default" else recipe] = entry
    return merged, data["seeds"]


def write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    main()
