"""The head must see which way things move, not only what is there.

slide_left and slide_right are the same clips played backwards: every frame of one
class appears in the other, so only the order of frames separates them. These
tests fail if spatial layout (grid pooling) or frame order (the LSTM) is lost.
"""

import cv2
import numpy as np
import pytest

from actionrec.bundle import load_bundle
from actionrec.pipeline import evaluate, train
from actionrec.synthetic import make_ucf_dataset, write_video

from conftest import shrunk_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def left_right(tmp_path_factory):
    root = tmp_path_factory.mktemp("lr") / "UCF"
    return make_ucf_dataset(root, classes=("slide_left", "slide_right"), groups=8, clips_per_group=4,
                            num_frames=30, size=(80, 80), test_groups=2, seed=7)


def test_left_vs_right_separates_and_the_order_blind_baseline_cannot(left_right, tmp_path):
    cfg = shrunk_config(tmp_path, "backbone.pooling=grid", "sampling.clip_steps=8", "train.epochs=25",
                        "train.early_stop_patience=25", "train.lr=0.003", "train.baseline_epochs=200")
    result = train(left_right, cfg, tmp_path / "lr.safetensors", progress=False)
    metrics = evaluate(result.bundle, left_right, cfg, json_path=tmp_path / "m.json", progress=False)
    assert metrics["num_videos"] == 16
    assert metrics["top1"] >= 0.9, metrics["per_class"]
    assert metrics["baseline_top1"] <= 0.75, "order-blind baseline should be near chance on reversed pairs"


def pan_clip(rng: np.random.Generator, direction: int, frames: int = 30, size=(80, 60)) -> np.ndarray:
    """A window panning across a random textured scene: `direction` +1 right, -1 left."""
    w, h = size
    scene = sum(cv2.resize(rng.integers(0, 255, (h * 2 // s, w * 3 // s, 3), dtype=np.uint8).astype(np.float32),
                           (w * 3, h * 2), interpolation=cv2.INTER_CUBIC) for s in (4, 8, 16)) / 3
    scene = np.clip(scene + rng.normal(0, 4, scene.shape), 0, 255).astype(np.uint8)
    x0, y = rng.integers(0, w // 2), rng.integers(0, h)
    xs = np.linspace(x0, x0 + w, frames).round().astype(int)
    return np.stack([scene[y:y + h, x:x + w] for x in (xs if direction > 0 else xs[::-1])])


@pytest.fixture(scope="module")
def pan_folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("pan")
    rng = np.random.default_rng(11)
    for part, count in (("train", 12), ("test", 6)):
        for label, direction in (("pan_left", -1), ("pan_right", 1)):
            for k in range(count):
                write_video(root / part / label / f"{label}_{k}.avi", pan_clip(rng, direction), 25.0)
    return root


def test_the_motion_stream_reads_a_camera_pan_that_the_order_blind_references_cannot(pan_folders, tmp_path):
    # random textures all look alike to the CNN: keep the clips apart as recordings, so that
    # validation (which chooses the fusion) has videos (grouping by similarity: test_datasets)
    cfg = shrunk_config(tmp_path, "sampling.clip_steps=8", "train.epochs=15", "train.early_stop_patience=15",
                        "data.duplicate_similarity=0.999", "data.duplicate_step_similarity=0.999")
    assert cfg.motion.stream == "flow" and cfg.head.fusion == "late"
    result = train(pan_folders, cfg, tmp_path / "pan.safetensors", progress=False)
    metrics = evaluate(result.bundle, pan_folders, cfg, json_path=tmp_path / "m.json", progress=False)
    assert metrics["top1"] >= 0.9, metrics["per_class"]
    assert metrics["probe_top1"] <= 0.75 and metrics["baseline_top1"] <= 0.75
    assert load_bundle(result.bundle).meta["training"]["fusion_weight"] <= 0.5   # motion carries it
