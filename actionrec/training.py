"""Lightning training of the LSTM head on cached features.

Reads as a straight sequence in `fit_head`: seed, data, model, callbacks, loggers,
trainer, fit, best weights. The backbone is not part of the LightningModule at all:
its features come from the cache, so the optimizer only ever sees head parameters.

Resuming: every epoch writes `checkpoints/last.ckpt` in the run folder. With
`train.resume` (the default), a run folder that already has one (a rerun with the
same `logging.run_name` after a crash or a kill) continues from it: weights,
optimizer, scheduler, epoch, early-stopping and best-checkpoint state. Checkpoints
are only ever loaded with `weights_only=True` (no unpickling of arbitrary objects).
"""

from __future__ import annotations

import logging
import netrc
import os
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import Callback, EarlyStopping, ModelCheckpoint
from torch.nn import functional as F
from torch.utils.data import DataLoader, Dataset

from .config import Config
from .console import epoch_callback, interactive
from .datasets import VideoItem
from .errors import ConfigError
from .features import FeatureCache, one_torch_thread
from .model import LinearProbe, LSTMHead, MeanPoolBaseline, channel_scale, ensemble_probs, hidden_pose
from .pose import CHANNELS as POSE_CHANNELS, UNSEEN, mirror_order
from .sampling import eval_clips, train_clip

log = logging.getLogger(__name__)

# Lightning sets its loggers to INFO on import; its start-up tips are noise to our users.
for _name in ("lightning.pytorch", "lightning.fabric"):
    logging.getLogger(_name).setLevel(logging.WARNING)
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
# A resumed run writes into its own checkpoint folder again: that is the point.
warnings.filterwarnings("ignore", message=r"Checkpoint directory .* exists and is not empty")


class TrainClips(Dataset):
    """Random clips, `clips_per_video` per video per epoch: `(T, S, D)` float32 features
    and the label. Augmentation: each clip comes from a random stretch of at least
    `min_span` of its video (`sampling.random_span`), a temporal crop; with `mirror` (a
    `(D,)` channel order), half the clips have their channels in that order: the pose
    seen in a mirror (`pose_mirror_columns`)."""

    def __init__(self, items: list[VideoItem], cache: FeatureCache, clip_steps: int, mode: str,
                 stride: int = 1, clips_per_video: int = 1, min_span: float = 1.0,
                 mirror: np.ndarray | None = None):
        self.items, self.cache = items, cache
        self.clip_steps, self.mode, self.stride = clip_steps, mode, stride
        self.clips_per_video, self.min_span, self.mirror = clips_per_video, min_span, mirror

    def __len__(self) -> int:
        return len(self.items) * self.clips_per_video

    def __getitem__(self, i: int):
        item = self.items[i % len(self.items)]
        feats = self.cache.load_item(item)
        rng = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        idx = train_clip(len(feats), self.clip_steps, self.mode, rng, self.stride, self.min_span)
        clip = np.asarray(feats[idx], dtype=np.float32)
        if self.mirror is not None and rng.random() < 0.5:
            clip = clip[..., self.mirror]
        return torch.from_numpy(clip), item.label


def pose_mirror_columns(head: LSTMHead) -> np.ndarray:
    """`(D + M,)` order of a feature vector's channels with the pose channels mirrored
    (`pose.mirror_order`) and every other channel in place."""
    if head.pose_dim != len(POSE_CHANNELS):
        raise ValueError(f"the head has {head.pose_dim} pose channels; the pose features have "
                         f"{len(POSE_CHANNELS)}: cannot mirror them")
    order = np.arange(head.in_dim + head.motion_dim)
    start = head.pose_start
    order[start:] = start + mirror_order()
    return order


class EvalClips(Dataset):
    """Every evaluation clip of every video, flattened: `(T, S, D)`, label, video index."""

    def __init__(self, items: list[VideoItem], cache: FeatureCache, clip_steps: int, mode: str,
                 num_clips: int, stride: int = 1):
        self.items, self.cache = items, cache
        self.clips = [(v, clip) for v, item in enumerate(items)
                      for clip in eval_clips(len(cache.load_item(item)), clip_steps, mode,
                                             num_clips, stride)]

    def __len__(self) -> int:
        return len(self.clips)

    def __getitem__(self, i: int):
        video, idx = self.clips[i]
        feats = self.cache.load_item(self.items[video])
        return torch.from_numpy(np.asarray(feats[idx], dtype=np.float32)), self.items[video].label, video


