"""The taught-actions benchmark records its takes as `actionrec record` would, whatever
the source clips' frame rate."""

import sys
from pathlib import Path

import numpy as np
import pytest

from actionrec.synthetic import render_clip, write_video
from actionrec.video_io import open_video

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_personal_real  # noqa: E402


@pytest.mark.parametrize("fps", [25.0, 24000 / 1001])
def test_takes_of_two_seconds_are_recorded_back_to_back_from_clips_of_any_rate(tmp_path, fps):
    """At 23.976 frames/s, 2 s is no whole number of frames: the recorder's next take
    starts one frame after the last one's end, so each clip must start there too."""
    sources = [write_video(tmp_path / f"clip{i}.mp4",
                           render_clip("grow", np.random.default_rng(i), size=(96, 128), num_frames=60), fps)
               for i in range(3)]
    takes = bench_personal_real.record_takes(sources, tmp_path / "mine" / "wave", "wave", 1, 2.0)
    assert [p.name for p in takes] == ["wave_s01_t01.mp4", "wave_s01_t02.mp4", "wave_s01_t03.mp4"]
    for take in takes:
        with open_video(take) as reader:
            assert reader.num_frames / reader.fps == pytest.approx(2.0, abs=1.5 / fps)
