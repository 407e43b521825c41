"""How runs end: stop signals (SIGTERM, SIGHUP) end `live`, `record`, `label` and `train`
as Ctrl-C does, with real signals sent to a real process; URLs that finish end the run
instead of replaying, with a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import functools
import http.server
import json
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec import live
from actionrec.cli import main
from actionrec.synthetic import render_clip, write_video
from conftest import default_signals

FPS = 25.0
CODES = {signal.SIGTERM: 143, signal.SIGHUP: 129}


def count_frames(path: Path) -> int:
    cap = cv2.VideoCapture(str(path))
    n = 0
    while cap.read()[0]:
        n += 1
    cap.release()
    return n


def hidden_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def cli(*args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "actionrec.cli", *map(str, args)], preexec_fn=default_signals,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(condition, proc: subprocess.Popen, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    if not condition():
        proc.kill()
        pytest.fail(f"never happened; the process said: {proc.communicate()[1][-2000:]}")


@pytest.fixture(scope="module")
def long_clip(tmp_path_factory) -> Path:
    """10 s at 25 fps, 96x96: a run replayed in real time lasts long enough to stop it."""
    frames = render_clip("grow", np.random.default_rng(0), size=(96, 96), num_frames=int(10 * FPS))
    return write_video(tmp_path_factory.mktemp("endings") / "long.mp4", frames, FPS, "mp4v")


# ---------------------------------------------------------------- stop signals

@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_a_stop_signal_mid_live_run_leaves_stats_and_a_playable_recording(random_bundle, long_clip,
                                                                          tmp_path, signum):
    out, stats = tmp_path / "out.mp4", tmp_path / "stats.json"
    proc = cli("live", "--bundle", random_bundle, "--source", long_clip, "--headless", "--realtime",
               "--output", out, "--stats", stats, "--set", "logging.wandb=disabled")
    wait_for(lambda: any(tmp_path.glob(".out.*.tmp.mp4")), proc)     # the first frame is recorded
    time.sleep(1.5)
    proc.send_signal(signum)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == CODES[signum], err
    data = json.loads(stats.read_text())
    assert data["ended"] == {signal.SIGTERM: "terminated", signal.SIGHUP: "hangup"}[signum]
    assert 0 < data["frames_processed"] < 10 * FPS
    assert count_frames(out) == data["frames_processed"]          # finished: OpenCV reads it back
    assert not hidden_files(tmp_path)


def test_sigterm_mid_take_keeps_the_finished_takes_and_discards_the_partial_one(tmp_path, long_clip):
    data = tmp_path / "data"
    proc = cli("record", "--source", long_clip, "--data", data, "--label", "jump", "--clips", "5",
               "--seconds", "1", "--countdown", "0.2", "--headless", "--realtime")
    first = data / "jump" / "jump_s01_t01.mp4"
    wait_for(first.exists, proc)
    time.sleep(0.7)                                   # 0.2 s countdown, then half of take 2
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 143, err
    assert "take 2 discarded: terminated (SIGTERM)" in err
    assert sorted(p.name for p in (data / "jump").iterdir()) == ["jump_s01_t01.mp4"]
    assert count_frames(first) == 25 and not hidden_files(data)
    manifest = json.loads((data / "recordings.json").read_text())
    assert manifest["sessions"]["jump_s01"]["takes"] == ["jump/jump_s01_t01.mp4"]


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sigterm_mid_label_keeps_whole_rows_and_no_half_annotated_copy(random_bundle, tmp_path, workers):
    rng = np.random.default_rng(2)
    for i in range(16):     # 6.4 s each: the run is still labelling when the signal comes, even on a busy machine
        write_video(tmp_path / "in" / f"v{i:02d}.avi", render_clip("grow", rng, (64, 64), 160), FPS)
    out, annotated = tmp_path / "labels.jsonl", tmp_path / "annotated"
    proc = cli("label", "--bundle", random_bundle, tmp_path / "in", "--out", out, "--annotate", annotated,
               "--workers", workers, "--quiet")
    wait_for(lambda: out.exists() and out.read_text().count("\n") >= 2, proc)
    proc.send_signal(signal.SIGTERM)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "== label: terminated ==" in stdout and "every row written is complete" in stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert 2 <= len(rows) < 16 and all(row["error"] is None for row in rows)
    copies = sorted(p.name for p in annotated.iterdir())
    assert copies == sorted(f"{Path(row['path']).stem}.labelled.mp4" for row in rows)
    assert not hidden_files(tmp_path)
    resumed = cli("label", "--bundle", random_bundle, tmp_path / "in", "--out", out, "--quiet")
    stdout, err = resumed.communicate(timeout=120)
    assert resumed.returncode == 0, err
    assert f"skipped (already done) {len(rows)}" in stdout
    assert len(out.read_text().splitlines()) == 16


def test_sigterm_mid_training_says_so_and_leaves_no_temporary_file(tiny_ucf, tmp_path):
    bundle = tmp_path / "b.safetensors"
    proc = cli("train", "--data", tiny_ucf, "--config", "demo", "--out", bundle, "--quiet",
               "--set", "backbone.crop_size=64", "--set", "sampling.clip_steps=4", "--set", "train.epochs=500",
               "--set", "train.early_stop_patience=500", "--set", f"cache.dir={tmp_path / 'cache'}",
               "--set", f"logging.run_dir={tmp_path / 'runs'}", "--set", "logging.wandb=disabled")
    wait_for(lambda: any((tmp_path / "runs").rglob("last.ckpt")), proc, timeout=180)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err[-2000:]
    assert "terminated: stopped; what was finished is kept" in err
    assert not bundle.exists() and not hidden_files(tmp_path)
    entries = list((tmp_path / "cache").rglob("*.npy"))
    assert len(entries) == 12                  # the 12 train/val videos' features (3 of 4 groups) ...
    assert all(np.load(p).shape[0] > 0 for p in entries)                   # ... each one whole


# ---------------------------------------------------------------- streams that end

@pytest.fixture
def http_root(tmp_path):
    """A directory served over HTTP on 127.0.0.1 (a free port) for the test; its base URL."""
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                             functools.partial(Quiet, directory=str(tmp_path)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield tmp_path, f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_a_finite_url_ends_by_itself_having_handled_each_frame_once(random_bundle, http_root):
    root, url = http_root
    frames = render_clip("slide_left", np.random.default_rng(1), size=(96, 96), num_frames=60)
    write_video(root / "clip.mp4", frames, FPS, "mp4v")
    stats = root / "stats.json"
    proc = cli("live", "--bundle", random_bundle, "--source", f"{url}/clip.mp4", "--headless",
               "--stats", stats, "--set", "logging.wandb=disabled")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    data = json.loads(stats.read_text())
    assert data["ended"] == "end_of_stream" and "reopening" not in err
    assert "== live: end of stream ==" in out and re.search(r"^frames:\s+60 handled, 0 dropped", out, re.M)
    assert data["frames_processed"] == 60 and data["frames_dropped"] == 0
    assert data["timeline"][-1]["end"] == pytest.approx(60 / FPS)


class ReplayingStream:
    """A URL of unknown length (a video-on-demand playlist): each open plays `frames` from
    the start, then reads fail."""

    def __init__(self, frames):
        self.frames = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames]

    def isOpened(self) -> bool:
        return True

    def get(self, prop) -> float:
        return 0.0

    def read(self):
        if not self.frames:
            return False, None
        time.sleep(1 / 100)
        return True, self.frames.pop(0)

    def release(self) -> None:
        pass


def test_a_url_that_replays_from_its_start_after_a_reopen_has_ended(random_bundle, tmp_path, monkeypatch):
    frames = render_clip("grow", np.random.default_rng(3), size=(64, 64), num_frames=30)
    opened = []
    monkeypatch.setattr(live, "open_capture", lambda target: opened.append(target) or ReplayingStream(frames))
    monkeypatch.setattr(live, "RETRY_DELAY_S", 0.01)
    stats = tmp_path / "stats.json"
    assert main(["live", "--bundle", str(random_bundle), "--source", "http://cam.example/vod.m3u8",
                 "--headless", "--stats", str(stats), "--set", "logging.wandb=disabled"]) == 0
    data = json.loads(stats.read_text())
    assert data["ended"] == "end_of_stream" and len(opened) == 2      # opened, reopened once: it replayed
    assert data["frames_processed"] + data["frames_dropped"] == 30    # no frame twice


class FlakyCamera:
    """A live source that delivers a few new frames after each open, then drops."""
    count = 0

    def __init__(self, frames: int = 3):
        self.left = frames

    def isOpened(self) -> bool:
        return True

    def get(self, prop) -> float:
        return 0.0

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        FlakyCamera.count += 1
        time.sleep(1 / 100)
        return True, np.full((48, 64, 3), FlakyCamera.count % 256, np.uint8)

    def release(self) -> None:
        pass


def test_reopen_attempts_are_counted_over_the_run(random_bundle, tmp_path, monkeypatch, capsys):
    opened = []
    monkeypatch.setattr(live, "open_capture", lambda target: opened.append(target) or FlakyCamera())
    monkeypatch.setattr(live, "RETRY_DELAY_S", 0.01)
    stats = tmp_path / "stats.json"
    assert main(["live", "--bundle", str(random_bundle), "--source", "0", "--headless",
                 "--stats", str(stats), "--set", "logging.wandb=disabled"]) == 1
    assert len(opened) == 1 + live.RETRIES            # never reset by a source that drops again at once
    assert json.loads(stats.read_text())["ended"] == "source_lost"
    assert f"gave up after {live.RETRIES} reopen attempts" in capsys.readouterr().err


def test_time_paused_does_not_count_in_the_fps(monkeypatch):
    clock = iter([0.0, 1.0, 1.0, 11.0, 12.0])       # frame, frame, pause, resume (10 s later), frame
    monkeypatch.setattr(live.time, "perf_counter", lambda: next(clock))
    stats = live.LiveStats("camera 0")
    stats.add_frame(0.0)
    stats.add_frame(0.1)
    stats.set_paused(True)
    stats.set_paused(False)
    stats.add_frame(0.2)
    assert stats.fps == pytest.approx(2 / 2.0)     # 2 frame intervals over 2 s of running


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=lambda s: s.name)
def test_a_stop_between_counting_and_recording_a_live_frame_waits_for_the_frame(monkeypatch, signum):
    """The signal lands just after a frame is counted: the frame is still recorded, so the
    stats and the recording agree (before, the stats came out one frame ahead)."""
    from actionrec.signals import stop_signals
    written = []
    source = type("Source", (), {"name": "clip.mp4", "fps": FPS, "finite": True})()
    recognizer = type("Recognizer", (), {"push": staticmethod(lambda frame, ts: None)})()
    recording = type("Recording", (), {"write": staticmethod(written.append)})()
    loop = live.LiveLoop(recognizer, source, None, recording, None)
    add_frame = loop.stats.add_frame

    def count_then_stop(end_ts):
        add_frame(end_ts)
        if loop.stats.frames_processed == 3:
            signal.raise_signal(signum)
    monkeypatch.setattr(loop.stats, "add_frame", count_then_stop)
    frame = np.zeros((8, 8, 3), np.uint8)
    with stop_signals(), pytest.raises(KeyboardInterrupt):
        for i in range(10):
            loop.handle(frame, i / FPS)
    assert loop.stats.frames_processed == len(written) == 3


def test_a_signal_the_process_was_started_ignoring_stays_ignored():
    from actionrec.signals import stop_signals
    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)          # as `nohup` starts a command
    try:
        with stop_signals():
            assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
            assert signal.getsignal(signal.SIGTERM) not in (signal.SIG_IGN, signal.SIG_DFL)
    finally:
        signal.signal(signal.SIGHUP, previous)
