"""Frame preprocessing built from the backbone weights' own sizes.

`Preprocess` turns decoded frames `(N, H, W, 3)` uint8 RGB into the backbone's input
`(N, crop, crop, 3)` uint8 RGB. Resizing happens on uint8 with OpenCV (area filter
when shrinking, bilinear when enlarging); the float conversion and normalisation
(the weights' mean and std, recorded here for the bundle) happen inside the
backbone, in one pass, so frames cross no dtype round trip on the way.

Modes: `center_crop` resizes the short side to `resize_size` and cuts the centre
`crop_size` square (torchvision's eval preset); `squash` resizes the whole frame to
`crop_size` x `crop_size`, keeping the edges of the scene, where a sideways motion
may happen.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

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

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """`(N, H, W, 3) uint8 RGB -> (N, crop, crop, 3) uint8 RGB`, the backbone's input."""
        return self.resize_frames(frames)
