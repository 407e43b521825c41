"""End-to-end jobs as straight sequences: `train`, `evaluate`, and the `demo` on top.

train:    dataset split -> backbone + preprocessing -> feature cache (extract once)
          -> LSTM head (Lightning) -> order-blind baseline -> bundle
evaluate: bundle -> test split -> feature cache -> multi-clip scores -> metrics, plots
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

import numpy as np
import torch

from .backbone import Backbone, get_spec
from .bundle import Bundle, load_bundle, save_bundle
from .console import Progress
from .config import Config, dump_config
from .datasets import (DatasetSplit, VideoItem, groups_per_class, load_dataset, regroup_similar,
                       split_train_val)
from .errors import ConfigError, DatasetError
from .evaluation import classification_metrics, per_class_table, plot_confusion, write_json
from .features import (ExtractionReport, FeatureCache, FeatureExtractor, cache_key, make_encoder, motion_channels,
                       parallel_videos)
from .model import LinearProbe, MeanPoolBaseline
from .motion import FlowSpec, flow_spec
from .pose import PoseSpec, pose_spec
from .training import (FitResult, clip_means, ensemble_val_acc, fit_baseline, fit_head, fit_heads, fit_probe,
                       member_config, member_dir)
from .transforms import Preprocess

log = logging.getLogger("actionrec")


def train_run_dir(cfg: Config) -> Path:
    """`run_dir/<run_name>` when the config names the run (created, or reused so that a
    rerun resumes it), else a new `run_dir/train-<time>`. The config is saved in it; a
    different config saved there before is kept as `config.N.yaml`."""
    if cfg.logging.run_name is None:
        run_dir = new_run_dir(cfg.logging.run_dir, "train")
    else:
        run_dir = Path(cfg.logging.run_dir) / cfg.logging.run_name
        run_dir.mkdir(parents=True, exist_ok=True)
    saved, text = run_dir / "config.yaml", dump_config(cfg)
    if saved.is_file() and saved.read_text() != text:
        n = 1
        while (run_dir / f"config.{n}.yaml").exists():
            n += 1
        saved.replace(run_dir / f"config.{n}.yaml")
    saved.write_text(text)
    return run_dir


def new_run_dir(base: str | Path, name: str) -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_dir = Path(base) / f"{name}-{stamp}"
    suffix = 1
    while run_dir.exists():
        run_dir = Path(base) / f"{name}-{stamp}-{suffix}"
        suffix += 1
    run_dir.mkdir(parents=True)
    return run_dir


ENGINES = ("local", "ray")


@dataclass
class FeatureSource:
    """Backbone, preprocessing and cache for one extraction key."""
    backbone: Backbone
    preprocess: Preprocess
    cache: FeatureCache
    extractor: FeatureExtractor
    runtime: str = "auto"        # the encoder's runtime (`backbone.runtime`), for other engines' workers

    @property
    def motion(self) -> FlowSpec | None:
        """The motion stream extracted beside the backbone (None: appearance only)."""
        return self.extractor.motion

    @property
    def pose(self) -> PoseSpec | None:
        """The pose stream extracted beside the flow (None: no pose)."""
        return self.extractor.pose

    @classmethod
    def create(cls, backbone: Backbone, preprocess: Preprocess, sample_fps: float, cache_dir: str | Path,
               batch_size: int = 32, reader: str = "auto", runtime: str = "auto",
               motion: FlowSpec | None = None, lanes: int | str = 1,
               pose: PoseSpec | None = None) -> "FeatureSource":
        cache = FeatureCache(cache_dir, cache_key(backbone, preprocess, sample_fps, motion, pose))
        encoder = make_encoder(backbone, runtime)
        extractor = FeatureExtractor(encoder, preprocess, sample_fps, batch_size, reader, motion,
                                     parallel_videos(lanes, encoder), pose)
        return cls(backbone, preprocess, cache, extractor, runtime)

    def ensure(self, items: list[VideoItem], what: str, progress: bool = True, engine: str = "local",
               address: str | None = None) -> tuple[list[VideoItem], ExtractionReport]:
        """Extract what is missing; return the items whose features exist, and the
        extraction report. Videos without features (unreadable, removed or rewritten while
        they were read, or not stored) are skipped with one warning that lists each one's reason."""
        videos = list(dict.fromkeys(i.path for i in items))     # a video's segments: extracted once
        with Progress(len(videos), f"features ({what})", "video", enabled=progress) as bar:
            if engine == "ray":
                from .engines import ray as ray_engine
                report = ray_engine.extract(self, list(map(str, videos)), bar.update, address)
            else:
                report = self.extractor.run(videos, self.cache, bar.update)
        if report.extracted:
            log.info("%s: extracted %d videos, %d frames at %.1f frames/s (%d reused)", what,
                     len(report.extracted), report.frames, report.frames_per_second, len(report.reused))
        if report.failed:
            listing = "\n".join(f"  {path}: {reason}" for path, reason in report.failed.items())
            warnings.warn(f"skipping {len(report.failed)} {what} video(s) without features:\n{listing}",
                          stacklevel=2)
        return [i for i in items if str(i.path) not in report.failed], report


