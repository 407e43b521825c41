"""The motion stream: dense optical flow between consecutive timeline steps, per grid cell.

A room beside `backbone.py` with the same contract: the backbone's resized frames
`(N, H, W, 3)` uint8 in, `(N, S, C)` float32 out, on the backbone's own cells (S = 1
for global pooling, `grid * grid` for grid pooling), so the two streams are
concatenated channel-wise into one `(N, S, D + C)` feature array and cached by the
same key rules.

The flow of step `n` is OpenCV's DIS optical flow from the frame of timeline step
`n - 1` to that of step `n` (at `sampling.fps`), on a `size x size` copy of the
backbone's input (grey, unless `colour`); step 0 of a video or stream has zero flow.
With `colour` (the config's default) the flow is computed on each of the copy's CIE Lab
planes (lightness at `size`, the two colour planes at half of it) and the three are
averaged per pixel, each weighted by its plane's local gradient energy there: an object
that differs from its background in hue but hardly in brightness (blue on green) is
invisible to a grey image's flow, not to the colour planes' (measured in
`docs/accuracy.md`: with the border camera fit it gains 0.05-0.09 on generated shapes
and loses about one real camera pan in 84; `docs/performance.md` has its cost).
The camera's own motion is subtracted and kept as global channels, so a moving object
is seen against its background and a moving camera is still seen at all: with `camera:
shift`, the frame's median flow (a pan, camera shake); with `camera: similarity`, the
median shift and then the zoom and rotation about the frame centre that fit the rest
best, the pixels far from that fit weighted down (a hand-held camera turns a little
as it shakes, and the flow of that turn, largest at the frame's edges, otherwise
reads as objects turning or growing: `docs/accuracy.md`); with `camera: border`, the
same fit on the frame's outer ring alone (the half of its pixels nearest the edges),
where the scenery is, so that an action near the frame centre (a person, a growing
object, a sweep about the centre) is never taken for the camera's zoom or turn.

Channels per cell (flow in percent of the frame width per step):
`dx, dy` mean residual flow; `speed` its mean magnitude; `curl` (turning) and
`div` (growing/approaching) from its spatial derivatives; `mover_*`, the motion of
what moves in the cell (pixels weighted by squared speed, so a small moving object
is not averaged away by the still background around it): its mean flow, and its
rotation and expansion about its own centre; `pan_dx, pan_dy` the camera's shift,
the same in every cell, and with `camera: similarity` or `border` `pan_zoom, pan_rotation`, its
zoom and rotation (percent per step: the change of scale, and the turn in hundredths
of a radian).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np

from .backbone import pool_bands
from .errors import ConfigError

CHANNELS = ("dx", "dy", "speed", "curl", "div", "mover_dx", "mover_dy", "mover_rotation",
            "mover_expansion", "pan_dx", "pan_dy")
CAMERA_CHANNELS = {"shift": (), "similarity": ("pan_zoom", "pan_rotation"),   # beyond pan_dx, pan_dy
                   "border": ("pan_zoom", "pan_rotation")}
CAMERA_RING = {"similarity": 0.5, "border": 0.15}   # the fit's pixels: those this share of the size from an edge
# DIS settings per preset: OpenCV's own; `fine`: `medium` that also searches the
# full-size frame (OpenCV's presets stop at half size, where an object a few pixels
# wide is averaged into the background), with a sparser patch grid and fewer
# iterations there so it costs 1.5-2x `medium`, not four times; `fine_fast`: `fine`
# without the variational refinement pass, 25% less flow time for the same accuracy
# (`docs/accuracy.md`).
_FINE = {"FinestScale": 0, "PatchStride": 4, "GradientDescentIterations": 12}
PRESETS = {"ultrafast": (cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST, {}),
           "fast": (cv2.DISOPTICAL_FLOW_PRESET_FAST, {}),
           "medium": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {}),
           "fine": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {**_FINE, "VariationalRefinementIterations": 1}),
           "fine_fast": (cv2.DISOPTICAL_FLOW_PRESET_MEDIUM, {**_FINE, "VariationalRefinementIterations": 0})}
STREAMS = ("none", "flow")


@dataclass(frozen=True)
class FlowSpec:
    """What the flow features depend on (part of the cache key and the bundle)."""
    size: int = 128          # the frame the flow is computed on, size x size
    preset: str = "medium"   # DIS preset: ultrafast | fast | medium | fine | fine_fast
    grid: int = 3            # cells per side: the backbone's grid (1 for global pooling)
    colour: bool = False     # flow on the Lab planes too, fused by texture (False: on grey)
    camera: str = "shift"    # the camera motion subtracted: shift | similarity (shift, zoom, rotation) |
                             # border (the same, fitted on the frame's outer ring)

    def __post_init__(self):
        if self.camera not in CAMERA_CHANNELS:
            raise ConfigError(f"motion.camera={self.camera!r} is not one of {', '.join(CAMERA_CHANNELS)}")
        if self.preset not in PRESETS:
            raise ConfigError(f"motion.preset={self.preset!r} is not one of {', '.join(PRESETS)}")
        if self.size < 16:
            raise ConfigError(f"motion.size must be at least 16 pixels, got {self.size}")
        if self.colour and self.size < 24:     # DIS needs 12 pixels; the colour planes are half size
            raise ConfigError(f"motion.colour needs motion.size of at least 24 pixels, got {self.size}")

    @property
    def channel_names(self) -> tuple[str, ...]:
        return CHANNELS + CAMERA_CHANNELS[self.camera]

    @property
    def channels(self) -> int:
        return len(self.channel_names)

    def to_dict(self) -> dict:
        return asdict(self)

    def to_meta(self) -> dict:
        """The bundle's `motion` entry (`from_meta` reads it back). A grey flow's entry has
        no `colour` key, and a shift's no `camera` key: it is the entry of the bundles and
        caches made before there was one."""
        meta = {"stream": "flow", **self.to_dict()}
        if not self.colour:
            del meta["colour"]
        if self.camera == "shift":
            del meta["camera"]
        return meta

    @classmethod
    def from_meta(cls, meta: dict | None) -> "FlowSpec | None":
        if not meta:
            return None
        return cls(meta["size"], meta["preset"], meta["grid"], meta.get("colour", False),
                   meta.get("camera", "shift"))


class FlowEncoder:
    """Frames -> per-cell flow features. Holds one DIS instance: one encoder per thread."""

    def __init__(self, spec: FlowSpec):
        self.spec = spec
        self.dis = dis_flow(spec.preset)
        self.dis_half = dis_flow(spec.preset) if spec.colour else None
        self._weights: tuple[np.ndarray, ...] | None = None
        self._camera_grid: CameraGrid | None = None

    def planes(self, frame: np.ndarray) -> list[tuple[np.ndarray, np.ndarray | None]]:
        """`(H, W, 3)` uint8 RGB -> the uint8 images the flow is computed on, each with its
        texture weight (`texture`; None for a lone grey plane): grey at `size x size`, or
        Lab's lightness at `size` and its two colour planes at half of it (colour varies
        more slowly than light, and video stores it at half resolution too)."""
        size = (self.spec.size, self.spec.size)
        image = np.ascontiguousarray(frame)
        if not self.spec.colour:
            grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
            return [(grey if grey.shape == size else cv2.resize(grey, size, interpolation=cv2.INTER_AREA), None)]
        if image.shape[:2] != size:
            image = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        lab = cv2.cvtColor(image, cv2.COLOR_RGB2LAB)
        light = np.ascontiguousarray(lab[..., 0])
        colour = cv2.resize(lab[..., 1:], (size[0] // 2, size[1] // 2), interpolation=cv2.INTER_AREA)
        return [(plane, texture(plane)) for plane in (light, *cv2.split(colour))]

    def flow(self, before: list, now: list) -> np.ndarray:
        """The `(size, size, 2)` flow (pixels) between two frames' `planes`: the grey plane's,
        or the mean of the planes' flows weighted per pixel by their texture, the two
        frames' weights summed (a half-size colour plane's flow, doubled, and its weight
        brought up to size linearly). Summed one flow component at a time: NumPy
        broadcasts a weight over a trailing axis of 2 ten times slower."""
        if len(now) == 1:
            return self.dis.calc(before[0][0], now[0][0], None)
        size = (self.spec.size, self.spec.size)
        (a, wa), (b, wb) = before[0], now[0]
        weight = wa + wb
        u, v = (weight * f for f in cv2.split(self.dis.calc(a, b, None)))
        for (a, wa), (b, wb) in zip(before[1:], now[1:]):
            w = cv2.resize(wa + wb, size, interpolation=cv2.INTER_LINEAR)
            fu, fv = cv2.split(cv2.resize(self.dis_half.calc(a, b, None), size, interpolation=cv2.INTER_LINEAR))
            u += w * (2.0 * fu)
            v += w * (2.0 * fv)
            weight += w
        return cv2.merge([u / weight, v / weight])

    def __call__(self, frames: np.ndarray, previous: np.ndarray | None) -> np.ndarray:
        """`(N, H, W, 3)` uint8 and the frame of the step before the first (None: a new
        video or stream) -> `(N, S, C)` float32."""
        s = self.spec
        out = np.zeros((len(frames), s.grid * s.grid, s.channels), np.float32)
        before = None if previous is None else self.planes(previous)
        for i, frame in enumerate(frames):
            now = self.planes(frame)
            if before is not None:
                out[i] = self.cells(self.flow(before, now))
            before = now
        return out

    def cells(self, flow: np.ndarray) -> np.ndarray:
        """`(h, w, 2)` flow in pixels -> `(S, C)` cell features (see the module docstring).

        Every channel is a mean over the cell of the flow, its speed and their products
        with the pixel's coordinates, or of the flow's spatial derivatives. So six
        per-pixel planes, summed along each band of rows and of columns (in float64),
        give all of them: a coordinate or an `np.gradient` along an axis is a weight on
        that axis's sums (`band_weights`). No matrix product: BLAS threads spinning beside
        the backbone's halve extraction on two cores. The moving region's centre,
        rotation and expansion follow from its weighted moments."""
        h, w = flow.shape[:2]
        flow = flow * (100.0 / w)                          # percent of the frame width
        pan = np.array([median(flow[..., 0]), median(flow[..., 1])], np.float32)
        u, v = flow[..., 0] - pan[0], flow[..., 1] - pan[1]
        if self.spec.camera in CAMERA_RING:
            if self._camera_grid is None or self._camera_grid.shape != (h, w):
                self._camera_grid = CameraGrid(h, w, CAMERA_RING[self.spec.camera])
            u, v, camera = self._camera_grid.subtract(u, v)
            pan = np.concatenate([pan + camera[:2], camera[2:]])
        speed2 = u * u + v * v                             # the moving region's weight
        planes = np.stack([u, v, np.sqrt(speed2), speed2, speed2 * u, speed2 * v], axis=1)   # (h, 6, w)
        g = self.spec.grid
        # each band of rows summed down its columns, (g, 6, w), and each band of columns
        # summed along its rows, (g, 6, h); OpenCV's reduction accumulates in float64
        rows = np.stack([cv2.reduce(planes[lo:hi].reshape(hi - lo, -1), 0, cv2.REDUCE_SUM, dtype=cv2.CV_64F)
                         .reshape(6, w) for lo, hi in pool_bands(h, g)])
        flat = planes.reshape(h * 6, w)
        columns = np.stack([cv2.reduce(flat[:, lo:hi], 1, cv2.REDUCE_SUM, dtype=cv2.CV_64F).reshape(h, 6).T
                            for lo, hi in pool_bands(w, g)])
        weights_y, weights_x, pixels = self.band_weights(h, w)
        # (4, g, g, 6): per cell (row band, column band) and plane, the mean of the plane,
        # of it times the coordinate, times its square, and of its derivative, along x and y
        along_x = np.einsum("rkw,mcw->mrck", rows, weights_x) / pixels
        along_y = np.einsum("ckh,mrh->mrck", columns, weights_y) / pixels
        (total, x1, x2, dx), (_, y1, y2, dy) = along_x, along_y
        U, V, SPEED, W, WU, WV = range(6)
        flow_means = [total[..., U], total[..., V], total[..., SPEED],
                      dx[..., V] - dy[..., U], dx[..., U] + dy[..., V]]
        moments = [total[..., W], x1[..., W], y1[..., W], total[..., WU], total[..., WV],
                   x2[..., W] + y2[..., W], x1[..., WV] - y1[..., WU], x1[..., WU] + y1[..., WV]]
        means = np.stack(flow_means + moments, axis=-1).reshape(g * g, -1)   # (S, 13), cells row by row
        mover = moving_region_motion(means[:, 5:])
        return np.concatenate([means[:, :5], mover, np.broadcast_to(pan, (len(means), len(pan)))],
                              axis=1).astype(np.float32)

    def band_weights(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """`(4, grid, height)` and `(4, grid, width)` float64: per band of the grid along
        y and x, the weights that turn a profile along that axis into the band's sum of
        the values, of the values times the pixel's coordinate (in percent of the width),
        times its square, and of the values' `np.gradient` along the axis; and each cell's
        pixel count, `(grid, grid, 1)`."""
        if self._weights is None or self._weights[0].shape[2] != height or self._weights[1].shape[2] != width:
            g = self.spec.grid
            pixels = np.outer(*(np.diff(pool_bands(n, g)).ravel() for n in (height, width)))
            self._weights = (*(axis_weights(n, g, 100.0 / width) for n in (height, width)), pixels[..., None])
        return self._weights


class CameraGrid:
    """The camera's zoom and rotation about the frame centre, fitted to a flow field.

    A least-squares fit of `u = tx + z x - r y, v = ty + z y + r x` (x, y from the frame
    centre, in percent of the width) to the flow left after the median shift, on every
    other pixel of every other row within `ring` of the frame's size from an edge (0.5:
    the whole frame; 0.15: an outer ring of about half its pixels); each pixel weighted
    by `1 / (1 + (d / SCALE)^2)`, d its distance from the last fit (Cauchy's weights, two
    rounds): what moves apart from the camera, an object, hardly counts."""

    SCALE = 0.8          # percent of the width a step: about a pixel of a 128-pixel flow
    ROUNDS = 2
    STEP = 2

    def __init__(self, height: int, width: int, ring: float = 0.5):
        self.shape = (height, width)
        self.x = (np.arange(width, dtype=np.float32) - (width - 1) / 2) * np.float32(100.0 / width)
        self.y = (np.arange(height, dtype=np.float32) - (height - 1) / 2) * np.float32(100.0 / width)
        rows, cols = np.meshgrid(np.arange(0, height, self.STEP), np.arange(0, width, self.STEP), indexing="ij")
        near_edge = ((cols < ring * width) | (cols >= (1 - ring) * width)
                     | (rows < ring * height) | (rows >= (1 - ring) * height))
        rows, cols = rows[near_edge], cols[near_edge]
        self.pixels = rows * width + cols          # flat indices of the fitted pixels
        self.xs, self.ys = self.x[cols], self.y[rows]
        self.rr = self.xs * self.xs + self.ys * self.ys

    def fit(self, u: np.ndarray, v: np.ndarray) -> tuple[float, float, float, float]:
        """`(h, w)` float32 residual flow -> `tx, ty, z, r`."""
        us, vs = u.ravel()[self.pixels], v.ravel()[self.pixels]
        xs, ys, rr = self.xs, self.ys, self.rr
        tx = ty = z = r = 0.0
        for _ in range(self.ROUNDS):
            du = us - np.float32(tx) - np.float32(z) * xs + np.float32(r) * ys
            dv = vs - np.float32(ty) - np.float32(z) * ys - np.float32(r) * xs
            weight = 1.0 / (1.0 + (du * du + dv * dv) * np.float32(1.0 / self.SCALE ** 2))
            wu, wv = weight * us, weight * vs
            W, Wx, Wy, Wrr, Su, Sv, Sz, Sr = (float(t) for t in np.stack(
                [weight, weight * xs, weight * ys, weight * rr, wu, wv, wu * xs + wv * ys,
                 wv * xs - wu * ys]).sum(axis=1))
            # the normal equations solved: the shift eliminated, then zoom and rotation
            spread = Wrr - (Wx * Wx + Wy * Wy) / W
            z = (Sz - (Wx * Su + Wy * Sv) / W) / spread
            r = (Sr + (Wy * Su - Wx * Sv) / W) / spread
            tx, ty = (Su - z * Wx + r * Wy) / W, (Sv - z * Wy - r * Wx) / W
        return tx, ty, z, r

    def subtract(self, u: np.ndarray, v: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The flow with the fitted camera motion taken out, and that motion `(4,)`: its
        shift (added to the median's), zoom and rotation in percent per step."""
        tx, ty, z, r = (np.float32(t) for t in self.fit(u, v))
        y = self.y[:, None]
        u = u - (tx + z * self.x - r * y)
        v = v - (ty + z * y + r * self.x)
        return u, v, np.array([tx, ty, 100.0 * z, 100.0 * r], np.float32)