class HeadModule(L.LightningModule):
    """Trains an `LSTMHead` on each clip's logits (`LSTMHead.clip_logits`). The training
    loss can weight classes by inverse frequency (`class_weights`) and smooth labels."""

    def __init__(self, head_kwargs: dict, optimizer: str = "adamw", lr: float = 1e-3,
                 weight_decay: float = 1e-4, scheduler: str = "cosine", epochs: int = 30,
                 class_weights: list[float] | None = None, label_smoothing: float = 0.0):
        super().__init__()
        self.save_hyperparameters()
        self.head = LSTMHead(**head_kwargs)
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights else None
        self.register_buffer("class_weights", weights, persistent=False)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.head.clip_logits(features)

    def shared_step(self, batch, stage: str) -> torch.Tensor:
        """Training: each LSTM stream's own loss, summed, the pose LSTM's on its own scores
        (without the pose statistics, which are fitted apart); validation: the loss of the
        fused scores, the pose stream's mixed with its statistics. Accuracy is the fused
        scores' of the same."""
        features, labels = batch[0], batch[1]
        streams = self.head.stream_logits(features, pose_stats=stage != "train")
        logits = self.head.fuse(streams)
        if stage == "train":    # the LSTM streams; a probe stream is fitted apart
            k = self.head.num_classes
            trained = self.head.num_logits - (k if self.head.probe is not None else 0)
            loss = sum(F.cross_entropy(streams[:, i:i + k], labels, weight=self.class_weights,
                                       label_smoothing=self.hparams.label_smoothing)
                       for i in range(0, trained, k))
        else:
            loss = F.cross_entropy(logits, labels)
        acc = (logits.argmax(-1) == labels).float().mean()
        self.log(f"{stage}/loss", loss, prog_bar=stage != "train", batch_size=len(labels), sync_dist=True)
        self.log(f"{stage}/acc", acc, prog_bar=True, batch_size=len(labels), sync_dist=True)
        return loss

    def training_step(self, batch, batch_idx):
        return self.shared_step(batch, "train")

    def validation_step(self, batch, batch_idx):
        self.shared_step(batch, "val")

    def configure_optimizers(self):
        hp = self.hparams
        params = [p for p in self.parameters() if p.requires_grad]
        optimizers = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW, "rmsprop": torch.optim.RMSprop}
        opt = optimizers[hp.optimizer](params, lr=hp.lr, weight_decay=hp.weight_decay)
        if hp.scheduler == "cosine":
            return {"optimizer": opt, "lr_scheduler": torch.optim.lr_scheduler.CosineAnnealingLR(
                opt, T_max=max(1, hp.epochs))}
        if hp.scheduler == "plateau":
            sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="max", factor=0.5, patience=3)
            return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "monitor": "val/acc"}}
        return opt


def wandb_mode(setting: str) -> str | None:
    """`auto`: online when an API key is configured (env or ~/.netrc), else offline."""
    if setting == "disabled":
        return None
    if setting != "auto":
        return setting
    if os.environ.get("WANDB_MODE"):
        return os.environ["WANDB_MODE"]
    if os.environ.get("WANDB_API_KEY"):
        return "online"
    try:
        if netrc.netrc().authenticators("api.wandb.ai"):
            return "online"
    except (FileNotFoundError, netrc.NetrcParseError):
        pass
    return "offline"


def make_loggers(cfg: Config, run_dir: Path, resuming: bool = False) -> list:
    """CSV (flushed every step, so a killed run keeps its rows) and wandb loggers. A
    resumed run writes `csv/resumed-N/metrics.csv`: Lightning would delete `csv/metrics.csv`."""
    loggers = []
    if cfg.logging.csv:
        n = 1
        while resuming and (run_dir / "csv" / f"resumed-{n}").exists():
            n += 1
        version = f"resumed-{n}" if resuming else ""
        loggers.append(L.pytorch.loggers.CSVLogger(save_dir=run_dir, name="csv", version=version,
                                                   flush_logs_every_n_steps=1))
    mode = wandb_mode(cfg.logging.wandb)
    if mode is not None:
        from lightning.pytorch.loggers import WandbLogger
        os.environ.setdefault("WANDB_SILENT", "true")
        wandb_logger = WandbLogger(project=cfg.logging.project, save_dir=str(run_dir), mode=mode,
                                   name=wandb_run_name(run_dir), config=cfg.to_dict())
        # Lightning always passes `anonymous`, which wandb >= 0.19 warns has no effect
        wandb_logger._wandb_init.pop("anonymous", None)
        loggers.append(wandb_logger)
    return loggers


def wandb_run_name(run_dir: Path) -> str:
    """The run folder's name; the refit's folder (`refit`) and an ensemble's further heads
    (`member_dir`) add theirs to it: `run`, `run-head1`, `run-refit`, `run-refit-head1`."""
    parts = [run_dir.name]
    while run_dir.name == "refit" or (run_dir.name.startswith("head") and run_dir.name[4:].isdigit()):
        run_dir = run_dir.parent
        parts.append(run_dir.name)
    return "-".join(reversed(parts))