def feature_source(cfg: Config, train_videos: list | None = None) -> FeatureSource:
    """The features `cfg` asks for; `motion.pose: auto` looks for people in `train_videos`
    (none given: no pose stream)."""
    b = cfg.backbone
    backbone = Backbone(b.name, b.pooling, b.grid)
    preprocess = Preprocess.for_backbone(b.name, b.resize_size, b.crop_size, b.resize_mode)
    m = cfg.motion
    motion = flow_spec(m.stream, m.size, m.preset, b.pooling, b.grid, m.colour, m.camera)
    pose = pose_spec(m.pose, b.grid if b.pooling == "grid" else 1, train_videos or [], cfg.data.reader,
                     round(m.pose_hold * cfg.sampling.fps), m.pose_track)
    return FeatureSource.create(backbone, preprocess, cfg.sampling.fps, cfg.cache.dir, b.batch_size,
                                cfg.data.reader, b.runtime, motion, b.parallel_videos, pose)


def extract(data_root: str | Path, cfg: Config, engine: str = "local", address: str | None = None,
            progress: bool = True) -> ExtractionReport:
    """Fill the feature cache for every video of the dataset (train, val and test), on
    `engine` ("local" or "ray"); `train` and `evaluate` then read it. A second run reuses it."""
    if engine not in ENGINES:
        raise ConfigError(f"--engine {engine!r} is not one of {', '.join(ENGINES)}")
    if engine == "ray":
        from .engines.ray import check_shared_paths
        check_shared_paths(address, {"cache.dir": cfg.cache.dir, "--data": data_root})
    split = load_split(data_root, cfg)
    source = feature_source(cfg, [i.path for i in split.train])
    _, report = source.ensure(split.train + split.val + split.test, "dataset", progress, engine, address)
    return report


def load_split(data_root: str | Path, cfg: Config) -> DatasetSplit:
    d = cfg.data
    return load_dataset(data_root, fold=d.fold, val_fraction=d.val_fraction,
                        test_fraction=d.test_fraction, seed=d.split_seed,
                        allow_outside_root=d.allow_outside_root, single_group=d.single_group, fmt=d.format)


@dataclass
class TrainResult:
    bundle: Path
    run_dir: Path
    best_val_acc: float | None
    baseline_val_acc: float | None
    extraction_fps: float
    train_clips_per_second: float
    skipped: dict
    resumed_from: str | None = None
    test_metrics: dict | None = None     # with `train.evaluate_test`, when the split has test videos


def train(data_root: str | Path, cfg: Config, out: str | Path, progress: bool = True) -> TrainResult:
    """Train a head on `data_root` and write the bundle to `out`."""
    split = load_split(data_root, cfg)
    if not split.train:
        raise DatasetError(f"{data_root}: no training videos ({split.source}); `actionrec evaluate` "
                           f"scores a bundle on it")
    run_dir = train_run_dir(cfg)
    log.info("dataset %s: %d classes, %d train / %d val / %d test videos (%s)", data_root,
             len(split.class_names), len(split.train), len(split.val), len(split.test), split.source)
    source = feature_source(cfg, [i.path for i in split.train])
    train_items, train_report = source.ensure(split.train, "train", progress)
    val_items, val_report = source.ensure(split.val, "val", progress)
    if "val" in split.derived:
        train_items, val_items, few = split_by_recording(train_items, val_items, split, source.cache, cfg,
                                                         source.backbone.out_dim)
    else:
        few = few_recordings(groups_per_class(train_items + val_items, split.class_names))
    skipped = {**train_report.failed, **val_report.failed}
    extraction_fps = train_report.frames_per_second
    if not train_items:
        raise DatasetError(f"{data_root}: no readable training videos")
    head_kwargs = head_config(cfg, source.backbone, len(split.class_names), source.motion, source.pose)
    refs = train_references(cfg, source.cache, train_items, val_items, len(split.class_names),
                            source.backbone.out_dim)
    fits = fit_heads(cfg, head_kwargs, train_items, val_items, source.cache, run_dir, cfg.train.fusion_weight,
                     refs.probe, cfg.train.probe_weight, cfg.train.pose_weight, few)
    meta = bundle_meta(cfg, source, split, head_kwargs, fits, refs, data_root)
    meta["sampling"]["stream_stride"] = trained_step_spacing(cfg, source.cache, train_items)
    bundle = save_bundle(out, [fit.head for fit in fits], refs.baseline, meta, refs.probe)
    test_metrics = None
    if cfg.train.evaluate_test and split.test:
        test_metrics = evaluate(bundle, data_root, cfg, json_path=run_dir / "eval" / "metrics.json",
                                progress=progress)
        meta["training"]["test_top1"] = test_metrics["top1"]
    if cfg.train.refit_all:
        bundle = refit_on_all(cfg, source, split, head_kwargs, fits, meta, out, run_dir, progress)
    return TrainResult(bundle, run_dir, meta["training"]["val_acc"], refs.baseline_val_acc, extraction_fps,
                       sum(f.clips_per_second for f in fits) / len(fits), skipped, fits[0].resumed_from,
                       test_metrics)


