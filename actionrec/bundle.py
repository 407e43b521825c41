"""The inference bundle: one `.safetensors` file holding everything inference needs.

Tensors: the LSTM head (`head.*`, with its feature standardisation; an ensemble's further
heads `head1.*`, `head2.*`, ...), the order-blind baseline (`baseline.*`) and the
standardised linear probe (`probe.*`). Metadata (JSON under the key `actionrec`): format
version, backbone name, weights id and pooling, the motion stream's settings,
preprocessing, sampling, head hyperparameters, the number of heads, class names and a
training summary. No pickle anywhere: loading a bundle cannot run code.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from .backbone import Backbone, get_spec
from .errors import BundleError, ConfigError, check_bundle_path
from .features import motion_channels
from .files import atomic_path
from .model import LinearProbe, LSTMHead, MeanPoolBaseline, ensemble_probs
from .motion import FlowSpec
from .pose import PoseSpec
from .transforms import Preprocess

FORMAT_VERSION = 4
READABLE_VERSIONS = (1, 2, 3, 4)   # 1: no motion stream, probe or standardisation; 2: no probe stream;
                                   # 3: one head


@dataclass
class Bundle:
    """A loaded bundle. `head` is the first (or only) head; an ensemble's further heads,
    trained alike from other initial weights, are in `more_heads`."""
    path: Path | None
    meta: dict
    head: LSTMHead
    baseline: MeanPoolBaseline | None
    probe: LinearProbe | None = None
    more_heads: list[LSTMHead] = field(default_factory=list)

    @property
    def heads(self) -> list[LSTMHead]:
        return [self.head, *self.more_heads]

    @torch.no_grad()
    def clip_probs(self, features: torch.Tensor) -> torch.Tensor:
        """`(B, T, S, D + M) -> (B, K)`: the clip's class probabilities, the mean of the heads'."""
        return ensemble_probs([head.clip_logits(features) for head in self.heads])

    @property
    def class_names(self) -> list[str]:
        return self.meta["class_names"]

    @property
    def background_class(self) -> str | None:
        """The class that means "none of these" (a recorded `none` class), if the head has one."""
        return self.meta.get("background_class")

    @property
    def preprocess(self) -> Preprocess:
        p = self.meta["preprocess"]
        return Preprocess(p["resize_size"], p["crop_size"], p["mode"], tuple(p["mean"]), tuple(p["std"]))

    @property
    def motion(self) -> FlowSpec | None:
        """The motion stream the head was trained with (None: appearance only)."""
        return FlowSpec.from_meta(self.meta.get("motion"))

    @property
    def pose(self) -> PoseSpec | None:
        """The pose stream the head was trained with (None: no pose)."""
        return PoseSpec.from_meta(self.meta.get("pose"))

    @property
    def sampling(self) -> dict:
        return self.meta["sampling"]

    def build_backbone(self, pretrained: bool = True) -> Backbone:
        b = self.meta["backbone"]
        return Backbone(b["name"], b["pooling"], b["grid"] or 3, pretrained=pretrained)


def save_bundle(path: str | Path, heads: LSTMHead | list[LSTMHead], baseline: MeanPoolBaseline | None,
                meta: dict, probe: LinearProbe | None = None) -> Path:
    """Write the bundle atomically (temporary file, then rename). `heads`: one head, or an
    ensemble's heads (the first one's settings describe them all)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    heads = [heads] if isinstance(heads, LSTMHead) else list(heads)
    tensors = {}
    parts = [(head_prefix(i), head) for i, head in enumerate(heads)] + [("baseline.", baseline), ("probe.", probe)]
    for prefix, module in parts:
        if module is not None:
            tensors.update({f"{prefix}{k}": v.detach().cpu().contiguous()
                            for k, v in module.state_dict().items()})
    meta = {**meta, "format_version": FORMAT_VERSION, "heads": len(heads)}
    with atomic_path(path) as tmp:
        save_file(tensors, str(tmp), metadata={"actionrec": json.dumps(meta)})
    return path