def make_callbacks(run_dir: Path, validating: bool, patience: int) -> tuple[list, ModelCheckpoint | None]:
    """The best checkpoint and early stopping on val/loss (when validating: it keeps
    telling epochs apart after the accuracy of a small validation set saturates), and
    `checkpoints/last.ckpt` after every epoch, to resume from (Lightning's `save_last`
    follows only the best). Returns the callbacks and the best checkpoint callback."""
    callbacks, best = [], None
    if validating:
        best = ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="best-{epoch:03d}",
                               monitor="val/loss", mode="min", save_top_k=1)
        callbacks += [best, EarlyStopping(monitor="val/loss", mode="min", patience=patience)]
    # last in the list, so that last.ckpt holds the other callbacks' state of the same epoch
    callbacks.append(ModelCheckpoint(dirpath=run_dir / "checkpoints", filename="last",
                                     enable_version_counter=False))
    return callbacks, best


@dataclass
class FitResult:
    head: LSTMHead
    best_val_acc: float | None
    epochs_run: int
    seconds: float
    clips_per_second: float
    checkpoint: str | None
    resumed_from: str | None = None
    best_epochs: int | None = None       # epochs trained up to the best checkpoint
    fusion_weight: float = 0.5           # appearance weight of two fused streams
    probe_weight: float | None = None    # weight of the probe stream, when the head has one
    pose_weight: float | None = None     # weight of the pose stream, when the head has three
    pose_stats_videos: int | None = None  # videos the shipped pose statistics were fitted on (train + val:
                                          # `best_val_acc` was measured before, with train alone)
    val_scores: torch.Tensor | None = None  # (M, K) fused class scores of the validation clips ...
    val_labels: torch.Tensor | None = None  # ... and their labels (M,), from which `best_val_acc` came


def fit_heads(cfg: Config, head_kwargs: dict, train_items: list[VideoItem], val_items: list[VideoItem],
              cache: FeatureCache, run_dir: Path, *args, **kwargs) -> list[FitResult]:
    """`head.ensemble` heads, each trained as `fit_head` trains one, from other initial
    weights and in another order (training seeds `train.seed + 100 * i`; the first one's
    run folder is `run_dir`, head i's `run_dir/head<i>`). Each chooses its own fusion
    weights on validation. One head alone is `[fit_head(...)]`."""
    fits, count = [], cfg.head.ensemble
    for i in range(count):
        label = f"head {i + 1}/{count}" if count > 1 else ""
        fits.append(fit_head(member_config(cfg, i), head_kwargs, train_items, val_items, cache,
                             member_dir(run_dir, i), *args, **kwargs, label=label))
    return fits


def member_config(cfg: Config, index: int, **train) -> Config:
    """The config an ensemble's head `index` trains with (training seed `train.seed + 100 *
    index`, as `scripts/accuracy_suite.py --inits` seeds its runs), with `train` changes."""
    return replace(cfg, train=replace(cfg.train, seed=cfg.train.seed + 100 * index, **train))


def member_dir(run_dir: Path, index: int) -> Path:
    """The run folder of an ensemble's head `index`: the run's own for the first."""
    return run_dir / f"head{index}" if index else run_dir


def ensemble_val_acc(fits: list[FitResult]) -> float | None:
    """Validation clip top-1 of the heads' mean probabilities (`model.ensemble_probs`), as
    each head's `best_val_acc` is of its own; None without validation clips."""
    if fits[0].val_scores is None:
        return None
    probs = ensemble_probs([fit.val_scores for fit in fits])
    return float((probs.argmax(-1) == fits[0].val_labels).float().mean())


