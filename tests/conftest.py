"""Shared fixtures: small synthetic datasets made by the tests themselves, and a
shrunk real config (real pretrained backbone at low resolution, CPU, few epochs)."""

from __future__ import annotations

import pytest

from actionrec.config import load_config
from actionrec.synthetic import make_ucf_dataset


@pytest.fixture(scope="session")
def tiny_ucf(tmp_path_factory):
    """UCF101 layout: grow/shrink, 4 groups x 2 clips, 1 s of 64x64 video each."""
    root = tmp_path_factory.mktemp("tiny_ucf") / "UCF"
    return make_ucf_dataset(root, classes=("grow", "shrink"), groups=4, clips_per_group=2,
                            num_frames=24, size=(64, 64), test_groups=1, seed=3)


def shrunk_config(tmp_path, *extra):
    return load_config("demo", [
        "backbone.crop_size=96", "sampling.clip_steps=6", "sampling.eval_clips=2",
        "train.epochs=3", "train.early_stop_patience=3", "train.baseline_epochs=50",
        f"cache.dir={tmp_path / 'cache'}", f"logging.run_dir={tmp_path / 'runs'}",
        "logging.wandb=disabled", "logging.progress_bar=false", *extra])


@pytest.fixture
def small_cfg(tmp_path):
    return shrunk_config(tmp_path)


@pytest.fixture(scope="session")
def random_bundle(tmp_path_factory):
    """A real bundle (pretrained mobilenet_v2 at 64x64 input, untrained 3-class head):
    exercises every inference path fast, without training."""
    import torch

    from actionrec.bundle import save_bundle
    from actionrec.model import LSTMHead
    torch.manual_seed(0)
    head = {"in_dim": 1280, "num_classes": 3, "num_cells": 9, "hidden_size": 16, "num_layers": 1,
            "dropout": 0.0, "input_dropout": 0.0, "output_dropout": 0.0, "cell_dim": 8, "deltas": False}
    meta = {"backbone": {"name": "mobilenet_v2", "weights": "MobileNet_V2_Weights.IMAGENET1K_V1",
                         "pooling": "grid", "grid": 3, "out_dim": 1280},
            "preprocess": {"resize_size": 64, "crop_size": 64, "mode": "squash",
                           "mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]},
            "sampling": {"fps": 8.0, "clip_steps": 4, "train_mode": "segments", "stride": 1,
                         "eval_clips": 1, "stream_stride": 1},
            "head": head, "class_names": ["grow", "shrink", "slide_left"], "data": {}, "training": {}}
    path = tmp_path_factory.mktemp("bundle") / "random.safetensors"
    return save_bundle(path, LSTMHead(**head).eval(), None, meta)