def axis_weights(n: int, grid: int, scale: float) -> np.ndarray:
    """`(4, grid, n)`: `FlowEncoder.band_weights` for one axis of `n` pixels, `scale` the
    coordinate of pixel 1."""
    inside = np.zeros((grid, n))
    for band, (lo, hi) in enumerate(pool_bands(n, grid)):
        inside[band, lo:hi] = 1.0
    coordinate = np.arange(n) * scale
    # sum over a band of np.gradient(a) = (1_band^T G) a, with G np.gradient's matrix
    gradient = np.einsum("bi,ik->bk", inside, np.gradient(np.eye(n), axis=0))
    return np.stack([inside, inside * coordinate, inside * coordinate ** 2, gradient])


def median(plane: np.ndarray) -> np.float32:
    """`np.median` of a float32 plane, by one partition (np.median takes 5x as long)."""
    flat = plane.ravel()
    k = flat.size // 2
    part = np.partition(flat, k)
    return part[k] if flat.size % 2 else (part[:k].max() + part[k]) / np.float32(2)


def dis_flow(preset: str) -> cv2.DISOpticalFlow:
    """OpenCV's DIS optical flow with the settings of `preset` (`PRESETS`)."""
    base, settings = PRESETS[preset]
    dis = cv2.DISOpticalFlow_create(base)
    for name, value in settings.items():
        getattr(dis, f"set{name}")(value)
    return dis