def fit_head(cfg: Config, head_kwargs: dict, train_items: list[VideoItem], val_items: list[VideoItem],
             cache: FeatureCache, run_dir: Path, fusion_weight: float | None = None,
             probe: LinearProbe | None = None, probe_weight: float | None = None,
             pose_weight: float | None = None, few_recordings: list[str] | None = None,
             label: str = "") -> FitResult:
    """Train the head on cached features; return it with its best validation weights. Two
    streams are fused with `fusion_weight` when given (the config's, or a refit's first
    fit's), else with the weight validation prefers (`choose_fusion_weights`), else 0.5;
    a third (pose) stream likewise with `pose_weight`, else 1/3.
    A head with a probe stream gets `probe` (fitted on the same training videos), weighted
    by `probe_weight` when given, else as validation prefers, else 0.
    With a pose stream and `few_recordings` (classes of fewer than 3 recordings), the
    pose comes first as without validation clips (`choose_fusion_weights`, `keep_prior`).
    A head with pose statistics fits their map on the training videos, for training and
    for choosing the weights, then once the weights are chosen and scored on the training
    and validation videos together: it has no epochs to choose, and on a small set every
    recording counts (`real_workout`: a class's only other recording is often the one
    validation holds). With `train.pose_mirror`, half the training clips, and a mirrored
    copy of each clip the statistics are fitted on, show the pose in a mirror. `label`
    (an ensemble's `head 2/3`) tags the per-epoch lines."""
    import time
    L.seed_everything(cfg.train.seed, workers=True, verbose=False)
    s, t = cfg.sampling, cfg.train
    val_loader = None
    if val_items:
        val_loader = DataLoader(EvalClips(val_items, cache, s.clip_steps, s.train_mode, 1, s.stride),
                                batch_size=t.batch_size, num_workers=t.num_workers)
    else:
        warnings.warn("no validation videos: early stopping is off and the last epoch's weights are kept")
    weights = class_weights(train_items, head_kwargs["num_classes"]) if t.class_balance else None
    module = HeadModule(head_kwargs, t.optimizer, t.lr, t.weight_decay, t.scheduler, t.epochs,
                        weights, t.label_smoothing)
    # the pose stream's own LSTM only: beside other channels in one LSTM or the skip path, the
    # mirrored pose would meet the unmirrored scene
    own_stream = module.head.pose_chunk is not None and module.head.skip is None
    mirror = pose_mirror_columns(module.head) if t.pose_mirror and own_stream else None
    module.head.set_standardization(*feature_statistics(train_items, cache, mirror, module.head.pose_start))
    if module.head.pose_probe is not None:
        attach_pose_stats(module.head, train_items, cache, cfg, mirror is not None)
    clips = TrainClips(train_items, cache, s.clip_steps, s.train_mode, s.stride, t.clips_per_video,
                       t.min_time_span, mirror)
    train_loader = DataLoader(clips, batch_size=t.batch_size, shuffle=True, num_workers=t.num_workers,
                              drop_last=len(clips) > t.batch_size)
    training_weights(module.head, fusion_weight, pose_weight)
    callbacks, checkpoint = make_callbacks(run_dir, val_loader is not None, t.early_stop_patience)
    bar = cfg.logging.progress_bar and interactive()     # a pipe, a file or CI: one line per epoch
    if cfg.logging.progress_bar and not bar:
        callbacks.append(epoch_callback(label))
    resume = resume_checkpoint(run_dir, module) if t.resume else None
    # a run that early stopping had ended stays ended (an ensemble resumed after its first heads finished)
    epochs = (stopped_epochs(resume) if resume is not None else None) or t.epochs
    trainer = L.Trainer(max_epochs=epochs, accelerator=t.accelerator, devices=t.devices, strategy=t.strategy,
                        gradient_clip_val=t.grad_clip, callbacks=callbacks,
                        logger=make_loggers(cfg, run_dir, resuming=resume is not None),
                        enable_progress_bar=bar, enable_model_summary=False,
                        default_root_dir=run_dir, log_every_n_steps=1, deterministic=False)
    log.info("training the head%s: %s, %d device(s), %d train / %d val videos", f" ({label})" if label else "",
             type(trainer.accelerator).__name__.removesuffix("Accelerator"), trainer.num_devices,
             len(train_items), len(val_items))
    if resume is not None:
        log.info("resuming from %s", resume)
    start = time.perf_counter()
    with head_threads(trainer), interrupts_kept(trainer):
        trainer.fit(module, train_loader, val_loader, ckpt_path=resume, weights_only=True)
    seconds = time.perf_counter() - start
    best_epochs = None
    if checkpoint is not None and checkpoint.best_model_path:
        best_epochs = load_best(module, checkpoint.best_model_path)
    head = module.head.cpu().eval()
    if head.probe is not None and probe is not None:
        head.attach_probe(probe)
    val_logits, val_labels = stream_outputs(head, val_loader) if val_loader is not None else (None, None)
    keep_prior = bool(few_recordings) and head.pose_chunk is not None
    if keep_prior and val_logits is not None:
        log.info("%s: fewer than 3 recordings, so validation cannot tell the action from the scene; "
                 "the pose stream keeps its weight", ", ".join(few_recordings))
    fusion_weight, probe_weight, pose_weight = choose_fusion_weights(head, val_logits, val_labels, fusion_weight,
                                                                     probe_weight, pose_weight, keep_prior)
    head.fusion_weight.fill_(fusion_weight)
    if head.probe is not None:
        head.probe_weight.fill_(probe_weight)
    if head.three_stream:
        head.pose_weight.fill_(pose_weight)
    if head.two_stream or head.probe is not None:
        log.info("streams fused: appearance weight %.1f%s%s", fusion_weight,
                 f", pose weight {pose_weight:.1f}" if head.three_stream else "",
                 f", probe weight {probe_weight:.1f}" if head.probe is not None else "")
    best = val_scores = None
    if val_loader is not None:
        val_scores = head.fuse(val_logits)
        best = float((val_scores.argmax(-1) == val_labels).float().mean())
        if head.pose_probe is not None:   # weights chosen and scored: now the statistics learn from every recording
            attach_pose_stats(head, train_items + val_items, cache, cfg, mirror is not None)
            log.info("pose statistics fitted again on %d train + %d validation videos", len(train_items),
                     len(val_items))
    finish_loggers(trainer)
    seen = len(clips) * trainer.current_epoch
    return FitResult(head, best, trainer.current_epoch, seconds, seen / seconds if seconds else 0.0,
                     checkpoint.best_model_path if checkpoint is not None else None,
                     str(resume) if resume is not None else None, best_epochs, float(head.fusion_weight),
                     probe_weight if head.probe is not None else None,
                     pose_weight if head.three_stream else None,
                     len(train_items) + len(val_items) if head.pose_probe is not None else None,
                     val_scores, val_labels)


