"""The live loop (`actionrec live`): file, camera and window front end over streaming.

Every run uses the `random_bundle` fixture (untrained head: labels are arbitrary), so
the tests check mechanics: frames handled or dropped, steps, outputs, exit codes.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import subprocess
import sys
import time

import cv2
import numpy as np
import pytest

from actionrec import live
from actionrec.cli import main
from actionrec.streaming import StreamingRecognizer
from actionrec.synthetic import render_clip, write_video
from x11 import grab, press_key

FPS, SECONDS = 25.0, 3.0
BAR = np.array([70, 140, 255])          # RGB of the overlay's top-k bars


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """A 3 s, 25 fps, 96x96 MJPG video and its decoded frames `(75, 96, 96, 3)` uint8 RGB."""
    frames = render_clip("grow", np.random.default_rng(0), size=(96, 96), num_frames=int(FPS * SECONDS))
    path = write_video(tmp_path_factory.mktemp("live") / "clip.avi", frames, FPS)
    return path, read_frames(path)


def read_frames(path) -> np.ndarray:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return np.stack(frames) if frames else np.empty((0,), np.uint8)


def run_cli(bundle, source, *extra) -> int:
    return main(["live", "--bundle", str(bundle), "--source", str(source), "--headless",
                 "--set", "logging.wandb=disabled", *map(str, extra)])


def load_stats(path) -> dict:
    return json.loads(path.read_text())


def test_headless_file_run_handles_every_frame_and_writes_video_and_stats(random_bundle, clip, tmp_path):
    video, source = clip
    out, stats_path = tmp_path / "out" / "labelled.mp4", tmp_path / "stats.json"
    assert run_cli(random_bundle, video, "--output", out, "--stats", stats_path) == 0
    stats = load_stats(stats_path)
    assert {"frames_processed", "frames_dropped", "steps", "fps", "latency_ms_p50", "latency_ms_p95",
            "source", "ended", "timeline"} <= stats.keys()
    assert stats["ended"] == "end_of_stream" and stats["source"] == str(video)
    assert stats["frames_processed"] == len(source) and stats["frames_dropped"] == 0
    assert abs(stats["steps"] - SECONDS * 8) <= 1                  # the bundle's 8 steps/s
    assert stats["fps"] > 0 and 0 < stats["latency_ms_p50"] <= stats["latency_ms_p95"]
    timeline = stats["timeline"]                                     # tiles [0, duration]
    assert timeline[0]["start"] == 0.0 and timeline[-1]["end"] == pytest.approx(SECONDS)
    assert all(a["end"] == b["start"] for a, b in zip(timeline, timeline[1:]))
    assert sum(run["steps"] for run in timeline) == stats["steps"]
    labelled = read_frames(out)
    assert len(labelled) == len(source) and labelled.shape[1:] == source.shape[1:]
    panel, below = (slice(0, 40), slice(0, 90)), (slice(60, 80), slice(0, 90))
    assert labelled[10][panel].mean() < 0.7 * source[10][panel].mean()          # darkened overlay
    assert abs(labelled[10][below].mean() - source[10][below].mean()) < 10       # picture intact
    assert not list(out.parent.glob(".*tmp*")) and not list(tmp_path.glob(".*tmp"))


def test_max_frames_stops_there(random_bundle, clip, tmp_path):
    stats_path = tmp_path / "stats.json"
    assert run_cli(random_bundle, clip[0], "--max-frames", 10, "--stats", stats_path) == 0
    stats = load_stats(stats_path)
    assert stats["frames_processed"] == 10 and stats["ended"] == "max_frames"


def slow_steps(monkeypatch, seconds: float, interrupt_at: int | None = None) -> None:
    """Make every model step take `seconds` longer; raise Ctrl-C at step `interrupt_at`."""
    push = StreamingRecognizer.push

    def slow_push(self, frame, ts):
        pred = push(self, frame, ts)
        if pred is not None:
            time.sleep(seconds)
            if interrupt_at is not None and pred.steps_seen >= interrupt_at:
                raise KeyboardInterrupt
        return pred
    monkeypatch.setattr(StreamingRecognizer, "push", slow_push)


def test_realtime_replay_drops_the_oldest_frames_when_inference_is_slow(random_bundle, clip, tmp_path,
                                                                         monkeypatch):
    slow_steps(monkeypatch, 0.15)       # 8 steps/s x 0.15 s: more than the source's real time
    stats_path = tmp_path / "stats.json"
    assert run_cli(random_bundle, clip[0], "--realtime", "--stats", stats_path) == 0
    stats = load_stats(stats_path)
    assert stats["ended"] == "end_of_stream" and stats["frames_dropped"] > 0
    assert stats["frames_processed"] + stats["frames_dropped"] == len(clip[1])   # none lost uncounted
    assert stats["timeline"][-1]["end"] == pytest.approx(SECONDS)   # still reaches the end in time


@pytest.mark.parametrize("runtime, step_threads", [("onnx", 1), ("torch", None)])
def test_steps_run_the_head_on_one_thread_beside_onnx_runtime(random_bundle, clip, monkeypatch, runtime,
                                                              step_threads):
    """Beside ONNX Runtime's threads, PyTorch's idle second thread made live steps wait
    (p95 latency ~2x); a PyTorch backbone keeps its threads; the caller's count comes back."""
    if runtime == "onnx":
        pytest.importorskip("onnxruntime")
    torch = pytest.importorskip("torch")
    original = torch.get_num_threads()
    before = max(2, original)
    seen = []
    push = StreamingRecognizer.push
    monkeypatch.setattr(StreamingRecognizer, "push",
                        lambda self, frame, ts: seen.append(torch.get_num_threads()) or push(self, frame, ts))
    torch.set_num_threads(before)
    try:
        assert run_cli(random_bundle, clip[0], "--max-frames", 10, "--set", f"backbone.runtime={runtime}") == 0
        assert torch.get_num_threads() == before
    finally:
        torch.set_num_threads(original)
    assert seen and set(seen) == {step_threads or before}


