"""Frame preprocessing built from the backbone weights' own size, mean and std.

`Preprocess` turns decoded frames `(N, H, W, 3)` uint8 RGB into the backbone's input
`(N, 3, crop, crop)` float32, normalised. Resizing happens on uint8 with OpenCV
(area filter when shrinking, bilinear when enlarging) before any float conversion,
so the expensive part touches the fewest bytes.

Modes: `center_crop` resizes the short side to `resize_size` and cuts the centre
`crop_size` square (torchvision's eval preset); `squash` resizes the whole frame to
`crop_size` x `crop_size`, keeping the edges of the scene, where a sideways motion
may happen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np
import torch

from .backbone import get_weights


@dataclass(frozen=True)
class Preprocess:
    resize_size: int = 256
    crop_size: int = 224
    mode: str = "center_crop"
    mean: tuple[float, float, float] = (0.485, 0.456, 0.406)
    std: tuple[float, float, float] = (0.229, 0.224, 0.225)

    @classmethod
    def for_backbone(cls, name: str, resize_size: int | None = None, crop_size: int | None = None,
                     mode: str = "center_crop") -> "Preprocess":
        """Sizes and statistics from the weights' metadata, optionally overridden."""
        preset = get_weights(name).transforms()
        crop = crop_size or int(preset.crop_size[0])
        resize = resize_size or (int(preset.resize_size[0]) * crop // int(preset.crop_size[0]))
        return cls(resize, crop, mode, tuple(preset.mean), tuple(preset.std))

    def to_dict(self) -> dict:
        return asdict(self)

    def resize_frame(self, frame: np.ndarray) -> np.ndarray:
        """`(H, W, 3) uint8 -> (crop, crop, 3) uint8`."""
        h, w = frame.shape[:2]
        if self.mode == "squash":
            size = (self.crop_size, self.crop_size)
        else:
            scale = self.resize_size / min(h, w)
            size = (max(self.crop_size, round(w * scale)), max(self.crop_size, round(h * scale)))
        interp = cv2.INTER_AREA if size[0] < w else cv2.INTER_LINEAR
        out = cv2.resize(frame, size, interpolation=interp)
        top = (out.shape[0] - self.crop_size) // 2
        left = (out.shape[1] - self.crop_size) // 2
        return out[top:top + self.crop_size, left:left + self.crop_size]

    def resize_frames(self, frames: np.ndarray) -> np.ndarray:
        """`(N, H, W, 3) uint8 -> (N, crop, crop, 3) uint8`."""
        return np.stack([self.resize_frame(f) for f in frames])

    def normalize(self, frames: np.ndarray) -> torch.Tensor:
        """`(N, crop, crop, 3) uint8 -> (N, 3, crop, crop) float32`, normalised."""
        x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float()
        mean = torch.tensor(self.mean).view(1, 3, 1, 1) * 255.0
        std = torch.tensor(self.std).view(1, 3, 1, 1) * 255.0
        return ((x - mean) / std).contiguous()

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        """`(N, H, W, 3) uint8 RGB -> (N, 3, crop, crop) float32`."""
        return self.normalize(self.resize_frames(frames))