class _Interrupt(Callback):
    """Keeps the interrupt (Ctrl-C, or `signals.Terminated`) that stopped `fit`."""

    def __init__(self):
        self.exception: KeyboardInterrupt | None = None

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        if isinstance(exception, KeyboardInterrupt):
            self.exception = exception


@contextmanager
def interrupts_kept(trainer: L.Trainer):
    """Lightning ends `fit` on an interrupt with `sys.exit(1)`; raise the interrupt itself
    instead, so the command reports it (and its exit code: 130, 143, 129) like any other."""
    watch = _Interrupt()
    trainer.callbacks.append(watch)
    try:
        yield
    except SystemExit:
        if watch.exception is not None:
            raise watch.exception from None
        raise


FUSION_WEIGHTS = [i / 10 for i in range(11)]


@torch.no_grad()
def stream_outputs(head: LSTMHead, loader) -> tuple[torch.Tensor, torch.Tensor]:
    """Each clip's stream logits `(M, num_logits)` and labels `(M,)` over `loader`."""
    head.eval()
    logits, labels = [], []
    for batch in loader:
        logits.append(head.stream_logits(batch[0]))
        labels.append(batch[1])
    return torch.cat(logits), torch.cat(labels)


@torch.no_grad()
def choose_fusion_weights(head: LSTMHead, logits: torch.Tensor | None, labels: torch.Tensor | None,
                          fusion_weight: float | None = None, probe_weight: float | None = None,
                          pose_weight: float | None = None, keep_prior: bool = False) -> tuple[float, float, float]:
    """The appearance weight of the LSTM streams, the probe stream's weight and the pose
    stream's (0, 0.1, ..., 1 each; appearance and pose together at most 1) chosen on the
    validation clips' stream logits `(M, num_logits)`. A weight that is given, or that the
    head does not use, stays fixed; without validation clips the free ones are 0.5 (1/3
    each with three streams), 0 and 1/3.

    The LSTM streams' weights are those with the lowest loss (ties: nearest equal), except
    with a pose stream: there the pose first (the lowest appearance weight left free, then
    the highest pose weight: the pose alone when both are free) stands unless another
    pair's loss is lower by more than validation's noise (twice the standard error of the
    per-clip gain) and it names no fewer validation clips right (a stream that is unsure
    everywhere can have the lower loss beside a pose that is sure and sometimes wrong:
    on one `real_workout` run that swap scored 0.23 on the test videos); so too without
    validation clips. The pose is the stream that carries
    over to other people and places; a few validation videos that share the training
    scenes favour the appearance stream without showing that it does (on the real
    exercise sets, 0.758 against 0.470 top-1 with the plain lowest loss, `docs/accuracy.md`),
    while a task the pose cannot read (a camera pan) shows its gain clearly. When the pose
    is the only motion stream (no flow), `pose_weight` is its share, `1 - fusion_weight`.
    The probe weight leaves 0 only for such a clear gain, too, so a handful of validation
    clips that happen to suit the probe do not hand the clip to it, and only where the
    probe names more validation clips right: beside streams that already name every
    validation clip, a probe's lower loss there is the training scenes'. With a pose
    stream it stays 0 unless given: the probe reads the scene, and its sure scores
    outweigh the pose's at any weight (one `real_workout` run: validation named one
    clip more at probe weight 0.1; test top-1 0.95 -> 0.41).
    With `keep_prior` (a class of fewer than 3 recordings), the pose first stands as
    without validation clips: there validation holds a class's only other recording,
    which the pose may misread and the scene name right (`real_workout` split 3:
    validation handed the weight to the appearance stream on 2 inits of 3, 0.27 and 0.36
    on the test videos, against 0.82 for the pose)."""
    pose_is_motion = head.pose_chunk == 1
    if pose_is_motion and pose_weight is not None and fusion_weight is None:
        fusion_weight = 1 - pose_weight
    equal = 1 / 3 if head.three_stream else 0.5
    ws = [fusion_weight] if fusion_weight is not None else FUSION_WEIGHTS if head.two_stream else [equal]
    qs = [pose_weight] if pose_weight is not None and head.three_stream else FUSION_WEIGHTS if head.three_stream \
        else [1 - ws[0]] if pose_is_motion and len(ws) == 1 else [1 / 3]
    scene_free = head.probe is not None and head.pose_chunk is None     # with a pose stream, no probe
    ps = [probe_weight] if probe_weight is not None else FUSION_WEIGHTS if scene_free else [0.0]
    pairs = [(w, q) for w in ws for q in qs if not head.three_stream or w + q <= 1 + 1e-6] or [(ws[0], qs[0])]
    prior = min(pairs, key=lambda wq: (wq[0], -wq[1])) if head.three_stream or pose_is_motion else None
    if logits is None or (keep_prior and prior is not None):
        w, q = prior or (ws[0] if len(ws) == 1 else equal, qs[0] if len(qs) == 1 else 1 / 3)
        return w, (ps[0] if len(ps) == 1 else 0.0), q

    def hits(w: float, p: float, q: float) -> int:
        """Validation clips the fusion names right."""
        return int((head.fuse(logits, w, p, q).argmax(-1) == labels).sum())

    def best(p: float) -> tuple[tuple[float, float], torch.Tensor]:
        """The best (appearance, pose) weights with probe weight `p`, and their per-clip losses."""
        losses = {wq: F.cross_entropy(head.fuse(logits, wq[0], p, wq[1]), labels, reduction="none") for wq in pairs}
        wq = min(pairs, key=lambda wq: (round(losses[wq].mean().item(), 6),
                                        abs(wq[0] - equal) + (abs(wq[1] - equal) if head.three_stream else 0)))
        if prior is not None and (not clear_gain(losses[prior] - losses[wq])
                                  or hits(wq[0], p, wq[1]) < hits(prior[0], p, prior[1])):
            wq = prior
        return wq, losses[wq]

    wq0, base = best(ps[0])
    choice, gain_best = (wq0[0], ps[0], wq0[1]), 0.0
    right = hits(*choice)
    for p in ps[1:]:
        wq, clip_losses = best(p)
        gain = base - clip_losses
        if clear_gain(gain) and gain.mean() > gain_best and hits(wq[0], p, wq[1]) > right:
            choice, gain_best = (wq[0], p, wq[1]), float(gain.mean())
    return choice


