"""`actionrec record`: takes recorded from a video file standing in for the camera, and
the whole newcomer's path: record three actions, train, go live."""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec import live, record
from actionrec.bundle import load_bundle
from actionrec.cli import main
from actionrec.synthetic import render_performance, write_video
from conftest import default_signals

FPS = 25.0
ACTIONS = ("grow", "slide_left", "turn_clockwise")


def level_video(path: Path, frames: int, fps: float = FPS) -> Path:
    """A video whose frame i is a flat grey of level `level(i)`: a take's content tells
    which source frames it holds."""
    return write_video(path, (np.full((48, 64, 3), level(i), np.uint8) for i in range(frames)), fps)


def level(i: int) -> int:
    return (10 + 6 * i) % 250


def frame_levels(path: Path) -> list[float]:
    cap = cv2.VideoCapture(str(path))
    levels = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        levels.append(float(frame.mean()))
    cap.release()
    return levels


def record_cli(source, data, label, *extra) -> int:
    return main(["record", "--source", str(source), "--data", str(data), "--label", label, "--headless",
                 *map(str, extra)])


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def hidden_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*") if p.is_file()]


def test_takes_start_after_the_countdown_and_a_rerun_adds_a_session(tmp_path):
    source = level_video(tmp_path / "camera.avi", 40)
    shown = frame_levels(source)                       # the source's frames as decoded
    data = tmp_path / "data"
    # countdown 0.2 s (5 frames), takes of 0.4 s (10 frames): take 1 holds frames 5-14,
    # take 2 frames 20-29 (15-19 are its countdown)
    assert record_cli(source, data, "wave", "--clips", 2, "--seconds", 0.4, "--countdown", 0.2) == 0
    first = sorted((data / "wave").iterdir())
    assert [p.name for p in first] == ["wave_s01_t01.mp4", "wave_s01_t02.mp4"]
    for take, start in zip(first, (5, 20)):
        assert frame_levels(take) == pytest.approx(shown[start:start + 10], abs=3)
    before = {p.name: digest(p) for p in first}

    assert record_cli(source, data, "wave", "--clips", 1, "--seconds", 0.4, "--countdown", 0) == 0
    names = sorted(p.name for p in (data / "wave").iterdir())
    assert names == ["wave_s01_t01.mp4", "wave_s01_t02.mp4", "wave_s02_t01.mp4"]
    assert {p.name: digest(p) for p in first} == before                 # nothing overwritten
    manifest = json.loads((data / "recordings.json").read_text())
    listed = sorted(t for s in manifest["sessions"].values() for t in s["takes"])
    assert listed == [f"wave/{n}" for n in names]


def test_takes_that_end_with_the_source_are_kept(tmp_path):
    """A 2 s source holds exactly two 1 s takes with no countdown, and exactly one after
    a 1 s countdown: the frame that ends a take is its last, not the next take's loss."""
    source = level_video(tmp_path / "camera.avi", 50)
    shown = frame_levels(source)
    assert record_cli(source, tmp_path / "a", "wave", "--clips", 2, "--seconds", 1, "--countdown", 0) == 0
    takes = sorted((tmp_path / "a" / "wave").iterdir())
    assert [frame_levels(t) for t in takes] == [pytest.approx(shown[:25], abs=3), pytest.approx(shown[25:], abs=3)]
    assert record_cli(source, tmp_path / "b", "wave", "--clips", 1, "--seconds", 1, "--countdown", 1) == 0
    assert frame_levels(tmp_path / "b" / "wave" / "wave_s01_t01.mp4") == pytest.approx(shown[25:], abs=3)


def test_a_take_whose_frames_were_dropped_keeps_its_real_duration(tmp_path):
    """A window too slow for the camera drops frames: the take is written at the rate its
    timestamps show, so it plays for as long as it was recorded, not faster."""
    recorder = record.TakeRecorder(tmp_path / "wave", "wave", 1, clips=1, seconds=1.0, countdown=0,
                                   max_side=640)
    for i in range(0, 30, 3):                  # a 30 fps source, 2 of every 3 frames dropped
        recorder.feed(np.full((48, 64, 3), 100, np.uint8), i / 30)
    assert recorder.phase == "done"
    cap = cv2.VideoCapture(str(recorder.saved[0]))
    frames, fps = cap.get(cv2.CAP_PROP_FRAME_COUNT), cap.get(cv2.CAP_PROP_FPS)
    cap.release()
    assert frames == 10 and frames / fps == pytest.approx(1.0, abs=0.02)