def read_meta(path: Path) -> dict:
    try:
        with safe_open(str(path), framework="pt") as f:
            raw = (f.metadata() or {}).get("actionrec")
    except (SafetensorError, OSError, ValueError) as exc:
        raise BundleError(f"{path}: not an actionrec bundle (unreadable safetensors: {exc})") from exc
    if raw is None:
        raise BundleError(f"{path}: a safetensors file without actionrec metadata: not a bundle")
    meta = json.loads(raw)
    if meta.get("format_version") not in READABLE_VERSIONS:
        raise BundleError(f"{path}: bundle format {meta.get('format_version')!r}; this actionrec "
                          f"reads formats {', '.join(map(str, READABLE_VERSIONS))}")
    return meta


def load_bundle(path: str | Path) -> Bundle:
    """Load and check a bundle; BundleError names the file and what does not fit."""
    path = check_bundle_path(path)
    meta = read_meta(path)
    tensors = load_file(str(path))
    backbone = meta["backbone"]["name"]
    expected_dim = get_spec(backbone).out_dim
    h = meta["head"]
    if h["in_dim"] != expected_dim:
        raise BundleError(f"{path}: head expects {h['in_dim']}-d features but backbone {backbone!r} "
                          f"gives {expected_dim}")
    if h["num_classes"] != len(meta["class_names"]):
        raise BundleError(f"{path}: head has {h['num_classes']} outputs for "
                          f"{len(meta['class_names'])} class names")
    try:
        pose, flow = PoseSpec.from_meta(meta.get("pose")), FlowSpec.from_meta(meta.get("motion"))
    except ConfigError as exc:
        raise BundleError(f"{path}: {exc}") from None
    pose_dim = pose.channels if pose is not None else 0
    motion_dim = motion_channels(flow, pose)
    if h.get("motion_dim", 0) != motion_dim or h.get("pose_dim", 0) != pose_dim:
        raise BundleError(f"{path}: head expects {h.get('motion_dim', 0)} motion channels per cell "
                          f"({h.get('pose_dim', 0)} of them pose) but the bundle's motion and pose streams "
                          f"give {motion_dim} ({pose_dim})")
    count = meta.get("heads", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BundleError(f"{path}: 'heads' must be a whole number of at least 1, got {count!r}")
    heads = [LSTMHead(**h) for _ in range(count)]
    if meta["format_version"] == 1:      # no standardisation then: the identity
        tensors.update({f"head.{k}": v for k, v in heads[0].state_dict().items()
                        if k.startswith(("feature_", "fusion_"))})
    for i, head in enumerate(heads):
        load_part(head, tensors, head_prefix(i), path)
        head.pose_gaps = pose is None or pose.version >= 3    # version 2 heads read an absent step's zeros
    baseline = MeanPoolBaseline(h["in_dim"], h["num_classes"], h["num_cells"])   # backbone channels only
    probe = LinearProbe(h["in_dim"], h["num_classes"], h["num_cells"])
    baseline = load_part(baseline, tensors, "baseline.", path)
    probe = load_part(probe, tensors, "probe.", path)
    return Bundle(path, meta, heads[0].eval(), baseline, probe, [head.eval() for head in heads[1:]])


def head_prefix(index: int) -> str:
    """The tensor name prefix of an ensemble's head `index`: `head.`, then `head1.`, `head2.`, ..."""
    return f"head{index or ''}."


def load_part(module: torch.nn.Module, tensors: dict, prefix: str, path: Path):
    """`module` with the bundle's `prefix` weights, in eval mode; None if it has none."""
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    if not state and not prefix.startswith("head"):
        return None
    if not state:
        raise BundleError(f"{path}: its metadata names {prefix.rstrip('.')} but the file has no "
                          f"{prefix}* tensors")
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise BundleError(f"{path}: {prefix.rstrip('.')} weights do not fit the model "
                          f"its metadata describes: {str(exc).splitlines()[0]}") from exc
    return module.eval()