def split_by_recording(train_items: list[VideoItem], val_items: list[VideoItem], split: DatasetSplit,
                       cache: FeatureCache, cfg: Config,
                       channels: int) -> tuple[list[VideoItem], list[VideoItem], list[str]]:
    """Hold out validation videos by recording: videos whose names carry no group are
    grouped by the similarity of their features (`datasets.regroup_similar`), so clips cut
    from one recording never straddle train and val; the split is drawn again only when
    that joined any. Logs the groups of each class and warns about classes with fewer
    than 3 (too few to hold any out honestly); returns those classes too."""
    items = train_items + val_items
    descriptors, steps = [], []
    for item in items:      # one video's features at a time: a large dataset's do not fit in memory
        features = cache.load_item(item)
        descriptors.append(appearance_descriptor(features, channels))
        steps.append(step_descriptors(features, channels))
    d = cfg.data
    grouped = regroup_similar(items, np.stack(descriptors), d.duplicate_similarity, steps,
                              d.duplicate_step_similarity)
    counts = groups_per_class(grouped, split.class_names)
    log.info("groups (recordings) per class: %s", ", ".join(f"{k} {v}" for k, v in counts.items()))
    few = few_recordings(counts)
    if few:
        warnings.warn(f"{len(few)} class(es) come from fewer than 3 recordings, too few to validate on "
                      f"recordings the head has not seen: {', '.join(few)}", stacklevel=3)
    if len(set((i.label, i.group) for i in grouped)) == len(set((i.label, i.group) for i in items)):
        return train_items, val_items, few   # nothing joined: the dataset's own split stands
    return (*split_train_val(grouped, d.val_fraction, d.split_seed, split.class_names, d.single_group), few)


def few_recordings(counts: dict[str, int]) -> list[str]:
    """The classes of `counts` (groups per class) with fewer than 3 groups: validation
    holds out one of their two recordings at most, so it cannot tell a stream that reads
    the action from one that reads that recording's scene."""
    return [name for name, n in counts.items() if n < 3]


def appearance_descriptor(features: np.ndarray, channels: int) -> np.ndarray:
    """`(N, S, C)` cached features -> `(channels,)` unit vector: the mean over steps and
    cells of the first `channels`, the backbone's (motion channels, if any, left out)."""
    mean = np.asarray(features[..., :channels], dtype=np.float32).mean(axis=(0, 1))
    return mean / (np.linalg.norm(mean) + 1e-8)


DESCRIPTOR_STEPS = 8     # steps of a video compared with another's when grouping recordings


def step_descriptors(features: np.ndarray, channels: int, count: int = DESCRIPTOR_STEPS) -> np.ndarray:
    """`(N, S, C)` cached features -> `(k, channels)` unit vectors, k = min(N, `count`): the
    mean over cells of the backbone's channels at k steps spread evenly over the video."""
    at = np.unique(np.linspace(0, len(features) - 1, min(len(features), count)).round().astype(int))
    means = np.asarray(features[at, :, :channels], dtype=np.float32).mean(axis=1)
    return means / (np.linalg.norm(means, axis=1, keepdims=True) + 1e-8)


