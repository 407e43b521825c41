"""The demo's synthetic actions and the UCF-layout dataset written from them."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from actionrec import synthetic
from actionrec.datasets import load_dataset
from actionrec.synthetic import (DEMO_CLASSES, group_background, make_ucf_dataset, render_clip,
                                 write_video)

SIZE = (64, 80)  # (H, W)


def object_masks(clip: np.ndarray, background: np.ndarray) -> np.ndarray:
    """`(T, H, W)` bool: where a frame differs clearly from the known background."""
    diff = np.abs(clip.astype(np.int16) - background.astype(np.int16)).max(axis=-1)
    return diff > 40


def centroids(masks: np.ndarray) -> np.ndarray:
    """`(T, 2)` (x, y) centroid of each mask."""
    out = []
    for mask in masks:
        ys, xs = np.nonzero(mask)
        out.append((xs.mean(), ys.mean()))
    return np.array(out)


def clip_on_known_background(action: str, seed: int, num_frames: int = 24):
    background = group_background(np.random.default_rng(1000 + seed), SIZE)
    clip = render_clip(action, np.random.default_rng(seed), SIZE, num_frames, background)
    return clip, background


def read_frames(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    cap.release()
    return frames


# ---------------------------------------------------------------- clips

@pytest.mark.parametrize("forward, backward", [("grow", "shrink"), ("slide_left", "slide_right"),
                                               ("turn_clockwise", "turn_anticlockwise")])
def test_reversed_action_is_the_same_clip_played_backwards(forward, backward):
    a = render_clip(forward, np.random.default_rng(7), SIZE, 16)
    b = render_clip(backward, np.random.default_rng(7), SIZE, 16)
    assert a.shape == (16, *SIZE, 3) and a.dtype == np.uint8
    assert np.array_equal(b, a[::-1])
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("seed", range(5))
def test_slide_left_moves_the_object_left_and_slide_right_moves_it_right(seed):
    for action, sign in (("slide_left", -1), ("slide_right", 1)):
        clip, background = clip_on_known_background(action, seed)
        xs = centroids(object_masks(clip, background))[:, 0]
        assert sign * (xs[-1] - xs[0]) > 0.3 * SIZE[1], (action, xs)


@pytest.mark.parametrize("seed", range(5))
def test_grow_enlarges_the_object(seed):
    clip, background = clip_on_known_background("grow", seed)
    area = object_masks(clip, background).sum(axis=(1, 2))
    assert area[-1] > 4 * area[0]


@pytest.mark.parametrize("seed", range(5))
def test_turn_direction_is_visible(seed):
    for action, sign in (("turn_clockwise", 1), ("turn_anticlockwise", -1)):
        clip, background = clip_on_known_background(action, seed)
        xy = centroids(object_masks(clip, background)) - (SIZE[1] / 2, SIZE[0] / 2)
        angle = np.unwrap(np.arctan2(xy[:, 1], xy[:, 0]))  # image y points down: clockwise grows
        assert sign * (angle[-1] - angle[0]) > np.radians(120), (action, np.degrees(angle))


def test_unknown_action_lists_the_known_ones():
    with pytest.raises(ValueError, match="unknown action 'jump'.*grow, shrink, slide_left"):
        render_clip("jump", np.random.default_rng(0))


def test_written_clip_reads_back_with_its_frame_count_and_size(tmp_path):
    clip = render_clip("grow", np.random.default_rng(0), SIZE, 12)
    frames = read_frames(write_video(tmp_path / "grow.avi", clip, fps=25))
    assert len(frames) == 12 and frames[0].shape == (*SIZE, 3)
    rgb = cv2.cvtColor(frames[6], cv2.COLOR_BGR2RGB).astype(np.int16)
    assert np.abs(rgb - clip[6]).mean() < 8  # MJPG is lossy, but close


# ---------------------------------------------------------------- dataset

SMALL = dict(groups=5, clips_per_group=2, num_frames=8, size=(48, 64), test_groups=2)


@pytest.fixture(scope="module")
def demo_root(tmp_path_factory):
    return make_ucf_dataset(tmp_path_factory.mktemp("demo") / "data", **SMALL)


def test_demo_dataset_loads_as_ucf101_with_held_out_test_groups(demo_root):
    split = load_dataset(demo_root)
    assert split.layout == "ucf101"
    assert split.class_names == list(DEMO_CLASSES)
    assert len(split.test) == 6 * 2 * 2
    assert len(split.train) + len(split.val) == 6 * 3 * 2
    assert {i.group for i in split.test} == {"g01", "g02"}
    assert not {"g01", "g02"} & {i.group for i in split.train + split.val}
    for item in split.test:
        assert item.path.parent.name == DEMO_CLASSES[item.label]


def test_demo_dataset_uses_ucf_line_formats(demo_root):
    lists = demo_root / "ucfTrainTestlist"
    assert (lists / "classInd.txt").read_text().splitlines()[:2] == ["1 grow", "2 shrink"]
    assert "shrink/v_shrink_g03_c01.avi 2" in (lists / "trainlist01.txt").read_text().splitlines()
    assert "shrink/v_shrink_g01_c02.avi" in (lists / "testlist01.txt").read_text().splitlines()


def test_demo_videos_decode_with_the_requested_shape(demo_root):
    frames = read_frames(demo_root / "turn_clockwise" / "v_turn_clockwise_g04_c02.avi")
    assert len(frames) == 8 and frames[0].shape == (48, 64, 3)


def test_second_call_writes_nothing(demo_root, monkeypatch):
    before = {p: p.stat().st_mtime_ns for p in demo_root.rglob("*")}

    def no_writes(*args, **kwargs):
        raise AssertionError("make_ucf_dataset rewrote a complete dataset")

    monkeypatch.setattr(synthetic, "write_video", no_writes)
    assert make_ucf_dataset(demo_root, **SMALL) == demo_root
    assert {p: p.stat().st_mtime_ns for p in demo_root.rglob("*")} == before


def test_incomplete_dataset_is_rewritten_identically(demo_root, tmp_path):
    copy = make_ucf_dataset(tmp_path / "again", **SMALL)
    video = "slide_left/v_slide_left_g03_c01.avi"
    assert (copy / video).read_bytes() == (demo_root / video).read_bytes()
    (copy / ".complete").unlink()
    (copy / video).unlink()
    make_ucf_dataset(copy, **SMALL)
    assert (copy / video).read_bytes() == (demo_root / video).read_bytes()
    assert (copy / ".complete").read_text() == (demo_root / ".complete").read_text()


def test_other_arguments_are_not_mistaken_for_a_complete_dataset(demo_root, tmp_path):
    root = make_ucf_dataset(tmp_path / "d", **SMALL)
    make_ucf_dataset(root, **{**SMALL, "seed": 1})
    video = "grow/v_grow_g01_c01.avi"
    assert (root / video).read_bytes() != (demo_root / video).read_bytes()


def test_groups_share_a_scene_and_differ_between_groups(demo_root):
    def first_frame(name):
        return read_frames(demo_root / name)[0].astype(np.int16)

    same = np.abs(first_frame("grow/v_grow_g03_c01.avi") - first_frame("slide_left/v_slide_left_g03_c02.avi"))
    other = np.abs(first_frame("grow/v_grow_g03_c01.avi") - first_frame("grow/v_grow_g04_c01.avi"))
    assert np.median(same) < np.median(other)


def test_regenerating_with_fewer_classes_still_loads(tmp_path):
    from actionrec.datasets import load_dataset
    root = tmp_path / "UCF"
    make_ucf_dataset(root, classes=("grow", "shrink", "slide_left"), groups=3, clips_per_group=1,
                     num_frames=4, size=(32, 32), test_groups=1)
    (root / "notes").mkdir()
    (root / "notes" / "mine.txt").write_text("a user's file")
    make_ucf_dataset(root, classes=("grow", "shrink"), groups=3, clips_per_group=1,
                     num_frames=4, size=(32, 32), test_groups=1)
    assert not (root / "slide_left").exists()
    assert (root / "notes" / "mine.txt").is_file()          # not ours: left alone
