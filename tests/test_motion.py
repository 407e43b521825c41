"""The motion stream: flow features name the direction of what moves, and the feature
cache, the streaming core and batch labelling compute the same features."""

import cv2
import numpy as np
import pytest
import torch

from actionrec.backbone import pool_bands
from actionrec.bundle import Bundle
from actionrec.config import load_config
from actionrec.errors import ConfigError
from actionrec.features import FeatureExtractor, join_streams
from actionrec.model import LSTMHead
from actionrec.motion import CHANNELS, FlowEncoder, FlowSpec, flow_spec
from actionrec.streaming import StreamingRecognizer
from actionrec.transforms import Preprocess

SIZE = 64
C = {name: i for i, name in enumerate(CHANNELS)}


def textured_background(seed=0):
    rng = np.random.default_rng(seed)
    noise = rng.integers(0, 255, (SIZE, SIZE, 3), dtype=np.uint8)
    return cv2.GaussianBlur(noise, (7, 7), 2)


def square_clip(motion: str, steps: int = 6) -> np.ndarray:
    """A textured square over a still textured background: `slide` right, `grow`, or
    `turn` clockwise on screen. `(steps, SIZE, SIZE, 3)` uint8."""
    background, patch = textured_background(0), textured_background(1)
    frames = []
    for k in range(steps):
        frame = background.copy()
        cx, cy, half, angle = 24.0, 32.0, 8.0, 0.0
        if motion == "slide":
            cx += 3 * k
        elif motion == "grow":
            half += 1.5 * k
        elif motion == "turn":
            angle = 12.0 * k
        rot = cv2.getRotationMatrix2D((32, 32), -angle, half / 16.0)
        rot[:, 2] += (cx - 32, cy - 32)
        warped = cv2.warpAffine(patch, rot, (SIZE, SIZE))
        square = np.zeros((SIZE, SIZE), np.uint8)
        square[16:48, 16:48] = 255
        mask = cv2.warpAffine(square, rot, (SIZE, SIZE)) > 127
        frame[mask] = warped[mask]
        frames.append(frame)
    return np.stack(frames)


def moving_cell_mean(feats: np.ndarray, channel: str) -> float:
    """The channel over steps 1.., in the cell with the most motion (step 0 has no flow)."""
    moving = feats[1:, :, C["speed"]].sum(0).argmax()
    return float(feats[1:, moving, C[channel]].mean())


@pytest.mark.parametrize("motion, channel", [("slide", "mover_dx"), ("grow", "mover_expansion"),
                                             ("turn", "mover_rotation")])
def test_flow_features_tell_a_motion_from_its_reverse(motion, channel):
    encoder = FlowEncoder(FlowSpec(size=SIZE, grid=2))
    clip = square_clip(motion)
    forward = encoder(clip, None)
    backward = encoder(clip[::-1].copy(), None)
    assert forward.shape == (len(clip), 4, len(CHANNELS))
    assert not forward[0].any()                         # the first step has no flow
    assert moving_cell_mean(forward, channel) > 0.1     # right, growing, clockwise
    assert moving_cell_mean(backward, channel) < -0.1   # left, shrinking, anticlockwise


def test_a_pan_is_kept_apart_from_the_motion_of_objects():
    encoder = FlowEncoder(FlowSpec(size=SIZE, grid=2))
    background = textured_background(0)
    pan = np.stack([np.roll(background, -2 * k, axis=1) for k in range(4)])   # camera pans right
    feats = encoder(pan, None)[1:]
    assert (feats[:, :, C["pan_dx"]] < -2.0).all()      # the scene moves left, ~3% per step
    assert np.abs(feats[:, :, C["mover_dx"]]).max() < 1.0


def equal_brightness_slide(steps: int = 6) -> np.ndarray:
    """A violet disc sliding right across the top-left cell of a green background of the
    same grey level. `(steps, SIZE, SIZE, 3)` uint8 RGB."""
    green, violet = (40, 140, 40), (200, 40, 135)       # both 98.7 in grey (ITU-R 601 weights)
    frames = []
    for k in range(steps):
        frame = np.full((SIZE, SIZE, 3), green, np.uint8)
        cv2.circle(frame, (8 + 3 * k, 16), 6, violet, -1)
        frames.append(frame)
    return np.stack(frames)


