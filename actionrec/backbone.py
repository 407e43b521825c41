"""Frozen ImageNet CNNs from torchvision, turned into per-frame feature extractors.

`Backbone` maps frames `(B, T, 3, H, W)` float (normalised) to features
`(B, T, S, D)`: `S` spatial cells (1 for global pooling, `grid * grid` for grid
pooling) of `D = out_dim` channels. It is always frozen and in eval mode: its
batch-norm statistics and weights never change, whatever `.train()` is called on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import torch
import torchvision
from torch import nn
from torch.nn import functional as F

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


class Backbone(nn.Module):
    """A frozen CNN trunk plus spatial pooling. `(B, T, 3, H, W) -> (B, T, S, D)`."""

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
        self.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> "Backbone":
        return self  # frozen: batch-norm statistics stay ImageNet's

    def pool(self, fmap: torch.Tensor) -> torch.Tensor:
        """`(N, D, h, w) -> (N, S, D)`."""
        size = 1 if self.pooling == "global" else self.grid
        return F.adaptive_avg_pool2d(fmap, size).flatten(2).transpose(1, 2)

    def forward_frames(self, frames: torch.Tensor) -> torch.Tensor:
        """`(N, 3, H, W) -> (N, S, D)`."""
        return self.pool(self.trunk(frames))

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        b, t = clips.shape[:2]
        return self.forward_frames(clips.flatten(0, 1)).unflatten(0, (b, t))
