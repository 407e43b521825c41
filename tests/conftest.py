"""Shared fixtures: small synthetic datasets made by the tests themselves, and a
shrunk real config (real pretrained backbone at low resolution, CPU, few epochs)."""

from __future__ import annotations

import os
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


# Openbox for the test server: no decorations, every window at the top-left corner,
# focus on the window under the pointer (so `x11.press_key` types into it).
OPENBOX_RC = """<?xml version="1.0" encoding="UTF-8"?>
<openbox_config xmlns="http://openbox.org/3.4/rc">
  <focus><focusNew>yes</focusNew><followMouse>yes</followMouse></focus>
  <applications>
    <application class="*"><decor>no</decor><position force="yes"><x>0</x><y>0</y></position></application>
  </applications>
</openbox_config>
"""


def wait_for_line(process: subprocess.Popen, timeout: float) -> str:
    """The first line `process` writes to its stdout pipe within `timeout` s; "" if none."""
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    return process.stdout.readline().decode().strip() if ready else ""


@pytest.fixture
def xvfb_display(tmp_path_factory):
    """A private Xvfb server (640x480x24) on a free display, with a window manager; its
    name, e.g. ":99". Without a window manager, Qt leaves a new OpenCV window unpainted
    (black) in about one start in five, so the window tests need one."""
    binaries = {name: shutil.which(name) for name in ("Xvfb", "openbox")}
    missing = [name for name, path in binaries.items() if path is None]
    if missing:
        pytest.skip(f"{' and '.join(missing)} not installed (apt-get install xvfb openbox; `make test` tries to)")
    server = subprocess.Popen([binaries["Xvfb"], "-displayfd", "1", "-screen", "0", "640x480x24", "-nolisten", "tcp"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    number = wait_for_line(server, 15)
    if not number:
        server.kill()
        pytest.fail("Xvfb did not report a display within 15 s")
    display = f":{number}"
    rc = tmp_path_factory.mktemp("openbox") / "rc.xml"
    rc.write_text(OPENBOX_RC)
    wm = subprocess.Popen([binaries["openbox"], "--sm-disable", "--config-file", str(rc), "--startup", "echo ready"],
                          env={**os.environ, "DISPLAY": display}, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if wait_for_line(wm, 15) != "ready":
            pytest.fail(f"openbox did not start on {display} within 15 s")
        yield display
    finally:
        for process in (wm, server):
            process.terminate()
            process.wait(timeout=10)