def texture(plane: np.ndarray) -> np.ndarray:
    """`(h, w)` uint8 -> `(h, w)` float32: the plane's squared gradient, smoothed (sigma 2
    pixels), plus a floor: how well a flow computed on this plane is pinned down there."""
    p = plane.astype(np.float32)
    gx, gy = cv2.Sobel(p, cv2.CV_32F, 1, 0), cv2.Sobel(p, cv2.CV_32F, 0, 1)
    return cv2.GaussianBlur(gx * gx + gy * gy, (0, 0), 2.0) + 1e-3


def moving_region_motion(moments: np.ndarray) -> np.ndarray:
    """Per cell, the motion of what moves in it, from the cell means `(S, 8)` of the
    weight `w = speed^2` times `1, x, y, u, v, x^2 + y^2, x v - y u, x u + y v` -> `(S, 4)`:
    the weighted mean flow `dx, dy`, and the rotation and expansion about the weighted
    centre (least-squares rates, in percent per step)."""
    w, wx, wy, wu, wv, wrr, wcurl, wdiv = moments.T
    total = w + 1e-6
    cx, cy, mu, mv = wx / total, wy / total, wu / total, wv / total
    # the means of w |p - c|^2, w ((x - cx)(v - mv) - (y - cy)(u - mu)) and
    # w ((x - cx)(u - mu) + (y - cy)(v - mv)), expanded into the moments
    spread = wrr - 2 * (cx * wx + cy * wy) + (cx * cx + cy * cy) * w + 1e-6
    rotation = wcurl - cx * wv - mv * wx + cy * wu + mu * wy + (cx * mv - cy * mu) * w
    expansion = wdiv - cx * wu - mu * wx - cy * wv - mv * wy + (cx * mu + cy * mv) * w
    return np.stack([mu, mv, 100.0 * rotation / spread, 100.0 * expansion / spread], axis=1)


def flow_spec(stream: str, size: int, preset: str, pooling: str, grid: int,
              colour: bool = False, camera: str = "shift") -> FlowSpec | None:
    """The flow spec a config asks for (None for `motion.stream: none`), on the backbone's cells."""
    if stream not in STREAMS:
        raise ConfigError(f"motion.stream={stream!r} is not one of {', '.join(STREAMS)}")
    if stream == "none":
        return None
    return FlowSpec(size, preset, grid if pooling == "grid" else 1, colour, camera)
