"""Shared fixtures: small synthetic datasets made by the tests themselves, and a
shrunk real config (real pretrained backbone at low resolution, CPU, few epochs)."""

from __future__ import annotations

import select
import shutil
import signal
import subprocess

import pytest

from actionrec.config import load_config
from actionrec.synthetic import make_ucf_dataset


@pytest.fixture(scope="session")
def tiny_ucf(tmp_path_factory):
    """UCF101 layout: grow/shrink, 4 groups x 2 clips, 1 s of 64x64 video each."""
    root = tmp_path_factory.mktemp("tiny_ucf") / "UCF"
    return make_ucf_dataset(root, classes=("grow", "shrink"), groups=4, clips_per_group=2,
                            num_frames=24, size=(64, 64), test_groups=1, seed=3)


def default_signals() -> None:
    """`preexec_fn` of a CLI child that a test signals: the signals' default dispositions,
    as in a terminal (a test run in the background, or under nohup, would pass SIGINT or
    SIGHUP on ignored, and the CLI keeps what it was started ignoring)."""
    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, signal.SIG_DFL)


def shrunk_config(tmp_path, *extra):
    return load_config("demo", [
        "backbone.crop_size=96", "sampling.clip_steps=6", "sampling.eval_clips=2",
        "train.epochs=3", "train.early_stop_patience=3", "train.baseline_epochs=50",
        f"cache.dir={tmp_path / 'cache'}", f"logging.run_dir={tmp_path / 'runs'}",
        "logging.wandb=disabled", "logging.progress_bar=false", "head.ensemble=1", *extra])


@pytest.fixture
def small_cfg(tmp_path):
    return shrunk_config(tmp_path)


@pytest.fixture(scope="session")
def random_bundle(tmp_path_factory):
    """A real bundle (pretrained mobilenet_v2 at 64x64 input, untrained 3-class head):
    exercises every inference path fast, without training."""
    from actionrec.synthetic import random_head_bundle
    return random_head_bundle(tmp_path_factory.mktemp("bundle") / "random.safetensors",
                              class_names=["grow", "shrink", "slide_left"], crop_size=64,
                              resize_mode="squash", clip_steps=4, hidden_size=16, num_layers=1, cell_dim=8)


@pytest.fixture
def xvfb_display():
    """A private Xvfb server (640x480x24) on a free display; its name, e.g. ":99"."""
    binary = shutil.which("Xvfb")
    if binary is None:
        pytest.skip("Xvfb is not installed (apt-get install xvfb; `make test` tries to)")
    server = subprocess.Popen([binary, "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    ready, _, _ = select.select([server.stdout], [], [], 15)
    number = server.stdout.readline().decode().strip() if ready else ""
    if not number:
        server.kill()
        pytest.fail("Xvfb did not report a display within 15 s")
    yield f":{number}"
    server.terminate()
    server.wait(timeout=10)