def refit_on_all(cfg: Config, source: FeatureSource, split: DatasetSplit, head_kwargs: dict,
                 fits: list[FitResult], meta: dict, out: str | Path, run_dir: Path, progress: bool) -> Path:
    """Train the heads again on every readable video (train, val, and test unless the dataset
    names its test videos) for the epochs validation chose, each with the fusion weights it
    chose, and write the bundle with them: a personal set is too small to leave takes unused.
    The held-out scores reported (and kept in the bundle) are the first fit's."""
    test = [] if split.explicit_test else split.test
    items, _ = source.ensure(split.train + split.val + test, "refit", progress)
    refs = train_references(cfg, source.cache, items, [], len(split.class_names), source.backbone.out_dim)
    heads, epochs_each = [], [fit.best_epochs or fit.epochs_run for fit in fits]
    for i, (fit, epochs) in enumerate(zip(fits, epochs_each)):
        log.info("refitting%s on all %d videos for %d epochs", f" head {i + 1}" if len(fits) > 1 else "",
                 len(items), epochs)
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="no validation videos")
            warnings.filterwarnings("ignore", message=".*validation_step.* no `val_dataloader`")
            # never resumed: an earlier refit in this folder ran for another run's epochs
            refit_cfg = member_config(cfg, i, epochs=epochs, resume=False)
            refit = fit_head(refit_cfg, head_kwargs, items, [], source.cache, member_dir(run_dir / "refit", i),
                             fit.fusion_weight, refs.probe, fit.probe_weight, fit.pose_weight)
        heads.append(refit.head)
    meta["training"].update(refit_videos=len(items), refit_epochs=epochs_each if len(fits) > 1 else epochs_each[0],
                            refit_on_test=bool(test))
    return save_bundle(out, heads, refs.baseline, meta, refs.probe)


