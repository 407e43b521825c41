"""The stand-in temporal generator (`scripts/make_temporal_set.py`): its two profiles."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import make_temporal_set as gen

W, H = 160, 120


def plan(profile: str, kind: str, clip: int):
    scene = gen.make_scene(7, 1, W, H, profile)
    return gen.clip_plan(scene, kind, gen.rng_for(7, gen.CLIP_TAG, 1, 0, clip), W, H, profile)


@pytest.mark.parametrize("clip", range(4))
def test_plain_turns_sweep_an_arc_about_the_frame_centre_and_nothing_else_moves(clip):
    p = plan("plain", "turn", clip)
    assert p["distractor"] is None
    centre = np.array([p["x"].mean(), p["y"].mean()])
    radius = np.hypot(p["x"] - (p["x"].max() + p["x"].min()) / 2, p["y"] - (p["y"].max() + p["y"].min()) / 2)
    assert np.abs(centre - (W / 2, H / 2)).max() < 0.3 * H
    assert 0.15 * H < radius.max() < 0.4 * H
    angle = np.unwrap(np.arctan2(p["y"] - centre[1], p["x"] - centre[0]))
    assert angle[-1] - angle[0] > np.radians(120)      # clockwise on screen (y down)


def test_plain_grows_by_a_large_factor_and_hard_keeps_its_distractors():
    grow = plan("plain", "grow", 0)
    assert grow["d"][-1] / grow["d"][0] >= 2.4
    assert np.ptp(grow["x"]) == 0 and np.ptp(grow["y"]) == 0          # no drift in plain
    assert any(plan("hard", "slide", c)["distractor"] is not None for c in range(6))


def test_the_script_writes_a_plain_set_in_ucf101_layout(tmp_path):
    assert gen.main(["--root", str(tmp_path), "--groups", "2", "--clips-per-group", "1", "--test-groups", "1",
                     "--size", "64x48", "--profile", "plain", "--workers", "1"]) == 0
    lists = tmp_path / "ucfTrainTestlist"
    assert len((lists / "trainlist01.txt").read_text().splitlines()) == 6
    assert len((lists / "testlist01.txt").read_text().splitlines()) == 6
    assert gen.count_frames(tmp_path / "grow" / "v_grow_g02_c01.avi") >= 40