def test_ctrl_c_finishes_the_video_and_stats(random_bundle, clip, tmp_path, monkeypatch):
    slow_steps(monkeypatch, 0.0, interrupt_at=6)
    out, stats_path = tmp_path / "out.mp4", tmp_path / "stats.json"
    assert run_cli(random_bundle, clip[0], "--output", out, "--stats", stats_path) == 130
    stats = load_stats(stats_path)
    assert stats["ended"] == "interrupted" and stats["steps"] == 5
    assert len(read_frames(out)) == stats["frames_processed"] > 0


class FakeCamera:
    """A webcam delivering `frames` (RGB, given to OpenCV callers as BGR) at 30 fps,
    then failing every read; `opened=False`: the device cannot be opened."""

    def __init__(self, frames=(), opened: bool = True):
        self.frames, self.opened = [cv2.cvtColor(f, cv2.COLOR_RGB2BGR) for f in frames], opened

    def isOpened(self) -> bool:
        return self.opened

    def read(self):
        if not self.frames:
            return False, None
        time.sleep(1 / 30)
        return True, self.frames.pop(0)

    def release(self) -> None:
        pass


def fake_cameras(monkeypatch, cameras: list[FakeCamera]) -> list:
    """`open_capture` hands out `cameras` in turn (a dead one after them); the targets asked."""
    asked = []

    def open_capture(target):
        asked.append(target)
        return cameras[len(asked) - 1] if len(asked) <= len(cameras) else FakeCamera(opened=False)
    monkeypatch.setattr(live, "open_capture", open_capture)
    monkeypatch.setattr(live, "RETRY_DELAY_S", 0.01)
    return asked


def test_lost_camera_is_retried_then_the_run_ends_with_code_1(random_bundle, clip, tmp_path,
                                                              monkeypatch, capsys):
    asked = fake_cameras(monkeypatch, [FakeCamera(clip[1][:12]), FakeCamera([])])
    out, stats_path = tmp_path / "out.mp4", tmp_path / "stats.json"
    assert run_cli(random_bundle, "0", "--output", out, "--stats", stats_path) == 1
    assert asked == [0] * (1 + live.RETRIES)                        # opened, then reopened 5 times
    assert "camera 0" in capsys.readouterr().err
    stats = load_stats(stats_path)
    assert stats["ended"] == "source_lost" and stats["source"] == "camera 0"
    assert stats["frames_processed"] + stats["frames_dropped"] == 12
    assert len(read_frames(out)) == stats["frames_processed"] > 0   # finished, playable