def trained_step_spacing(cfg: Config, cache: FeatureCache, items: list[VideoItem]) -> int:
    """Timeline steps between a training clip's steps: `stride` for strided clips; for
    segment clips, the typical stretch a clip spans (the median video's length, times
    the mean temporal crop) over `clip_steps`. Streaming uses it so that live steps are
    as far apart in time as the steps the head learned from."""
    s = cfg.sampling
    if s.train_mode == "strided":
        return s.stride
    lengths = sorted(len(cache.load_item(i)) for i in items)
    mean_span = (1 + cfg.train.min_time_span) / 2
    return max(1, round(lengths[len(lengths) // 2] * mean_span / s.clip_steps))


def head_config(cfg: Config, backbone: Backbone, num_classes: int, motion: FlowSpec | None = None,
                pose: PoseSpec | None = None) -> dict:
    h = cfg.head
    return {"in_dim": backbone.out_dim, "num_classes": num_classes, "num_cells": backbone.num_cells,
            "hidden_size": h.hidden_size, "num_layers": h.num_layers, "dropout": h.dropout,
            "input_dropout": h.input_dropout, "output_dropout": h.output_dropout, "cell_dim": h.cell_dim,
            "deltas": h.deltas, "motion_dim": motion_channels(motion, pose),
            "skip": h.skip, "readout": h.readout, "fusion": h.fusion, "probe": h.probe,
            **({"pose_dim": pose.channels, "pose_hidden_size": h.pose_hidden_size, "pose_stats": h.pose_stats,
                "pose_clip": float(h.pose_clip), "pose_horizontal": h.pose_horizontal} if pose is not None else {})}


@dataclass
class References:
    """The order-blind references trained beside the head, with their validation accuracy."""
    baseline: MeanPoolBaseline
    probe: LinearProbe
    baseline_val_acc: float | None = None
    probe_val_acc: float | None = None


def train_references(cfg: Config, cache: FeatureCache, train_items, val_items, num_classes: int,
                     channels: int) -> References:
    """The mean-pool baseline and the standardised linear probe on the same clips' mean
    backbone features (the first `channels`): what the frames' content alone tells."""
    s, t = cfg.sampling, cfg.train
    x, y, _ = clip_means(train_items, cache, s.clip_steps, s.train_mode, s.eval_clips, s.stride, channels)
    refs = References(fit_baseline(x, y, num_classes, t.baseline_epochs, t.seed),
                      fit_probe(x, y, num_classes, t.probe_weight_decay, seed=t.seed))
    if val_items:
        vx, vy, _ = clip_means(val_items, cache, s.clip_steps, s.train_mode, 1, s.stride, channels)
        with torch.no_grad():
            refs.baseline_val_acc = float((refs.baseline(vx.unsqueeze(1)).argmax(1) == vy).float().mean())
            refs.probe_val_acc = float((refs.probe(vx.unsqueeze(1)).argmax(1) == vy).float().mean())
    return refs


def bundle_meta(cfg: Config, source: FeatureSource, split: DatasetSplit, head_kwargs: dict,
                fits: list[FitResult], refs: References, data_root) -> dict:
    """The bundle's metadata; `training.val_acc` is the heads' together (their mean
    probabilities), the fusion weights the first head's (`training.heads`: each head's)."""
    b, fit = source.backbone, fits[0]
    return {
        "backbone": {"name": b.name, "weights": get_spec(b.name).weights, "pooling": b.pooling,
                     "grid": b.grid if b.pooling == "grid" else None, "out_dim": b.out_dim},
        "motion": source.motion.to_meta() if source.motion is not None else None,
        "pose": source.pose.to_meta() if source.pose is not None else None,
        "preprocess": source.preprocess.to_dict(),
        "sampling": {"fps": cfg.sampling.fps, "clip_steps": cfg.sampling.clip_steps,
                     "train_mode": cfg.sampling.train_mode, "stride": cfg.sampling.stride,
                     "eval_clips": cfg.sampling.eval_clips},
        "head": head_kwargs,
        "class_names": split.class_names,
        "background_class": (cfg.data.background_class if cfg.data.background_class in split.class_names
                             else None),
        "data": {"root": str(data_root), "layout": split.layout, "split": split.source,
                 **{k: v for k, v in vars(cfg.data).items() if k != "reader"}},
        "training": {"val_acc": ensemble_val_acc(fits), "baseline_val_acc": refs.baseline_val_acc,
                     **fusion_meta(fit), "heads": [{"val_acc": f.best_val_acc, **fusion_meta(f)} for f in fits],
                     "probe_val_acc": refs.probe_val_acc, "pose_stats_videos": fit.pose_stats_videos,
                     "train_videos": len(split.train), "created": datetime.now().isoformat(timespec="seconds")},
    }


def fusion_meta(fit: FitResult) -> dict:
    """The stream weights one head chose (or was given)."""
    return {"fusion_weight": fit.fusion_weight if fit.head.two_stream else None,
            "probe_weight": fit.probe_weight, "pose_weight": fit.pose_weight}


def evaluate(bundle_path: str | Path, data_root: str | Path, cfg: Config, fold: int | None = None,
             json_path: str | Path | None = None, out_dir: str | Path | None = None,
             progress: bool = True) -> dict:
    """Score the bundle on the test split of `data_root`; write JSON and a confusion PNG."""
    bundle = load_bundle(bundle_path)
    warn_if_refit_on(bundle, data_root)
    data_cfg = replace(cfg.data, **{k: bundle.meta["data"][k] for k in
                                    ("val_fraction", "test_fraction", "split_seed", "single_group")
                                    if k in bundle.meta["data"]})
    data_cfg.fold = fold or data_cfg.fold
    split = load_split(data_root, replace(cfg, data=data_cfg))
    items = relabel(split, bundle, data_root)
    source = FeatureSource.create(bundle.build_backbone(), bundle.preprocess, bundle.sampling["fps"],
                                  cfg.cache.dir, cfg.backbone.batch_size, cfg.data.reader,
                                  cfg.backbone.runtime, bundle.motion, cfg.backbone.parallel_videos, bundle.pose)
    items, report = source.ensure(items, "test", progress)
    metrics = score(bundle, source.cache, items)
    metrics["frame_order_verdict"] = order_verdict(metrics)
    metrics["skipped"] = report.failed
    metrics["bundle"], metrics["data"], metrics["split"] = str(bundle_path), str(data_root), split.source
    out_dir = Path(out_dir or (Path(json_path).parent if json_path else new_run_dir(cfg.logging.run_dir, "eval")))
    out_dir.mkdir(parents=True, exist_ok=True)
    cm = torch.tensor(metrics["confusion_matrix"]).numpy()
    metrics["confusion_png"] = str(plot_confusion(cm, bundle.class_names, out_dir / "confusion.png",
                                                  f"{Path(bundle_path).name}: top-1 {metrics['top1']:.3f}"))
    metrics["json"] = str(write_json(metrics, json_path or out_dir / "metrics.json"))
    return metrics


def warn_if_refit_on(bundle: Bundle, data_root: str | Path) -> None:
    """Warn when the bundle's head was trained again on every video of `data_root`
    (`train.refit_all`): its test videos are then not held out."""
    training, data = bundle.meta.get("training", {}), bundle.meta.get("data", {})
    if not training.get("refit_videos") or not training.get("refit_on_test", True) or "root" not in data:
        return
    if Path(data["root"]).resolve() == Path(data_root).resolve():
        held_out = training.get("test_top1")
        warnings.warn(f"{bundle.path} was trained again on every video of {data_root}, its test videos "
                      f"included, so this score is not held out"
                      + (f" (held-out top-1 before that: {held_out:.3f})" if held_out is not None else ""),
                      stacklevel=3)


def relabel(split: DatasetSplit, bundle: Bundle, data_root) -> list[VideoItem]:
    """Test items with labels re-indexed to the bundle's class order."""
    index = {name: i for i, name in enumerate(bundle.class_names)}
    unknown = sorted(set(split.class_names) - set(index))
    used = {split.class_names[i.label] for i in split.test}
    if unknown and used & set(unknown):
        raise DatasetError(f"{data_root}: classes {', '.join(unknown)} are not in bundle "
                           f"{bundle.path} (it knows: {', '.join(bundle.class_names)})")
    return [replace(i, label=index[split.class_names[i.label]]) for i in split.test]


@torch.no_grad()
def score(bundle: Bundle, cache: FeatureCache, items: list[VideoItem]) -> dict:
    """Multi-clip scores of the head and the order-blind references on `items`, as metrics."""
    from .training import EvalClips
    s = bundle.sampling
    data = EvalClips(items, cache, s["clip_steps"], s["train_mode"], s["eval_clips"], s["stride"])
    loader = torch.utils.data.DataLoader(data, batch_size=64)
    probs, labels, videos = [], [], []
    for features, label, video in loader:
        probs.append(bundle.clip_probs(features))
        labels.append(label)
        videos.append(video)
    probs, labels, videos = torch.cat(probs), torch.cat(labels), torch.cat(videos)
    video_labels = torch.tensor([i.label for i in items])
    metrics = classification_metrics(probs, labels, videos, video_labels, bundle.class_names)
    x, bl, bv = clip_means(items, cache, s["clip_steps"], s["train_mode"], s["eval_clips"], s["stride"],
                           bundle.head.in_dim)
    for name, model in (("baseline", bundle.baseline), ("probe", bundle.probe)):
        metrics[f"{name}_top1"] = metrics[f"{name}_mean_class_acc"] = None
        if model is not None:
            ref = classification_metrics(model(x.unsqueeze(1)).softmax(-1), bl, bv, video_labels,
                                         bundle.class_names)
            metrics[f"{name}_top1"], metrics[f"{name}_mean_class_acc"] = ref["top1"], ref["mean_class_acc"]
            metrics[f"{name}_per_class"] = ref["per_class"]
    return metrics


def order_verdict(metrics: dict) -> str | None:
    """A plain sentence when the LSTM beats neither order-blind reference, else None."""
    refs = [metrics.get(k) for k in ("baseline_top1", "probe_top1") if metrics.get(k) is not None]
    if refs and metrics["top1"] <= max(refs):
        return ("frame order added nothing on this data: the LSTM head does not beat the "
                "order-blind references")
    return None


def order_blind(metrics: dict) -> str | None:
    """The order-blind references' top-1 on one line ("baseline 0.533, probe 0.433")."""
    refs = [f"{name} {metrics[key]:.3f}" for name, key in (("baseline", "baseline_top1"), ("probe", "probe_top1"))
            if metrics.get(key) is not None]
    return ", ".join(refs) or None


def summary(metrics: dict) -> str:
    top5 = f"top-5: {metrics['top5']:.3f}   " if len(metrics["per_class"]) > 5 else ""   # else always 1
    lines = [f"videos: {metrics['num_videos']} ({metrics['num_clips']} clips)",
             f"top-1 (video): {metrics['top1']:.3f}   {top5}"
             f"mean class acc: {metrics['mean_class_acc']:.3f}   clip top-1: {metrics['clip_top1']:.3f}"]
    if metrics.get("baseline_top1") is not None:
        lines.append(f"order-blind baseline (mean-pooled features + linear) top-1: {metrics['baseline_top1']:.3f}")
    if metrics.get("probe_top1") is not None:
        lines.append(f"order-blind linear probe (standardised, weight-decayed) top-1: {metrics['probe_top1']:.3f}"
                     f"   mean class acc: {metrics['probe_mean_class_acc']:.3f}")
    if (verdict := order_verdict(metrics)) is not None:
        lines.append(verdict)
    lines.append(per_class_table(metrics))
    return "\n".join(lines)
