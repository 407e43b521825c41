"""The head must see which way things move, not only what is there.

slide_left and slide_right are the same clips played backwards: every frame of one
class appears in the other, so only the order of frames separates them. These
tests fail if spatial layout (grid pooling) or frame order (the LSTM) is lost.
"""

import pytest

from actionrec.pipeline import evaluate, train
from actionrec.synthetic import make_ucf_dataset

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