def test_a_take_cut_short_by_the_end_of_the_source_is_discarded(tmp_path, capsys):
    source = level_video(tmp_path / "short.avi", 50)           # 2 s: room for 2 takes and a half
    data = tmp_path / "data"
    assert record_cli(source, data, "clap", "--clips", 3, "--seconds", 0.8, "--countdown", 0) == 1
    assert sorted(p.name for p in (data / "clap").iterdir()) == ["clap_s01_t01.mp4", "clap_s01_t02.mp4"]
    assert not hidden_files(data)
    err = capsys.readouterr().err
    assert "take 3 discarded: the source ended" in err and "2 of 3 takes" in err


def test_ctrl_c_mid_take_keeps_only_the_finished_takes(tmp_path):
    source = level_video(tmp_path / "camera.avi", 250)        # 10 s, replayed in real time
    data = tmp_path / "data"
    proc = subprocess.Popen([sys.executable, "-m", "actionrec.cli", "record", "--source", str(source),
                             "--data", str(data), "--label", "jump", "--clips", "5", "--seconds", "1",
                             "--countdown", "0.2", "--headless", "--realtime"], preexec_fn=default_signals,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = data / "jump" / "jump_s01_t01.mp4"
    deadline = time.monotonic() + 60
    while not first.exists() and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.02)
    assert first.exists(), proc.communicate()[1]
    time.sleep(0.7)                                   # 0.2 s countdown, then half of take 2
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert sorted(p.name for p in (data / "jump").iterdir()) == ["jump_s01_t01.mp4"]
    assert "take 2 discarded: interrupted" in err
    assert len(frame_levels(first)) == 25 and not hidden_files(data)


class FakeCamera:
    """A webcam delivering `frames` grey frames at 30 fps, then failing every read;
    `opened=False`: the device cannot be opened."""

    def __init__(self, frames: int = 0, opened: bool = True):
        self.left, self.opened = frames, opened

    def isOpened(self) -> bool:
        return self.opened

    def read(self):
        if self.left <= 0:
            return False, None
        self.left -= 1
        time.sleep(1 / 30)
        return True, np.full((48, 64, 3), 128, np.uint8)

    def release(self) -> None:
        pass


def fake_cameras(monkeypatch, cameras: list[FakeCamera], retry_delay: float = 0.01) -> None:
    handed = iter(cameras)
    monkeypatch.setattr(live, "open_capture", lambda target: next(handed, FakeCamera(opened=False)))
    monkeypatch.setattr(live, "RETRY_DELAY_S", retry_delay)


def test_camera_lost_mid_take_keeps_the_finished_takes_and_exits_1(tmp_path, monkeypatch, capsys):
    fake_cameras(monkeypatch, [FakeCamera(20)])       # ~0.67 s of frames
    data = tmp_path / "data"
    assert record_cli(0, data, "wave", "--clips", 3, "--seconds", 0.3, "--countdown", 0.1) == 1
    assert sorted(p.name for p in (data / "wave").iterdir()) == ["wave_s01_t01.mp4"]
    err = capsys.readouterr().err
    assert "camera 0" in err and "take 2 discarded" in err and not hidden_files(data)


def test_a_gap_in_the_frames_discards_that_take_and_recording_goes_on(tmp_path, monkeypatch, capsys):
    fake_cameras(monkeypatch, [FakeCamera(14), FakeCamera(200)], retry_delay=0.3)
    monkeypatch.setattr(record, "MAX_GAP_S", 0.2)
    data = tmp_path / "data"
    # take 1: 0.1-0.3 s; take 2 starts at 0.4 s and the camera stalls at ~0.47 s for 0.3 s
    assert record_cli(0, data, "wave", "--clips", 3, "--seconds", 0.2, "--countdown", 0.1) == 0
    assert len(list((data / "wave").iterdir())) == 3
    assert "take 2 discarded: frames stopped" in capsys.readouterr().err


@pytest.mark.parametrize("label", ["../escape", "", ".hidden", "two words"])
def test_a_label_that_cannot_be_a_folder_name_is_refused(tmp_path, label, capsys):
    source = level_video(tmp_path / "camera.avi", 30)
    assert record_cli(source, tmp_path / "data", label) == 2
    assert f"label {label!r}" in capsys.readouterr().err
    assert not (tmp_path / "data").exists()


