"""The inference bundle: one `.safetensors` file holding everything inference needs.

Tensors: the LSTM head (`head.*`) and the order-blind baseline (`baseline.*`).
Metadata (JSON under the key `actionrec`): format version, backbone name, weights
id and pooling, preprocessing, sampling, head hyperparameters, class names and a
training summary. No pickle anywhere: loading a bundle cannot run code.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from .backbone import Backbone, get_spec
from .errors import BundleError
from .model import LSTMHead, MeanPoolBaseline
from .transforms import Preprocess

FORMAT_VERSION = 1


@dataclass
class Bundle:
    path: Path | None
    meta: dict
    head: LSTMHead
    baseline: MeanPoolBaseline | None

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
    def sampling(self) -> dict:
        return self.meta["sampling"]

    def build_backbone(self, pretrained: bool = True) -> Backbone:
        b = self.meta["backbone"]
        return Backbone(b["name"], b["pooling"], b["grid"] or 3, pretrained=pretrained)


def save_bundle(path: str | Path, head: LSTMHead, baseline: MeanPoolBaseline | None, meta: dict) -> Path:
    """Write the bundle atomically (temporary file, then rename)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {f"head.{k}": v.detach().cpu().contiguous() for k, v in head.state_dict().items()}
    if baseline is not None:
        tensors.update({f"baseline.{k}": v.detach().cpu().contiguous()
                        for k, v in baseline.state_dict().items()})
    meta = {"format_version": FORMAT_VERSION, **meta}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(tensors, str(tmp), metadata={"actionrec": json.dumps(meta)})
    os.replace(tmp, path)
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
    if meta.get("format_version") != FORMAT_VERSION:
        raise BundleError(f"{path}: bundle format {meta.get('format_version')!r}; this actionrec "
                          f"reads format {FORMAT_VERSION}")
    return meta


def load_bundle(path: str | Path) -> Bundle:
    """Load and check a bundle; BundleError names the file and what does not fit."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
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
    head = LSTMHead(**h)
    load_part(head, tensors, "head.", path)
    baseline = None
    if any(k.startswith("baseline.") for k in tensors):
        baseline = MeanPoolBaseline(h["in_dim"], h["num_classes"], h["num_cells"])
        load_part(baseline, tensors, "baseline.", path)
    return Bundle(path, meta, head.eval(), baseline.eval() if baseline else None)


def load_part(module: torch.nn.Module, tensors: dict, prefix: str, path: Path) -> None:
    state = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    try:
        module.load_state_dict(state)
    except RuntimeError as exc:
        raise BundleError(f"{path}: {prefix.rstrip('.')} weights do not fit the model "
                          f"its metadata describes: {str(exc).splitlines()[0]}") from exc
