import numpy as np
import pytest

from actionrec.sampling import eval_clips, segment_indices, strided_indices, timeline_indices, train_clip


def test_timeline_same_steps_per_second_whatever_the_source_fps():
    # 4 s of video at 25 fps and at 30 fps sample to the same number of steps at 8 fps
    a = timeline_indices(100, 25.0, 8.0)
    b = timeline_indices(120, 30.0, 8.0)
    assert len(a) == len(b) == 32
    # and the steps fall at the same times (within one source frame)
    np.testing.assert_allclose(a / 25.0, b / 30.0, atol=1 / 25)


def test_timeline_uses_every_frame_when_source_is_slower():
    np.testing.assert_array_equal(timeline_indices(10, 5.0, 8.0), np.arange(10))
    np.testing.assert_array_equal(timeline_indices(10, 25.0, None), np.arange(10))


def test_timeline_stays_inside_the_video():
    for n in (1, 2, 7, 53):
        idx = timeline_indices(n, 29.97, 8.0)
        assert idx.min() >= 0 and idx.max() < n and np.all(np.diff(idx) >= 0)


def test_segments_take_one_step_from_each_segment_in_order():
    rng = np.random.default_rng(0)
    idx = segment_indices(64, 8, rng)
    assert len(idx) == 8
    assert np.all(idx // 8 == np.arange(8))      # one per segment of 8 steps, in time order


def test_segments_are_random_in_training_and_fixed_in_evaluation():
    rng = np.random.default_rng(0)
    draws = {tuple(segment_indices(100, 8, rng)) for _ in range(20)}
    assert len(draws) > 1
    assert tuple(segment_indices(100, 8)) == tuple(segment_indices(100, 8))


def test_short_video_is_padded_by_holding_its_last_step():
    rng = np.random.default_rng(0)
    for mode in ("segments", "strided"):
        idx = train_clip(5, 8, mode, rng)
        np.testing.assert_array_equal(idx, [0, 1, 2, 3, 4, 4, 4, 4])
        clips = eval_clips(5, 8, mode, num_clips=3)
        assert clips.shape == (3, 8) and clips.max() == 4


def test_strided_clip_is_a_contiguous_window():
    rng = np.random.default_rng(1)
    idx = strided_indices(50, 6, stride=2, rng=rng)
    assert np.all(np.diff(idx) == 2) and idx[-1] < 50


def test_eval_clips_spread_over_the_video():
    clips = eval_clips(100, 10, "strided", num_clips=3)
    starts = clips[:, 0]
    assert starts[0] < 20 and starts[-1] > 70 and np.all(np.diff(starts) > 0)
    seg = eval_clips(100, 10, "segments", num_clips=2)
    assert not np.array_equal(seg[0], seg[1])


def test_unknown_mode_names_the_choices():
    with pytest.raises(ValueError, match="segments, strided"):
        train_clip(10, 4, "random", np.random.default_rng(0))


def test_temporal_crop_spans_at_least_the_asked_fraction_and_stays_inside():
    from actionrec.sampling import random_span
    rng = np.random.default_rng(0)
    spans = [random_span(24, 0.6, rng) for _ in range(500)]
    assert all(15 <= length <= 24 and 0 <= start and start + length <= 24 for start, length in spans)
    assert len({s for s in spans}) > 20                       # really random: starts and lengths vary
    assert random_span(24, 1.0, rng) == (0, 24)
    clips = [train_clip(24, 6, "segments", rng, min_span=0.5) for _ in range(200)]
    assert all(np.all(np.diff(c) >= 0) and c[0] >= 0 and c[-1] < 24 for c in clips)
    assert max(c[-1] - c[0] for c in clips) > 15 and min(c[-1] - c[0] for c in clips) < 12