def test_a_missing_source_file_is_named(tmp_path, capsys):
    missing = tmp_path / "no_camera.mp4"
    assert record_cli(missing, tmp_path / "data", "wave") == 2
    assert str(missing) in capsys.readouterr().err


def test_a_take_left_half_written_by_a_killed_run_is_removed(tmp_path):
    data = tmp_path / "data"
    (data / "wave").mkdir(parents=True)
    (data / "wave" / ".wave_s01_t03.tmp.mp4").write_bytes(b"half a take")
    assert record_cli(level_video(tmp_path / "camera.avi", 30), data, "wave", "--clips", 1,
                      "--seconds", 0.8, "--countdown", 0) == 0
    assert not hidden_files(data)
    assert [p.name for p in (data / "wave").iterdir()] == ["wave_s01_t01.mp4"]


def test_a_session_recorded_again_after_its_takes_were_deleted_is_listed_once(tmp_path):
    source, data = level_video(tmp_path / "camera.avi", 30), tmp_path / "data"
    for _ in range(2):
        assert record_cli(source, data, "wave", "--clips", 1, "--seconds", 0.4, "--countdown", 0) == 0
        (data / "wave" / "wave_s01_t01.mp4").unlink()
    manifest = json.loads((data / "recordings.json").read_text())
    assert manifest["sessions"]["wave_s01"]["takes"] == ["wave/wave_s01_t01.mp4"]


def test_an_unreadable_manifest_is_named_and_started_again(tmp_path, capsys):
    data = tmp_path / "data"
    data.mkdir()
    (data / "recordings.json").write_text("{not json")
    assert record_cli(level_video(tmp_path / "camera.avi", 30), data, "wave", "--clips", 1,
                      "--seconds", 0.4, "--countdown", 0) == 0
    assert f"{data / 'recordings.json'}: unreadable" in capsys.readouterr().err
    manifest = json.loads((data / "recordings.json").read_text())
    assert manifest["sessions"]["wave_s01"]["takes"] == ["wave/wave_s01_t01.mp4"]


# ---------------------------------------------------------------- record -> train -> live

def live_steps(bundle_path: Path, video: Path, stats: Path) -> dict:
    """`actionrec live` headless on `video`: labelled steps per label (None: no action),
    after the first window has filled."""
    assert main(["live", "--bundle", str(bundle_path), "--source", str(video), "--headless",
                 "--stats", str(stats)]) == 0
    warming = load_bundle(bundle_path).sampling["clip_steps"] - 1       # steps before the first window
    steps: dict = {}
    for run in json.loads(stats.read_text())["timeline"]:
        counted = max(0, run["steps"] - warming)
        warming = max(0, warming - run["steps"])
        steps[run["label"]] = steps.get(run["label"], 0) + counted
    return steps


@pytest.mark.slow
def test_record_three_actions_and_none_train_and_go_live(tmp_path, capsys):
    """The README's path, shrunk: 3 actions and the empty room ("none") x 5 takes of 2 s,
    each recorded in one room from a video standing in for the camera, `actionrec train`
    with no config (it picks `personal`), then `actionrec live` headless on new
    performances: the action is named, and the empty room shows no action."""
    data = tmp_path / "mine"
    for action in (*ACTIONS, "none"):
        camera = write_video(tmp_path / f"{action}.avi",
                             render_performance(action, 13.0, FPS, (96, 128), scene=0, seed=0), FPS)
        assert record_cli(camera, data, action, "--clips", 5, "--seconds", 2, "--countdown", 0.5) == 0
    bundle_path = tmp_path / "mine.safetensors"
    capsys.readouterr()
    code = main(["train", "--data", str(data), "--out", str(bundle_path), "--quiet",
                 "--set", "backbone.crop_size=112", "--set", "train.epochs=25",
                 "--set", f"cache.dir={tmp_path / 'cache'}", "--set", f"logging.run_dir={tmp_path / 'runs'}",
                 "--set", "logging.wandb=disabled"])
    out, err = capsys.readouterr()
    assert code == 0
    assert re.search(r"^config:\s+personal$", out, re.M) and "held-out test videos" in out
    bundle = load_bundle(bundle_path)
    assert bundle.class_names == sorted((*ACTIONS, "none")) and bundle.background_class == "none"
    assert bundle.meta["data"]["single_group"] == "videos"
    assert bundle.meta["training"]["refit_videos"] == 20                # the final head saw every take
    held_out = json.loads((Path(out.split("metrics: ")[-1].split()[0])).read_text())
    assert held_out["num_videos"] == 4 and held_out["top1"] >= 3 / 4
    with pytest.warns(UserWarning, match=r"trained again on every video .* not held out \(held-out top-1"):
        assert main(["evaluate", "--bundle", str(bundle_path), "--data", str(data), "--quiet",
                     "--set", f"cache.dir={tmp_path / 'cache'}", "--json", str(tmp_path / "eval.json")]) == 0

    performed = write_video(tmp_path / "new_slide.avi",
                            render_performance("slide_left", 6.0, FPS, (96, 128), scene=0, seed=1), FPS)
    steps = live_steps(bundle_path, performed, tmp_path / "slide.json")
    assert max(steps, key=steps.get) == "slide_left", steps
    empty = write_video(tmp_path / "empty.avi", render_performance("none", 6.0, FPS, (96, 128), scene=0, seed=1),
                        FPS)
    steps = live_steps(bundle_path, empty, tmp_path / "empty.json")
    assert steps.get(None, 0) > 0.8 * sum(steps.values()), steps     # "no action", not a guess