def training_weights(head: LSTMHead, fusion_weight: float | None, pose_weight: float | None) -> None:
    """The fusion the validation loss uses while training (early stopping, the best
    checkpoint): the given weights; with three streams, the free ones pose first, where
    `choose_fusion_weights` starts (the epoch where the pose reads best: on the real
    exercise sets 0.864 against 0.758 top-1 with early stopping on an equal mix)."""
    with torch.no_grad():
        if head.three_stream:
            w, _, q = choose_fusion_weights(head, None, None, fusion_weight, None, pose_weight)
            head.fusion_weight.fill_(w)
            head.pose_weight.fill_(q)
        elif fusion_weight is not None:
            head.fusion_weight.fill_(fusion_weight)


def clear_gain(gain: torch.Tensor) -> bool:
    """Whether per-clip loss reductions `(M,)` are more than validation's noise: their mean
    above twice its standard error."""
    noise = 2 * gain.std() / len(gain) ** 0.5 if len(gain) > 1 else float("inf")
    return bool(gain.mean() > noise)


def head_threads(trainer: L.Trainer):
    """One intra-op thread while a CPU trains the head: its matrices are small, and a
    second OpenMP thread that waits on a busy core makes each LSTM step ~50x slower."""
    return one_torch_thread(type(trainer.accelerator).__name__ == "CPUAccelerator")


def class_weights(items: list[VideoItem], num_classes: int) -> list[float]:
    """Inverse class frequency, mean 1 over the classes present (absent classes: 0)."""
    counts = np.bincount([i.label for i in items], minlength=num_classes).astype(np.float64)
    weights = np.divide(1.0, counts, out=np.zeros_like(counts), where=counts > 0)
    return (weights * (counts > 0).sum() / weights.sum()).tolist()


