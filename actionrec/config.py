"""Run configuration: dataclasses filled from `configs/*.yaml` and `--set key=value`.

Unknown keys fail loudly with the list of allowed ones; every value a user tunes has
its default in `configs/default.yaml` (a test keeps the two in step).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent.parent / "configs"


@dataclass
class DataConfig:
    format: str = "auto"   # auto | ucf101 | folders | list | hmdb51 | kinetics | ssv2 | segments
    fold: int = 1
    val_fraction: float = 0.15
    test_fraction: float = 0.25
    split_seed: int = 0
    allow_outside_root: bool = False
    reader: str = "auto"
    single_group: str = "train"  # a class with one group (session): all to train, or split by "videos"
    background_class: str = "none"  # a class of this name means "none of these": live shows no action
    duplicate_similarity: float = 0.9   # videos without a group in their names: feature cosine at or
                                        # above this joins them into one group (clips of one recording)
    duplicate_step_similarity: float = 0.85   # ... and so does a step of each at or above this


@dataclass
class BackboneConfig:
    name: str = "mobilenet_v2"
    pooling: str = "grid"
    grid: int = 3
    resize_size: int | None = None
    crop_size: int | None = 160     # the backbone's input (None: the weights' own, 224 for every listed CNN)
    resize_mode: str = "squash"     # the whole frame: people and motion reach its edges
    batch_size: int = 32
    runtime: str = "auto"       # auto | torch | onnx (auto: ONNX Runtime on CPU-only machines)
    parallel_videos: int | str = "auto"   # videos extracted side by side (auto: one per core on ONNX Runtime)


@dataclass
class MotionConfig:
    stream: str = "flow"        # none | flow: DIS optical flow per grid cell beside the CNN features
    size: int = 112             # flow is computed on a size x size copy of the backbone input
    preset: str = "fine_fast"   # DIS preset: ultrafast | fast | medium | fine | fine_fast (medium plus a full-size search: small objects)
    colour: bool = True         # flow on the copy's Lab planes too (hue edges); false: on grey alone
    camera: str = "border"      # the camera motion taken out of the flow: shift (the median) | similarity (shift, zoom,
                                # rotation) | border (the same, fitted on the frame's outer ring)
    pose: str = "auto"          # off | on | auto: the body pose per step, read beside the flow (auto: when the training videos show people)
    pose_hold: float = 1.0      # seconds a step where nobody is found keeps the last pose found (detector drop-outs); 0: off
    pose_track: bool = True     # a step after one with a person looks for it where it was (no detector flips or drop-outs)


@dataclass
class SamplingConfig:
    fps: float = 8.0
    clip_steps: int = 16
    train_mode: str = "segments"
    stride: int = 1
    eval_clips: int = 3


@dataclass
class HeadConfig:
    hidden_size: int = 256
    num_layers: int = 2
    dropout: float = 0.3
    input_dropout: float = 0.2
    output_dropout: float = 0.3
    cell_dim: int = 64
    deltas: bool = True         # each step also gets its difference from the step before
    skip: bool = False          # a linear path from each step's features to its logits
    readout: str = "mean"       # a clip's logits: mean over its steps, or the last step's
    fusion: str = "late"        # motion stream: its own LSTM, fused on validation (late), or one LSTM (early)
    probe: bool = True          # an order-blind linear stream on the appearance cells, fused on validation
    pose_hidden_size: int | None = None  # the pose stream's LSTM width; null: hidden_size
    pose_stats: bool = True     # the pose stream also reads each joint's mean, spread and range over the clip
    pose_clip: float = 3.0      # a standardised pose channel reads at most this many training stds; 0: no clip
    pose_horizontal: bool = True  # the pose stream reads the landmarks' sideways offsets (they change with the view)
    ensemble: int = 3           # heads trained from other initial weights; a clip's probabilities are their mean


@dataclass
class TrainConfig:
    epochs: int = 30
    batch_size: int = 32
    optimizer: str = "adamw"
    lr: float = 0.001
    weight_decay: float = 0.0001
    scheduler: str = "cosine"
    grad_clip: float = 5.0
    early_stop_patience: int = 10
    seed: int = 0
    num_workers: int = 0
    accelerator: str = "auto"
    devices: Any = "auto"
    strategy: str = "auto"      # e.g. ddp (torchrun / multi-GPU), ddp_spawn (one command, CPU or GPU)
    baseline_epochs: int = 200
    resume: bool = True         # a run folder with checkpoints/last.ckpt continues from it
    clips_per_video: int = 1    # random clips drawn from each training video per epoch
    min_time_span: float = 1.0  # a training clip spans a random 'min_time_span'..1 of its video
    evaluate_test: bool = False  # after training, score the bundle on the test split and report it
    refit_all: bool = False     # then train again on every video for the epochs validation chose
    class_balance: bool = True  # weight the loss by inverse class frequency
    label_smoothing: float = 0.1
    probe_weight_decay: float = 0.001   # L2 strength of the standardised linear probe
    fusion_weight: float | None = None  # appearance weight of two streams; null: chosen on validation
    probe_weight: float | None = None   # weight of the probe stream (head.probe); null: chosen on validation
    pose_weight: float | None = None    # weight of the pose stream (with flow and pose); null: chosen on validation
    pose_mirror: bool = True    # half the training clips see the pose in a mirror (left and right traded)


@dataclass
class StreamConfig:
    smoothing: int = 5          # predictions averaged (moving mean of probabilities)
    threshold: float = 0.5      # below this smoothed score: no action
    topk: int = 3
    min_person_share: float = 0.5   # a bundle whose pose alone names the action names none on a window
                                    # where a person is found in fewer of its steps than this (0: off)


@dataclass
class LoggingConfig:
    wandb: str = "auto"
    project: str = "actionrec"
    csv: bool = True
    run_dir: str = "runs"
    run_name: str | None = None  # runs/<run_name>/, reused by a rerun; None: a new train-<time>/
    progress_bar: bool = True


@dataclass
class CacheConfig:
    dir: str = ".cache/features"


@dataclass
class RecordConfig:
    clips: int = 5              # takes per `actionrec record` run
    seconds: float = 3.0        # length of a take
    countdown: float = 3.0      # seconds to get ready before each take
    max_side: int = 640         # takes are scaled down to this longer side


@dataclass
class DemoConfig:
    classes: list = field(default_factory=lambda: ["grow", "shrink", "slide_left", "slide_right",
                                                   "turn_clockwise", "turn_anticlockwise"])
    groups: int = 10
    clips_per_group: int = 4
    test_groups: int = 3
    num_frames: int = 40
    size: int = 112


@dataclass
class Config:
    data: DataConfig = field(default_factory=DataConfig)
    backbone: BackboneConfig = field(default_factory=BackboneConfig)
    motion: MotionConfig = field(default_factory=MotionConfig)
    sampling: SamplingConfig = field(default_factory=SamplingConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    cache: CacheConfig = field(default_factory=CacheConfig)
    stream: StreamConfig = field(default_factory=StreamConfig)
    record: RecordConfig = field(default_factory=RecordConfig)
    demo: DemoConfig = field(default_factory=DemoConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


CHOICES = {
    ("data", "reader"): ("auto", "decord", "opencv"),
    ("data", "single_group"): ("train", "videos"),
    ("backbone", "pooling"): ("global", "grid"),
    ("backbone", "resize_mode"): ("center_crop", "squash"),
    ("backbone", "runtime"): ("auto", "torch", "onnx"),
    ("motion", "stream"): ("none", "flow"),
    ("motion", "preset"): ("ultrafast", "fast", "medium", "fine", "fine_fast"),
    ("motion", "camera"): ("shift", "similarity", "border"),
    ("motion", "pose"): ("off", "on", "auto"),
    ("head", "readout"): ("mean", "last"),
    ("head", "fusion"): ("late", "early"),
    ("sampling", "train_mode"): ("segments", "strided"),
    ("train", "optimizer"): ("adam", "adamw", "rmsprop"),
    ("train", "scheduler"): ("cosine", "plateau", "none"),
    ("logging", "wandb"): ("auto", "online", "offline", "disabled"),
}


def resolve_config_path(name: str | Path) -> Path:
    """A YAML path, or the name of a preset in `configs/` (`demo`, `ucf101`, ...)."""
    path = Path(name)
    if path.is_file():
        return path
    preset = CONFIG_DIR / f"{name}.yaml"
    if preset.is_file():
        return preset
    presets = sorted(p.stem for p in CONFIG_DIR.glob("*.yaml"))
    raise ConfigError(f"config {str(name)!r} not found: not a file, nor a preset ({', '.join(presets)})")


def load_config(path: str | Path | None = None, overrides: list[str] | None = None) -> Config:
    """Defaults, then the YAML at `path` (or preset name), then `key.sub=value` overrides."""
    cfg = Config()
    if path is not None:
        source = resolve_config_path(path)
        data = yaml.safe_load(source.read_text()) or {}
        if not isinstance(data, dict):
            raise ConfigError(f"{source}: expected a mapping of sections, got {type(data).__name__}")
        merge(cfg, data, str(source))
    for item in overrides or []:
        key, sep, raw = item.partition("=")
        if not sep:
            raise ConfigError(f"override {item!r} must look like section.key=value")
        section, _, name = key.strip().partition(".")
        merge(cfg, {section: {name: yaml.safe_load(raw)}}, f"override {item!r}")
    validate(cfg)
    return cfg


def merge(cfg: Config, data: dict, where: str) -> None:
    sections = {f.name for f in dataclasses.fields(cfg)}
    for section, values in data.items():
        if section not in sections:
            raise ConfigError(f"{where}: unknown section {section!r} (allowed: {', '.join(sorted(sections))})")
        target = getattr(cfg, section)
        if not isinstance(values, dict):
            raise ConfigError(f"{where}: section {section!r} must be a mapping")
        allowed = {f.name for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in allowed:
                raise ConfigError(f"{where}: unknown key {section}.{key} "
                                  f"(allowed: {', '.join(sorted(allowed))})")
            setattr(target, key, coerce(getattr(target, key), value, f"{where}: {section}.{key}"))


def coerce(default, value, where: str):
    """YAML reads `3e-4` as a string; make numbers numbers where the default is one."""
    if isinstance(default, float) and isinstance(value, (str, int)) and not isinstance(value, bool):
        try:
            return float(value)
        except ValueError:
            raise ConfigError(f"{where}: expected a number, got {value!r}") from None
    return value


# YAML reads a bare on/off, yes/no or true/false as a bool: the choice each one names
BOOL_CHOICES = {
    ("motion", "pose"): ("off", "on"),
    ("logging", "wandb"): ("disabled", "auto"),   # on: online with an account, else offline
}


def is_number(value) -> bool:
    """An int or a float, not a bool (YAML's `true` is an int to Python)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def validate(cfg: Config) -> None:
    for (section, key), allowed in CHOICES.items():
        value = getattr(getattr(cfg, section), key)
        if isinstance(value, bool) and (section, key) in BOOL_CHOICES:
            value = BOOL_CHOICES[section, key][value]
            setattr(getattr(cfg, section), key, value)
        if value not in allowed:
            raise ConfigError(f"{section}.{key}={value!r} is not one of {', '.join(allowed)}")
    positive = [("sampling", "fps"), ("sampling", "clip_steps"), ("sampling", "eval_clips"),
                ("sampling", "stride"), ("train", "batch_size"), ("train", "lr"),
                ("head", "hidden_size"), ("head", "num_layers"), ("backbone", "batch_size"),
                ("backbone", "grid"), ("train", "clips_per_video"), ("record", "clips"),
                ("record", "seconds"), ("motion", "size")]
    for section, key in positive:
        value = getattr(getattr(cfg, section), key)
        if not isinstance(value, (int, float)) or value <= 0:
            raise ConfigError(f"{section}.{key} must be a positive number, got {value!r}")
    lanes = cfg.backbone.parallel_videos
    if lanes != "auto" and (isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1):
        raise ConfigError(f"backbone.parallel_videos must be auto or a whole number of at least 1, got {lanes!r}")
    name = cfg.logging.run_name
    if name is not None and (not isinstance(name, str) or not name.strip() or name in (".", "..")
                             or "/" in name or "\\" in name):
        raise ConfigError(f"logging.run_name must be a folder name (no '/'), got {name!r}")
    sizes = [("backbone", "resize_size"), ("backbone", "crop_size"), ("head", "pose_hidden_size")]
    for section, key in sizes:
        value = getattr(getattr(cfg, section), key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise ConfigError(f"{section}.{key} must be null or a whole number of at least 1, got {value!r}")
    heads = cfg.head.ensemble
    if isinstance(heads, bool) or not isinstance(heads, int) or heads < 1:
        raise ConfigError(f"head.ensemble must be a whole number of heads, at least 1, got {heads!r}")
    clip = cfg.head.pose_clip
    if not is_number(clip) or not 0 <= clip < float("inf"):
        raise ConfigError(f"head.pose_clip must be 0 (no clip) or a positive number of stds, got {clip!r}")
    if not isinstance(cfg.head.pose_horizontal, bool):
        raise ConfigError(f"head.pose_horizontal must be true or false, got {cfg.head.pose_horizontal!r}")
    if not isinstance(cfg.head.pose_stats, bool):
        raise ConfigError(f"head.pose_stats must be true or false, got {cfg.head.pose_stats!r}")
    if not isinstance(cfg.motion.pose_track, bool):
        raise ConfigError(f"motion.pose_track must be true or false, got {cfg.motion.pose_track!r}")
    if not isinstance(cfg.train.pose_mirror, bool):
        raise ConfigError(f"train.pose_mirror must be true or false, got {cfg.train.pose_mirror!r}")
    if not isinstance(cfg.train.resume, bool):
        raise ConfigError(f"train.resume must be true or false, got {cfg.train.resume!r}")
    share = cfg.stream.min_person_share
    if not is_number(share) or not 0 <= share <= 1:
        raise ConfigError(f"stream.min_person_share must be a share from 0 to 1, got {share!r}")
    hold = cfg.motion.pose_hold
    if not is_number(hold) or not 0 <= hold < float("inf"):
        raise ConfigError(f"motion.pose_hold must be 0 or more seconds, got {hold!r}")
    if not isinstance(cfg.record.countdown, (int, float)) or cfg.record.countdown < 0:
        raise ConfigError(f"record.countdown must be 0 or more seconds, got {cfg.record.countdown!r}")
    if not isinstance(cfg.record.max_side, int) or cfg.record.max_side < 32:
        raise ConfigError(f"record.max_side must be a whole number of pixels, at least 32, "
                          f"got {cfg.record.max_side!r}")
    if not 0 < cfg.train.min_time_span <= 1:
        raise ConfigError(f"train.min_time_span must be in (0, 1], got {cfg.train.min_time_span!r}")
    for name in ("duplicate_similarity", "duplicate_step_similarity"):
        if not 0 < getattr(cfg.data, name) <= 1:
            raise ConfigError(f"data.{name} must be in (0, 1], got {getattr(cfg.data, name)!r}")
    for key in ("fusion_weight", "probe_weight", "pose_weight"):
        w = getattr(cfg.train, key)
        if w is not None and (not isinstance(w, (int, float)) or not 0 <= w <= 1):
            raise ConfigError(f"train.{key} must be null (chosen on validation) or in [0, 1], got {w!r}")
    given = [w for w in (cfg.train.fusion_weight, cfg.train.pose_weight) if w is not None]
    if len(given) == 2 and sum(given) > 1 + 1e-6:
        raise ConfigError(f"train.fusion_weight + train.pose_weight must be at most 1 (the flow gets the rest), "
                          f"got {given[0]} + {given[1]}")
    if not 0 <= cfg.train.label_smoothing < 1:
        raise ConfigError(f"train.label_smoothing must be in [0, 1), got {cfg.train.label_smoothing!r}")
    for key in ("dropout", "input_dropout", "output_dropout"):
        value = getattr(cfg.head, key)
        if not 0 <= value < 1:
            raise ConfigError(f"head.{key} must be in [0, 1), got {value!r}")


def dump_config(cfg: Config) -> str:
    return yaml.safe_dump(cfg.to_dict(), sort_keys=False)