def test_camera_that_comes_back_is_used_again(random_bundle, clip, tmp_path, monkeypatch):
    cameras = [FakeCamera(clip[1][:10]), FakeCamera(opened=False), FakeCamera(clip[1])]
    asked = fake_cameras(monkeypatch, cameras)
    stats_path = tmp_path / "stats.json"
    assert run_cli(random_bundle, "0", "--max-frames", 20, "--stats", stats_path) == 0
    stats = load_stats(stats_path)
    assert len(asked) == 3 and stats["ended"] == "max_frames" and stats["frames_processed"] == 20


def test_missing_file_is_named_with_exit_code_2(random_bundle, tmp_path, capsys):
    missing = tmp_path / "no_such_clip.mp4"
    assert run_cli(random_bundle, missing) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "Traceback" not in err


# ---------------------------------------------------------------- the real window under Xvfb

@pytest.fixture(scope="module")
def window_clip(tmp_path_factory):
    """20 s of 320x240 video on a flat grey background (the overlay is easy to find)."""
    background = np.full((240, 320, 3), 90, np.uint8)
    frames = render_clip("grow", np.random.default_rng(0), size=(240, 320), num_frames=500,
                         background=background)
    return write_video(tmp_path_factory.mktemp("window") / "clip.avi", frames, FPS), frames


def bar_pixels(image: np.ndarray) -> int:
    return int(np.all(image[..., :3] == BAR, axis=-1).sum())


def start_window(bundle, video, display: str, stats_path):
    env = {**os.environ, "DISPLAY": display, "QT_QPA_PLATFORM": "xcb"}
    command = [sys.executable, "-m", "actionrec.cli", "live", "--bundle", str(bundle), "--source", str(video),
               "--max-frames", "1000", "--stats", str(stats_path), "--set", "logging.wandb=disabled"]
    return subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def screenshot_with_overlay(display: str, process, save_to, timeout: float = 60.0) -> np.ndarray | None:
    """Screenshots of the whole screen until one shows the overlay's bars; None if the
    process ends (or `timeout` passes) first. The last one is saved to `save_to`."""
    deadline, shot = time.monotonic() + timeout, None
    while time.monotonic() < deadline and process.poll() is None:
        shot = grab(display)
        if bar_pixels(shot) >= 50:
            break
        time.sleep(0.3)
    if shot is not None:
        cv2.imwrite(str(save_to), cv2.cvtColor(shot, cv2.COLOR_RGB2BGR))
    return shot if shot is not None and bar_pixels(shot) >= 50 else None


def check_space_pauses(display: str, x: int, y: int) -> None:
    """Playing, the picture changes; after space it freezes (marked PAUSED); space resumes."""
    before = grab(display)
    time.sleep(0.4)
    assert not np.array_equal(before, grab(display))
    press_key(display, "space", x, y)
    time.sleep(0.7)
    paused = grab(display)
    time.sleep(0.6)
    assert np.array_equal(paused, grab(display))
    press_key(display, "space", x, y)
    time.sleep(0.4)
    assert not np.array_equal(paused, grab(display))


@pytest.mark.slow
def test_window_shows_the_overlay_pauses_and_q_quits(random_bundle, window_clip, xvfb_display, tmp_path):
    video, frames = window_clip
    assert bar_pixels(frames) == 0                  # only the overlay draws that colour
    stats_path = tmp_path / "stats.json"
    process = start_window(random_bundle, video, xvfb_display, stats_path)
    try:
        shot = screenshot_with_overlay(xvfb_display, process, tmp_path / "live_window.png")
        if shot is None:
            pytest.fail(f"no overlay on screen (last screenshot: {tmp_path / 'live_window.png'}); live said:\n"
                        + process.communicate(timeout=30)[0].decode())
        shutil.copy(tmp_path / "live_window.png", "/tmp/live_window.png")
        rows, cols = np.nonzero(shot.max(axis=-1) > 0)                 # the window on a black screen
        top, left = rows.min(), cols.min()
        panel = shot[top:top + 50, left:left + 150]
        assert np.median(panel) < 0.6 * np.median(frames[:, :50, :150])   # darkened behind the text
        if ctypes.util.find_library("Xtst") is None:
            pytest.skip("libXtst missing: cannot type into the window")
        check_space_pauses(xvfb_display, left + 100, top + 100)
        press_key(xvfb_display, "q", left + 100, top + 100)
        output = process.communicate(timeout=30)[0].decode()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    stats = load_stats(stats_path)
    assert stats["ended"] == "user_quit" and stats["frames_processed"] < len(frames)