def feature_statistics(items: list[VideoItem], cache: FeatureCache, mirror: np.ndarray | None = None,
                       pose_start: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-channel mean and std `(C,)` over every step and cell of `items`' cached features,
    each video weighted alike (a long video does not set the scale), over the values seen:
    as `LSTMHead.standardize` reads them, neither a pose channel that reads `pose.UNSEEN`
    nor the pose channels after `present` (column `pose_start`) of a step where nobody
    was found count. With `mirror` (a `(C,)` channel order, `TrainClips`), over the
    features and their mirror images alike, so that a channel and its twin share one
    scale and mirroring commutes with standardising."""
    sums = squares = videos = 0.0
    for item in items:
        feats = np.asarray(cache.load_item(item), dtype=np.float64)
        flat = feats.reshape(-1, feats.shape[-1])
        seen = flat != UNSEEN
        if pose_start is not None:
            seen[:, pose_start:] &= ~hidden_pose(flat, pose_start)
        count = np.maximum(seen.sum(0), 1)
        values = np.where(seen, flat, 0.0)
        sums = sums + values.sum(0) / count
        squares = squares + (values ** 2).sum(0) / count
        videos = videos + seen.any(0)
    if mirror is not None:
        sums, squares, videos = ((a + a[mirror]) / 2 for a in (sums, squares, videos))
    videos = np.maximum(videos, 1)
    mean = sums / videos
    std = np.sqrt(np.maximum(squares / videos - mean ** 2, 0.0))
    return torch.from_numpy(mean.astype(np.float32)), torch.from_numpy(std.astype(np.float32))


def resume_checkpoint(run_dir: Path, module: HeadModule) -> Path | None:
    """`run_dir/checkpoints/last.ckpt` if there is one to resume from, else None.

    It is read with `weights_only=True` and must fit `module`: a checkpoint of another
    head (the config changed) is a `ConfigError` naming it. An unreadable one (cut
    short by a full disk) is kept aside as `last.unreadable.ckpt` and training starts over.
    """
    last = run_dir / "checkpoints" / "last.ckpt"
    if not last.is_file():
        return None
    try:
        state = torch.load(last, map_location="cpu", weights_only=True)["state_dict"]
    except Exception as exc:  # UnpicklingError, EOFError, RuntimeError, KeyError ...
        last.replace(last.with_name("last.unreadable.ckpt"))
        warnings.warn(f"{last}: unreadable checkpoint ({type(exc).__name__}: {exc}); kept as "
                      f"last.unreadable.ckpt, training from the first epoch")
        return None
    expected = {k: tuple(v.shape) for k, v in module.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in state.items()}
    if found != expected:
        differ = sorted(k for k in expected.keys() | found.keys() if expected.get(k) != found.get(k))
        raise ConfigError(f"{last}: cannot resume: the checkpoint's head differs from the one this "
                          f"config builds ({', '.join(differ[:3])}); set another logging.run_name, "
                          f"or train.resume=false to start over in this folder")
    return last


def stopped_epochs(last: Path) -> int | None:
    """The epochs a run had trained when early stopping ended it, read from its `last.ckpt`
    (already checked by `resume_checkpoint`); None if it had not stopped. Resumed with that
    many `max_epochs`, the run restores its best checkpoint and trains no further."""
    ckpt = torch.load(last, map_location="cpu", weights_only=True)
    for key, state in ckpt.get("callbacks", {}).items():
        if key.startswith("EarlyStopping") and state.get("stopped_epoch", 0) > 0:
            return int(ckpt["epoch"]) + 1
    return None


def load_best(module: HeadModule, path: str) -> int:
    """Load the best checkpoint's head weights (weights only, no pickle); return the epochs
    trained up to it. Read from the file, since spawned DDP workers do not hand the
    weights back to the launching process."""
    ckpt = torch.load(path, map_location="cpu", weights_only=True)
    module.head.load_state_dict({k.removeprefix("head."): v for k, v in ckpt["state_dict"].items()})
    return int(ckpt.get("epoch", 0)) + 1


def finish_loggers(trainer: L.Trainer) -> None:
    for logger in trainer.loggers:
        if type(logger).__name__ == "WandbLogger":
            import wandb
            wandb.finish()


def clip_means(items: list[VideoItem], cache: FeatureCache, clip_steps: int, mode: str,
               num_clips: int, stride: int = 1,
               channels: int | None = None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Time-averaged features of each evaluation clip: `(M, S, D)`, labels `(M,)`, video `(M,)`.
    With `channels`, only the first ones: the backbone's, for the order-blind references
    (motion channels compare neighbouring frames, so their mean still knows the order)."""
    means, labels, videos = [], [], []
    for v, item in enumerate(items):
        feats = cache.load_item(item)[..., :channels]
        for idx in eval_clips(len(feats), clip_steps, mode, num_clips, stride):
            means.append(np.asarray(feats[idx], dtype=np.float32).mean(0))
            labels.append(item.label)
            videos.append(v)
    return torch.from_numpy(np.stack(means)), torch.tensor(labels), torch.tensor(videos)


POSE_STATS_CLIPS = 2048   # training clips the pose statistics' map is fitted on, spread over the videos
POSE_STATS_PER_VIDEO = 32   # ... but no more than this many of one video


@torch.no_grad()
def pose_clip_statistics(head: LSTMHead, items: list[VideoItem], cache: FeatureCache, clip_steps: int,
                         mode: str, per_video: int, stride: int = 1, min_span: float = 1.0,
                         seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """`head.pose_statistics` of `per_video` random training clips of each of `items`, drawn
    as `TrainClips` draws them (a random stretch of at least `min_span`): `(M, 3P)` and
    labels `(M,)`. Live, the statistics are read over one window; a clip spread over a whole
    take has a wider spread and range than the window that sees a part of it."""
    rng = np.random.default_rng(seed)
    stats, labels = [], []
    for item in items:
        feats = cache.load_item(item)
        # the pose is the same in every cell: only the first is read (`standard_pose`)
        clips = np.stack([np.asarray(feats[train_clip(len(feats), clip_steps, mode, rng, stride, min_span), :1],
                                     dtype=np.float32) for _ in range(per_video)])
        stats.append(head.pose_statistics(head.standard_pose(torch.from_numpy(clips))))
        labels += [item.label] * per_video
    return torch.cat(stats), torch.tensor(labels)


def fit_pose_stats(head: LSTMHead, items: list[VideoItem], cache: FeatureCache, clip_steps: int, mode: str,
                   per_video: int, stride: int = 1, min_span: float = 1.0, weight_decay: float = 1e-3,
                   seed: int = 0, mirror: bool = False) -> LinearProbe:
    """The pose statistics' linear map (`LSTMHead.attach_pose_probe`), fitted as the probe is,
    on `per_video` training clips of each of `items` (`pose_clip_statistics`; with `mirror`,
    and on their mirror images); `head` must already hold its standardisation."""
    stats, labels = pose_clip_statistics(head, items, cache, clip_steps, mode, per_video, stride, min_span, seed)
    if mirror:   # mean, spread and range: each block in the mirrored channel order
        order = torch.from_numpy(mirror_order())
        stats = torch.cat([stats, stats[:, torch.cat([order + k * head.pose_dim for k in range(3)])]])
        labels = torch.cat([labels, labels])
    return fit_probe(stats[:, None], labels, head.num_classes, weight_decay, seed=seed)


def attach_pose_stats(head: LSTMHead, items: list[VideoItem], cache: FeatureCache, cfg: Config,
                      mirror: bool) -> None:
    """Fit the pose statistics' map on `items` (`fit_pose_stats`) and attach it to `head`,
    on random numbers of its own: the LSTMs train as they would without it."""
    s, t = cfg.sampling, cfg.train
    per_video = min(POSE_STATS_PER_VIDEO, max(s.eval_clips, -(-POSE_STATS_CLIPS // max(1, len(items)))))
    with torch.random.fork_rng(devices=[]):
        head.attach_pose_probe(fit_pose_stats(head, items, cache, s.clip_steps, s.train_mode, per_video,
                                              s.stride, t.min_time_span, t.probe_weight_decay, t.seed, mirror))


def fit_baseline(features: torch.Tensor, labels: torch.Tensor, num_classes: int, epochs: int = 200,
                 seed: int = 0) -> MeanPoolBaseline:
    """Full-batch logistic regression on time-averaged features `(M, S, D)`."""
    torch.manual_seed(seed)
    model = MeanPoolBaseline(features.shape[2], num_classes, features.shape[1])
    opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=1e-4)
    x = features.unsqueeze(1)   # (M, 1, S, D): a one-step "clip" whose mean is itself
    for _ in range(epochs):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels)
        loss.backward()
        opt.step()
    return model.eval()


def fit_probe(features: torch.Tensor, labels: torch.Tensor, num_classes: int, weight_decay: float = 1e-3,
              epochs: int = 300, seed: int = 0) -> LinearProbe:
    """The standardised linear probe on time-averaged features `(M, S, C)`: full-batch
    logistic regression with an L2 penalty `weight_decay * |W|^2`."""
    torch.manual_seed(seed)
    model = LinearProbe(features.shape[2], num_classes, features.shape[1])
    flat = features.flatten(1)
    model.mean.copy_(flat.mean(0))
    model.std.copy_(channel_scale(flat.std(0, unbiased=False)))
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    x = features.unsqueeze(1)
    for _ in range(epochs):
        opt.zero_grad()
        loss = F.cross_entropy(model(x), labels) + weight_decay * model.classifier.weight.pow(2).sum()
        loss.backward()
        opt.step()
    return model.eval()