def test_colour_flow_sees_an_object_that_grey_flow_cannot():
    clip = equal_brightness_slide()
    grey = FlowEncoder(FlowSpec(size=SIZE, grid=2))(clip, None)
    colour = FlowEncoder(FlowSpec(size=SIZE, grid=2, colour=True))(clip, None)
    assert np.abs(grey[1:, 0, C["mover_dx"]]).max() < 0.5              # grey sees no motion
    assert colour[1:, 0, C["mover_dx"]].mean() > 2.5                  # 3 pixels a step: 4.7% of the width


def test_colour_flow_is_the_texture_weighted_mean_of_its_planes_flows():
    """Per pixel: each plane's flow weighted by the texture of both frames there, a
    half-size colour plane's flow doubled and brought up to size linearly, with its weight."""
    clip = equal_brightness_slide()
    enc = FlowEncoder(FlowSpec(size=SIZE, colour=True))
    before, now = enc.planes(clip[1]), enc.planes(clip[2])
    assert [p.shape for p, _ in now] == [(SIZE, SIZE), (SIZE // 2, SIZE // 2), (SIZE // 2, SIZE // 2)]
    total, weights = 0.0, 0.0
    for (a, wa), (b, wb) in zip(before, now):
        f, w = (enc.dis if a.shape == (SIZE, SIZE) else enc.dis_half).calc(a, b, None), wa + wb
        if a.shape != (SIZE, SIZE):
            f = 2 * cv2.resize(f, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
            w = cv2.resize(w, (SIZE, SIZE), interpolation=cv2.INTER_LINEAR)
        total, weights = total + w[..., None] * f, weights + w[..., None]
    np.testing.assert_allclose(enc.flow(before, now), total / weights, rtol=1e-5, atol=1e-5)


def small_dark_disc(step: int, steps: int = 5) -> np.ndarray:
    """A dark disc 5 pixels across sliding right `step` pixels a step over a blurred noise
    background, in the top-left cell of a 128x128 frame. `(steps, 128, 128, 3)` uint8."""
    rng = np.random.default_rng(0)
    background = cv2.GaussianBlur(rng.integers(0, 255, (128, 128, 3), dtype=np.uint8), (0, 0), 3)
    frames = []
    for k in range(steps):
        frame = background.copy()
        cv2.circle(frame, (20 + step * k, 40), 2, (20, 20, 20), -1)
        frames.append(frame)
    return np.stack(frames)


@pytest.mark.parametrize("preset", ["fine", "fine_fast"])
@pytest.mark.parametrize("step", [3, 5])
def test_the_fine_presets_follow_an_object_a_few_pixels_wide(step, preset):
    clip = small_dark_disc(step)
    feats = FlowEncoder(FlowSpec(size=128, preset=preset, grid=3))(clip, None)
    pixels = feats[1:, 0, C["mover_dx"]] * 128 / 100          # percent of the width -> pixels
    assert pixels.mean() > 0.8 * step                          # `medium`: 1.1 and 1.8 pixels


def test_colour_flow_on_a_frame_too_small_for_its_half_size_planes_is_refused_by_name():
    with pytest.raises(ConfigError, match="motion.colour needs motion.size of at least 24 pixels, got 16"):
        FlowSpec(size=16, colour=True)
    assert FlowSpec(size=16).size == 16                 # the grey flow still runs there


def test_a_grey_flow_keeps_the_bundle_and_cache_entry_it_had_before_colour_flow():
    old = {"stream": "flow", "size": 128, "preset": "medium", "grid": 3}
    assert not FlowSpec.from_meta(old).colour
    assert FlowSpec().to_meta() == old                  # so existing bundles and caches stay valid
    assert FlowSpec.from_meta(FlowSpec(colour=True).to_meta()).colour


def test_bundles_made_before_the_camera_fit_keep_their_flow_channels():
    old = {"stream": "flow", "size": 128, "preset": "fine_fast", "grid": 3}
    assert FlowSpec.from_meta(old).camera == "shift" and FlowSpec.from_meta(old).channels == len(CHANNELS)
    fitted = FlowSpec.from_meta(FlowSpec(preset="fine_fast", camera="similarity").to_meta())
    assert fitted.camera == "similarity" and fitted.channel_names[-2:] == ("pan_zoom", "pan_rotation")
    ring = FlowSpec.from_meta(FlowSpec(preset="fine_fast", camera="border").to_meta())
    assert ring.camera == "border" and ring.channel_names == fitted.channel_names
    with pytest.raises(ConfigError, match="motion.camera='affine' is not one of shift, similarity, border"):
        FlowSpec(camera="affine")


def turning_camera_clip(degrees: float, zoom: float, steps: int = 6) -> np.ndarray:
    """A camera turning `degrees` a step (clockwise on screen) and zooming by `zoom` a step
    about the frame centre, over a still textured scene with a small textured square that
    slides right 3 pixels a step in its top-left cell. `(steps, SIZE, SIZE, 3)` uint8."""
    scene = textured_background(0)
    dots = np.random.default_rng(2).integers(0, 2, (6, 6)).repeat(2, 0).repeat(2, 1)
    patch = (dots * 200 + 30).astype(np.uint8)[..., None]          # high-contrast 2-pixel dots
    frames = []
    for k in range(steps):
        world = scene.copy()
        world[8:20, 6 + 3 * k:18 + 3 * k] = patch
        camera = cv2.getRotationMatrix2D((SIZE / 2 - 0.5, SIZE / 2 - 0.5), -degrees * k, (1 + zoom) ** k)
        frames.append(cv2.warpAffine(world, camera, (SIZE, SIZE), borderMode=cv2.BORDER_REFLECT))
    return np.stack(frames)


@pytest.mark.parametrize("camera", ["similarity", "border"])
@pytest.mark.parametrize("degrees, zoom", [(1.5, 0.0), (-1.5, 0.0), (0.0, 0.03)])
def test_a_camera_that_turns_or_zooms_is_taken_out_of_the_motion_of_objects(degrees, zoom, camera):
    clip = turning_camera_clip(degrees, zoom)
    fitted = FlowEncoder(FlowSpec(size=SIZE, grid=2, camera=camera))(clip, None)[1:]
    shifted = FlowEncoder(FlowSpec(size=SIZE, grid=2))(clip, None)[1:]
    rotation, expansion = fitted[:, 0, -1], fitted[:, 0, -2]
    # the camera's turn and zoom are read as the camera's (percent a step, about the truth)
    np.testing.assert_allclose(rotation.mean(), 100 * np.radians(degrees), rtol=0.35, atol=0.5)
    np.testing.assert_allclose(expansion.mean(), 100 * zoom, rtol=0.35, atol=0.5)
    # the square still slides right in its cell; the other cells, still scenery, keep little
    # motion of their own, where the median shift alone leaves the camera's turn or zoom in them
    assert fitted[:, 0, C["mover_dx"]].mean() > 2.0
    still = [C["curl"], C["div"], C["dx"], C["dy"]]
    assert np.abs(fitted[:, 1:][..., still]).mean() < 0.5 * np.abs(shifted[:, 1:][..., still]).mean()


def growing_disc_clip(steps: int = 6) -> np.ndarray:
    """A textured disc at the frame centre over a still textured scene, its radius 8
    pixels growing 15% a step (to 16 pixels: inside the frame's inner 70%).
    `(steps, SIZE, SIZE, 3)` uint8."""
    scene, texture = textured_background(0), textured_background(5)
    centre = (SIZE / 2 - 0.5, SIZE / 2 - 0.5)
    frames = []
    for k in range(steps):
        scale = 1.15 ** k
        disc = np.zeros((SIZE, SIZE), np.uint8)
        cv2.circle(disc, (SIZE // 2, SIZE // 2), round(8 * scale), 255, -1)
        grown = cv2.warpAffine(texture, cv2.getRotationMatrix2D(centre, 0, scale), (SIZE, SIZE))
        frame = scene.copy()
        frame[disc > 0] = grown[disc > 0]
        frames.append(frame)
    return np.stack(frames)


def test_a_camera_fitted_on_the_border_leaves_an_object_growing_at_the_centre_growing():
    clip = growing_disc_clip()
    feats = {camera: FlowEncoder(FlowSpec(size=SIZE, grid=2, camera=camera))(clip, None)[1:]
             for camera in ("shift", "similarity", "border")}
    # the still scenery at the edges says the camera holds still: no zoom is taken out
    assert abs(feats["border"][:, 0, -2].mean()) < 0.1
    grows = {camera: f[..., C["mover_expansion"]].mean() for camera, f in feats.items()}
    assert grows["border"] > 0.8 * grows["shift"] > 0.4
    # fitted on every pixel, part of the growth is read as the camera's zoom
    assert grows["similarity"] < 0.5 * grows["border"]


def test_chunks_continue_the_flow_across_their_boundary():
    clip = square_clip("slide", 8)
    whole = FlowEncoder(FlowSpec(size=SIZE, grid=2))(clip, None)
    encoder = FlowEncoder(FlowSpec(size=SIZE, grid=2))
    parts = np.concatenate([encoder(clip[:3], None), encoder(clip[3:], clip[2])])
    np.testing.assert_allclose(parts, whole, atol=1e-6)


class MeanColourEncoder:
    """Deterministic appearance features: `(N, 4, 8)` from each frame's mean colour."""
    proj = torch.randn(3, 32, generator=torch.Generator().manual_seed(0))

    def __call__(self, x):
        mean = torch.from_numpy(x).float().mean(dim=(1, 2)) / 255
        return (mean @ self.proj).view(len(x), 4, 8).numpy()


def motion_bundle(readout="mean", fusion="late", stream_stride=2, window=4, colour=False, camera="shift"):
    torch.manual_seed(0)
    flow = FlowSpec(SIZE, "medium", 2, colour, camera)
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=flow.channels,
                    skip=True, readout=readout, deltas=True, fusion=fusion).eval()
    with torch.no_grad():
        head.skip.weight.normal_()
        head.fusion_weight.fill_(0.3)
        head.set_standardization(torch.rand(8 + flow.channels), torch.rand(8 + flow.channels) + 0.5)
    meta = {"preprocess": {"resize_size": SIZE, "crop_size": SIZE, "mode": "squash",
                           "mean": [0.5] * 3, "std": [0.25] * 3},
            "motion": flow.to_meta(),
            "sampling": {"fps": 5.0, "clip_steps": window, "stride": 1, "stream_stride": stream_stride},
            "class_names": ["a", "b", "c"]}
    return Bundle(None, meta, head, None)


def offline_timeline_features(frames_on_timeline: np.ndarray, colour: bool = False,
                              camera: str = "shift") -> torch.Tensor:
    """What the feature cache holds for these timeline frames: `(N, 4, 8 + C)`."""
    pre = Preprocess(SIZE, SIZE, "squash", (0.5,) * 3, (0.25,) * 3)
    extractor = FeatureExtractor(MeanColourEncoder(), pre, 5.0, motion=FlowSpec(SIZE, "medium", 2, colour, camera))
    resized = pre(frames_on_timeline)
    motion = FlowEncoder(extractor.motion)(resized, None)
    feats = join_streams(extractor.encode(resized), motion)
    return torch.from_numpy(feats.astype(np.float16).astype(np.float32))


@pytest.mark.parametrize("readout, fusion, colour, camera", [
    ("mean", "late", False, "shift"), ("last", "late", False, "shift"), ("mean", "early", False, "shift"),
    ("mean", "late", True, "shift"), ("mean", "late", False, "similarity"), ("mean", "late", False, "border")])
def test_streamed_steps_equal_offline_clips_with_a_motion_stream(readout, fusion, colour, camera):
    # source at 10 fps, timeline at 5 fps, a step every 2nd timeline step: flow is still
    # taken from the timeline step before each step, as the cache takes it
    bundle = motion_bundle(readout, fusion, colour=colour, camera=camera)
    video = np.concatenate([square_clip("slide", 20), square_clip("turn", 20)])
    rec = StreamingRecognizer(bundle, MeanColourEncoder(), smoothing=1)
    preds = [(i, p) for i, frame in enumerate(video) if (p := rec.push(frame, i / 10.0)) is not None]
    feats = offline_timeline_features(video[::2], colour, camera)
    checked = 0
    for i, pred in preds:
        j = i // 2                                      # this step's timeline index
        if pred.warming_up:
            continue
        clip = feats[j - 6:j + 1:2][None]               # 4 steps, 2 timeline steps apart
        with torch.no_grad():
            expected = bundle.head.clip_logits(clip)[0].softmax(-1).numpy()
        np.testing.assert_allclose(pred.raw_probs, expected, atol=1e-5)
        checked += 1
    assert checked >= 5


def reference_cells(flow: np.ndarray, grid: int) -> np.ndarray:
    """The cell features straight from their definitions (module docstring), cell by cell
    with explicit masks, in float64: what `FlowEncoder.cells` computes from band sums."""
    f = flow.astype(np.float64) * (100.0 / flow.shape[1])
    pan = np.median(f.reshape(-1, 2), axis=0)
    u, v = f[..., 0] - pan[0], f[..., 1] - pan[1]
    du_dy, du_dx = np.gradient(u)
    dv_dy, dv_dx = np.gradient(v)
    y, x = np.mgrid[0:flow.shape[0], 0:flow.shape[1]] * (100.0 / flow.shape[1])
    out = []
    for top, bottom in pool_bands(flow.shape[0], grid):
        for left, right in pool_bands(flow.shape[1], grid):
            cell = (slice(top, bottom), slice(left, right))
            cu, cv, cx, cy = u[cell], v[cell], x[cell], y[cell]
            w = (cu * cu + cv * cv) / cu.size
            total = w.sum() + 1e-6
            mx, my, mu, mv = ((w * a).sum() / total for a in (cx, cy, cu, cv))
            dx, dy, du, dv = cx - mx, cy - my, cu - mu, cv - mv
            spread = (w * (dx * dx + dy * dy)).sum() + 1e-6
            out.append([cu.mean(), cv.mean(), np.sqrt(cu * cu + cv * cv).mean(),
                        (dv_dx - du_dy)[cell].mean(), (du_dx + dv_dy)[cell].mean(), mu, mv,
                        100 * (w * (dx * dv - dy * du)).sum() / spread,
                        100 * (w * (dx * du + dy * dv)).sum() / spread, *pan])
    return np.array(out)


@pytest.mark.parametrize("grid", [1, 3, 4])
def test_cell_features_match_their_definitions(grid):
    """A pan, a turning blob and a growing one, on a frame that the grid does not divide."""
    h, w = 90, 128
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    flow = np.zeros((h, w, 2), np.float32) + (0.7, -0.3)                       # the pan
    turning = np.exp(-((x - 30) ** 2 + (y - 25) ** 2) / 60)
    flow[..., 0] += 0.4 * turning * -(y - 25)
    flow[..., 1] += 0.4 * turning * (x - 30)
    growing = np.exp(-((x - 95) ** 2 + (y - 60) ** 2) / 80)
    flow += 0.3 * growing[..., None] * np.stack([x - 95, y - 60], -1)
    flow += np.random.default_rng(0).normal(0, 0.05, flow.shape).astype(np.float32)
    cells = FlowEncoder(FlowSpec(grid=grid)).cells(flow)
    expected = reference_cells(flow, grid)
    np.testing.assert_allclose(cells, expected, rtol=1e-4, atol=1e-4)
    if grid == 3:
        assert cells[0, C["mover_rotation"]] > 1.0 and cells[8, C["mover_expansion"]] > 1.0


def test_the_default_config_flows_on_colour_and_sees_an_object_of_the_scenes_brightness():
    m = load_config().motion
    spec = flow_spec(m.stream, SIZE, m.preset, "grid", 2, m.colour, m.camera)
    feats = FlowEncoder(spec)(equal_brightness_slide(), None)
    assert feats[1:, 0, C["mover_dx"]].mean() > 2.5