# ---------------------------------------------------------------- the real window under Xvfb

REC_RED, COUNTDOWN_YELLOW = np.array(record.REC_RED), np.array(record.COUNTDOWN_YELLOW)


def colour_pixels(image: np.ndarray, colour: np.ndarray) -> int:
    return int(np.all(image[..., :3] == colour, axis=-1).sum())


@pytest.mark.slow
def test_window_counts_down_shows_recording_and_q_discards_the_take(tmp_path, xvfb_display):
    from x11 import grab, press_key
    frames = np.full((240, 320, 3), 90, np.uint8)
    source = write_video(tmp_path / "camera.avi", (frames for _ in range(600)), FPS)   # 24 s, grey
    data = tmp_path / "data"
    env = {**os.environ, "DISPLAY": xvfb_display, "QT_QPA_PLATFORM": "xcb"}
    proc = subprocess.Popen([sys.executable, "-m", "actionrec.cli", "record", "--source", str(source),
                             "--data", str(data), "--label", "wave", "--clips", "5", "--seconds", "2",
                             "--countdown", "3"], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        seen = {"countdown": None, "recording": None}
        deadline = time.monotonic() + 60
        while any(v is None for v in seen.values()) and time.monotonic() < deadline and proc.poll() is None:
            shot = grab(xvfb_display)
            if colour_pixels(shot, REC_RED) > 200 and seen["countdown"] is not None:
                seen["recording"] = shot
            elif colour_pixels(shot, COUNTDOWN_YELLOW) > 200:
                seen["countdown"] = shot
            time.sleep(0.1)
        for name, shot in seen.items():
            if shot is not None:
                cv2.imwrite(str(tmp_path / f"record_{name}.png"), cv2.cvtColor(shot, cv2.COLOR_RGB2BGR))
        if seen["countdown"] is None or seen["recording"] is None:
            if proc.poll() is None:
                proc.kill()
            said = proc.communicate(timeout=30)[0].decode()[-3000:]
            pytest.fail(f"window never showed both phases (screenshots in {tmp_path}; exit code "
                        f"{proc.returncode}); the command said:\n{said}")
        rows, cols = np.nonzero(seen["recording"].max(axis=-1) > 0)
        press_key(xvfb_display, "q", int(cols.min()) + 100, int(rows.min()) + 100)    # mid-take 1
        output = proc.communicate(timeout=30)[0].decode()
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, output
    assert "take 1 discarded: stopped (q/Esc)" in output
    assert not (data / "wave").exists() or not any((data / "wave").iterdir())


def test_the_summary_suggests_a_none_class_once_two_actions_are_recorded_until_one_is(tmp_path, capsys):
    """With two actions and no `none` class, live names the nearest action whatever the
    person does: the summary says how to record one, and stops saying it once it exists."""
    source = level_video(tmp_path / "camera.avi", 30)
    data = tmp_path / "data"
    hints = []
    for label in ("wave", "clap", "none"):
        assert record_cli(source, data, label, "--clips", 1, "--seconds", 0.4, "--countdown", 0) == 0
        hints.append("no 'none' class" in capsys.readouterr().out)
    assert hints == [False, True, False]
    assert record_cli(source, data, "jump", "--clips", 1, "--seconds", 0.4, "--countdown", 0,
                      "--set", "data.background_class=idle") == 0
    assert "record yourself standing and walking about with --label idle" in capsys.readouterr().out
