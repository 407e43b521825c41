"""What the commands print, run as a user runs them: into a pipe (a log file, CI) and in a
pseudo-terminal. No redraws and no library chatter in a log, one line of ours per bad
file, a summary block at the end; a live bar on a terminal."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

import numpy as np
import pytest

from actionrec.synthetic import render_clip, write_video

# what OpenCV, FFmpeg and decord say about a broken file, in their own words
LIBRARY_LINE = re.compile(r"moov atom|\[ WARN|VIDEOIO|video_reader\.cc|@ 0x[0-9a-f]+\]|Invalid data found")


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory) -> tuple[Path, list[Path]]:
    """Two good clips, a truncated mp4 and random bytes named .mp4; the bad ones."""
    root = tmp_path_factory.mktemp("mixed")
    rng = np.random.default_rng(0)
    for name in ("a.avi", "b.avi"):
        write_video(root / name, render_clip("grow", rng, (64, 64), 30), 25.0)
    whole = write_video(root / "cut.mp4", render_clip("grow", rng, (64, 64), 30), 25.0, "mp4v").read_bytes()
    (root / "cut.mp4").write_bytes(whole[: len(whole) // 3])
    (root / "noise.mp4").write_bytes(rng.integers(0, 256, 5000, dtype=np.uint8).tobytes())
    return root, [root / "cut.mp4", root / "noise.mp4"]


def run_piped(*args, env_extra: dict | None = None) -> tuple[int, str]:
    """The CLI with stdout and stderr into one pipe, as `cmd > log 2>&1`: (code, text)."""
    env = {**os.environ, "CI": "true", **(env_extra or {})}
    done = subprocess.run([sys.executable, "-m", "actionrec.cli", *map(str, args)], env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=300)
    return done.returncode, done.stdout.decode("utf-8", "replace")


def test_label_into_a_log_has_no_redraws_no_library_lines_and_names_each_bad_file(
        random_bundle, mixed_folder, tmp_path):
    root, bad = mixed_folder
    captures = set(Path(tempfile.gettempdir()).glob("actionrec-libraries-*"))
    code, log = run_piped("label", "--bundle", random_bundle, root, "--out", tmp_path / "labels.csv")
    assert code == 1                                         # some videos failed
    assert "\r" not in log and "\x1b[" not in log
    assert not LIBRARY_LINE.search(log), log
    for path in bad:
        assert len([line for line in log.splitlines() if str(path) in line]) == 1, log
    assert "== label: done ==" in log and "labelled 2, skipped (already done) 0, failed 2" in log
    assert re.search(r"^results:\s+\S+labels\.csv$", log, re.M)
    assert set(Path(tempfile.gettempdir()).glob("actionrec-libraries-*")) == captures   # removed after use


def test_verbose_shows_what_the_libraries_said(random_bundle, mixed_folder, tmp_path):
    root, _ = mixed_folder
    _, log = run_piped("label", "--bundle", random_bundle, root, "--out", tmp_path / "labels.csv", "--verbose")
    assert LIBRARY_LINE.search(log), log


def test_train_into_a_log_prints_one_line_per_epoch_and_a_summary(tiny_ucf, tmp_path):
    code, log = run_piped("train", "--data", tiny_ucf, "--config", "demo", "--out", tmp_path / "b.safetensors",
                          "--set", "backbone.crop_size=64", "--set", "sampling.clip_steps=4",
                          "--set", "train.epochs=3", "--set", "train.baseline_epochs=20",
                          "--set", f"cache.dir={tmp_path / 'cache'}", "--set", f"logging.run_dir={tmp_path / 'runs'}",
                          "--set", "logging.wandb=offline", env_extra={"WANDB_MODE": "offline"})
    assert code == 0, log
    assert "\r" not in log and "wandb: WARNING" not in log and "anonymous" not in log, log
    epochs = [line for line in log.splitlines() if line.startswith("epoch ")]
    assert [line.split()[1] for line in epochs] == ["1/3", "2/3", "3/3"]
    assert all("train/loss" in line and "val/loss" in line for line in epochs)
    assert "== train: done ==" in log and re.search(r"^bundle:\s+\S+b\.safetensors$", log, re.M)
    assert re.search(r"^next:\s+actionrec live --bundle", log, re.M)
    assert len(log.splitlines()) < 40, log

    code, quiet = run_piped("evaluate", "--bundle", tmp_path / "b.safetensors", "--data", tiny_ucf, "--quiet",
                            "--set", f"cache.dir={tmp_path / 'cache'}", "--json", tmp_path / "eval.json")
    assert code == 0, quiet
    assert "features (" not in quiet and "extracted" not in quiet          # --quiet: results only
    assert "== evaluate: done ==" in quiet and re.search(r"^top-1:\s+\d\.\d{3}", quiet, re.M)


def test_a_terminal_gets_a_live_bar(random_bundle, mixed_folder, tmp_path):
    root, _ = mixed_folder
    env = {k: v for k, v in os.environ.items() if k != "CI"} | {"TERM": "xterm", "COLUMNS": "100"}
    parent, child = pty.openpty()
    fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))    # a 100-column terminal
    proc = subprocess.Popen([sys.executable, "-m", "actionrec.cli", "label", "--bundle", str(random_bundle),
                             str(root), "--out", str(tmp_path / "labels.csv")],
                            stdin=child, stdout=child, stderr=child, env=env)
    os.close(child)
    chunks, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([parent], [], [], 1.0)
        if ready:
            try:
                data = os.read(parent, 4096)
            except OSError:            # the child closed the terminal
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(parent)
    screen = b"".join(chunks).decode("utf-8", "replace")
    assert re.search(r"\rlabelling: +\d+%\|", screen), screen       # tqdm redraws in place
    assert "== label: done ==" in screen and not LIBRARY_LINE.search(screen)


def test_the_demo_runs_end_to_end_and_closes_with_its_score_and_both_order_blind_references(
        tmp_path, monkeypatch, capsys):
    """`make demo`, shrunk: generate, train, evaluate, and a closing summary that a new
    user reads first (the test top-1 beside the mean-pool baseline and the probe)."""
    from actionrec.cli import main
    monkeypatch.chdir(tmp_path)                 # the demo writes weights/demo.safetensors here
    sets = ["demo.groups=5", "demo.clips_per_group=2", "demo.test_groups=2", "demo.num_frames=24",
            "demo.size=64", "backbone.crop_size=96", "sampling.clip_steps=6", "train.epochs=2",
            "train.baseline_epochs=50", f"cache.dir={tmp_path / 'cache'}", f"logging.run_dir={tmp_path / 'runs'}",
            "logging.wandb=disabled"]
    assert main(["demo", "--workdir", str(tmp_path / "demo"), "--quiet",
                 *(arg for s in sets for arg in ("--set", s))]) == 0
    printed = capsys.readouterr().out
    assert re.search(r"test top-1: +\d\.\d{3} \(order-blind: baseline \d\.\d{3}, probe \d\.\d{3}\)", printed), printed
    assert (tmp_path / "weights" / "demo.safetensors").is_file()
