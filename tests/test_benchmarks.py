"""The extraction benchmark's small version: it runs end to end on both sides, and its
JSON holds together (the same frames on both sides, the ratio of the two rates, the CPU
cost of a frame counted over every thread)."""

import json
import sys
from pathlib import Path

import pytest

from actionrec.config import load_config
from actionrec.transforms import Preprocess

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import bench_extraction  # noqa: E402

pytestmark = pytest.mark.slow


def test_extraction_benchmark_measures_both_sides_on_the_same_frames(tmp_path):
    out = tmp_path / "extraction.json"
    bench_extraction.main(["--videos", "2", "--seconds", "1", "--repeats", "1", "--json", str(out)])
    result = json.loads(out.read_text())
    assert result["frames"] == result["naive_frames"] == 2 * 25
    # ours runs the default config's preprocessing, and says which: the naive side stays at 224
    b = load_config().backbone
    crop = Preprocess.for_backbone(b.name, b.resize_size, b.crop_size, b.resize_mode).crop_size
    assert result["input"] == f"{crop}x{crop} ({b.resize_mode})", result
    assert result["ratio"] == pytest.approx(result["ours_fps"] / result["naive_fps"], abs=0.01)
    # extraction keeps at least one core busy, in the lanes' and decode threads rather than
    # the one that waits for them: counted over one thread, a frame would cost next to nothing
    wall_ms_per_frame = 1000 / result["ours_fps"]
    assert result["ours_cpu_ms_per_frame"] >= 0.5 * wall_ms_per_frame, result
    assert result["ours_ceiling_fps"] >= result["ours_fps"] * 0.9, result
