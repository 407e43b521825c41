"""Frozen ImageNet CNNs from torchvision, turned into per-frame feature extractors.

`Backbone` maps resized frames `(B, T, H, W, 3)` uint8 RGB to features
`(B, T, S, D)` float32: `S` spatial cells (1 for global pooling, `grid * grid` for
grid pooling) of `D = out_dim` channels. Normalisation (the weights' own mean and
std) and pooling happen inside the module, so one exported graph does all the
float work. It is always frozen and in eval mode: its batch-norm statistics and
weights never change, whatever `.train()` is called on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import torch
import torchvision
from torch import nn

from .errors import ConfigError
from .weights import load_state_dict


@dataclass(frozen=True)
class BackboneSpec:
    build: Callable[..., nn.Module]
    weights: str            # member of the model's torchvision WeightsEnum
    out_dim: int
    trunk: Callable[[nn.Module], nn.Module]   # the model's convolutional part


def features_trunk(model: nn.Module) -> nn.Module:
    return model.features


def resnet_trunk(model: nn.Module) -> nn.Module:
    return nn.Sequential(*list(model.children())[:-2])


M = torchvision.models
BACKBONES: dict[str, BackboneSpec] = {
    "mobilenet_v2": BackboneSpec(M.mobilenet_v2, "MobileNet_V2_Weights.IMAGENET1K_V1", 1280, features_trunk),
    "mobilenet_v3_large": BackboneSpec(M.mobilenet_v3_large, "MobileNet_V3_Large_Weights.IMAGENET1K_V1",
                                       960, features_trunk),
    "efficientnet_b0": BackboneSpec(M.efficientnet_b0, "EfficientNet_B0_Weights.IMAGENET1K_V1",
                                    1280, features_trunk),
    "resnet18": BackboneSpec(M.resnet18, "ResNet18_Weights.IMAGENET1K_V1", 512, resnet_trunk),
    "resnet50": BackboneSpec(M.resnet50, "ResNet50_Weights.IMAGENET1K_V2", 2048, resnet_trunk),
}


def get_spec(name: str) -> BackboneSpec:
    if name not in BACKBONES:
        raise ConfigError(f"unknown backbone {name!r}; supported: {', '.join(BACKBONES)}")
    return BACKBONES[name]


def get_weights(name: str):
    """The torchvision WeightsEnum member for backbone `name` (carries preprocessing meta)."""
    return torchvision.models.get_weight(get_spec(name).weights)


def pool_bands(n: int, cells: int) -> list[tuple[int, int]]:
    """The `[lo, hi)` index range of each of `cells` bands along an axis of `n`, as
    `adaptive_avg_pool2d` cuts it (neighbouring bands overlap when `cells` does not divide `n`)."""
    return [((i * n) // cells, -(-((i + 1) * n) // cells)) for i in range(cells)]


def adaptive_pool_matrix(height: int, width: int, cells: int) -> torch.Tensor:
    """`(cells * cells, height * width)` weights equal to `adaptive_avg_pool2d(., cells)`.

    As a matrix product the pooling exports to ONNX for any feature-map size (the
    ONNX exporter refuses adaptive pooling with overlapping windows).
    """
    def axis(n: int) -> np.ndarray:
        w = np.zeros((cells, n), dtype=np.float32)
        for i, (lo, hi) in enumerate(pool_bands(n, cells)):
            w[i, lo:hi] = 1.0 / (hi - lo)
        return w
    # built in NumPy so that tracing for export records one constant, not in-place writes
    matrix = np.einsum("ay,bx->abyx", axis(height), axis(width)).reshape(cells * cells, height * width)
    return torch.from_numpy(matrix)


class Backbone(nn.Module):
    """A frozen CNN trunk with its normalisation and spatial pooling.

    `(B, T, H, W, 3)` uint8 -> `(B, T, S, D)` float32.
    """

    def __init__(self, name: str = "mobilenet_v2", pooling: str = "global", grid: int = 3,
                 pretrained: bool = True):
        super().__init__()
        spec = get_spec(name)
        model = spec.build(weights=None)
        if pretrained:
            model.load_state_dict(load_state_dict(get_weights(name)))
        self.name, self.pooling, self.grid = name, pooling, grid
        self.trunk = spec.trunk(model)
        self.out_dim = spec.out_dim
        self.num_cells = 1 if pooling == "global" else grid * grid
        preset = get_weights(name).transforms()
        self.register_buffer("mean", torch.tensor(preset.mean).view(1, 3, 1, 1) * 255.0)
        self.register_buffer("std", torch.tensor(preset.std).view(1, 3, 1, 1) * 255.0)
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "Backbone":
        return self  # frozen: batch-norm statistics stay ImageNet's

    def normalize(self, frames: torch.Tensor) -> torch.Tensor:
        """`(N, H, W, 3)` uint8 -> `(N, 3, H, W)` float32 with the weights' mean and std."""
        return (frames.permute(0, 3, 1, 2).float() - self.mean) / self.std

    def pool(self, fmap: torch.Tensor) -> torch.Tensor:
        """`(N, D, h, w) -> (N, S, D)`."""
        if self.pooling == "global":
            return fmap.mean(dim=(2, 3)).unsqueeze(1)
        weights = adaptive_pool_matrix(fmap.shape[2], fmap.shape[3], self.grid).to(fmap)
        return torch.matmul(fmap.flatten(2), weights.t()).transpose(1, 2)

    def forward_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """`(N, H, W, 3)` uint8 -> `(N, S, D)` float32."""
        return self.pool(self.trunk(self.normalize(frames)))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """`(B, T, H, W, 3)` uint8 -> `(B, T, S, D)` float32."""
        b, t = clips.shape[:2]
        return self.forward_frames(clips.flatten(0, 1)).unflatten(0, (b, t))
