import os

import numpy as np
import pytest
import torch

from actionrec.backbone import Backbone
from actionrec.features import FeatureCache, FeatureExtractor, TorchEncoder, cache_key
from actionrec.sampling import timeline_indices
from actionrec.synthetic import write_video
from actionrec.transforms import Preprocess
from actionrec.video_io import open_video


@pytest.fixture(scope="module")
def backbone():
    return Backbone("mobilenet_v2")


class CountingEncoder(TorchEncoder):
    frames = 0

    def __call__(self, frames):
        CountingEncoder.frames += len(frames)
        return super().__call__(frames)


def videos(root, n=3, frames=20):
    rng = np.random.default_rng(0)
    return [write_video(root / f"v{i}.avi", rng.integers(0, 255, (frames, 48, 64, 3), dtype=np.uint8))
            for i in range(n)]


def make(backbone, tmp_path, crop=64, fps=8.0):
    pre = Preprocess(crop, crop, "squash")
    cache = FeatureCache(tmp_path / "cache", cache_key(backbone, pre, fps))
    return FeatureExtractor(CountingEncoder(backbone), pre, fps, batch_size=8), cache


def test_cached_features_equal_the_backbone_on_the_timeline_frames(backbone, tmp_path):
    (path,) = videos(tmp_path, n=1)
    extractor, cache = make(backbone, tmp_path)
    report = extractor.run([path], cache)
    assert report.extracted == [str(path)] and not report.failed
    feats = cache.load(path)
    with open_video(path) as reader:
        steps = timeline_indices(reader.num_frames, reader.fps, 8.0)
        frames = reader.get_frames(steps)
    assert feats.shape == (len(steps), 1, 1280) and feats.dtype == np.float16
    with torch.inference_mode():
        direct = backbone.forward_frames(torch.from_numpy(Preprocess(64, 64, "squash")(frames))).numpy()
    np.testing.assert_allclose(feats.astype(np.float32), direct, rtol=1e-2, atol=1e-2)


def test_second_run_reuses_the_cache_without_decoding(backbone, tmp_path):
    paths = videos(tmp_path)
    extractor, cache = make(backbone, tmp_path)
    extractor.run(paths, cache)
    CountingEncoder.frames = 0
    report = extractor.run(paths, cache)
    assert CountingEncoder.frames == 0
    assert sorted(report.reused) == sorted(map(str, paths)) and not report.extracted


def test_interrupted_run_resumes_with_only_the_missing_videos(backbone, tmp_path):
    paths = videos(tmp_path, n=4)
    extractor, cache = make(backbone, tmp_path)
    extractor.run(paths[:2], cache)
    # a crash mid-write leaves only a temporary file, never a half entry
    (cache.dir / ".deadbeef.123.tmp.npy").write_bytes(b"partial")
    report = extractor.run(paths, cache)
    assert sorted(report.extracted) == sorted(map(str, paths[2:]))
    assert len(report.reused) == 2


def test_changing_preprocessing_or_the_video_invalidates(backbone, tmp_path):
    (path,) = videos(tmp_path, n=1)
    extractor, cache = make(backbone, tmp_path, crop=64)
    extractor.run([path], cache)
    other_extractor, other_cache = make(backbone, tmp_path, crop=96)
    assert other_cache.dir != cache.dir and not other_cache.has(path)
    # rewrite the video: new size/mtime -> new entry
    write_video(path, np.zeros((30, 48, 64, 3), np.uint8))
    os.utime(path, ns=(1, 10**18))
    assert not cache.has(path)
    report = extractor.run([path], cache)
    assert report.extracted == [str(path)]
    assert len(cache.load(path)) == len(timeline_indices(30, 25.0, 8.0))


def test_unreadable_video_is_reported_and_the_rest_extracted(backbone, tmp_path):
    paths = videos(tmp_path, n=2)
    broken = tmp_path / "broken.avi"
    broken.write_bytes(os.urandom(2000))
    empty = tmp_path / "empty.avi"
    empty.write_bytes(b"")
    extractor, cache = make(backbone, tmp_path)
    report = extractor.run([paths[0], broken, empty, paths[1]], cache)
    assert sorted(report.extracted) == sorted(map(str, paths))
    assert set(report.failed) == {str(broken), str(empty)}
    assert all(report.failed.values())


class ChangingEncoder(CountingEncoder):
    """On its first batch, removes one video and rewrites another, as a user tidying the
    dataset folder during a long extraction would."""

    def __init__(self, backbone, removed, rewritten):
        super().__init__(backbone)
        self.removed, self.rewritten = removed, rewritten

    def __call__(self, frames):
        if self.removed.exists():
            self.removed.unlink()
            write_video(self.rewritten, np.zeros((12, 48, 64, 3), np.uint8))
        return super().__call__(frames)


def test_a_video_removed_or_rewritten_during_extraction_is_named_and_the_rest_extracted(backbone, tmp_path):
    paths = videos(tmp_path, n=4)
    pre = Preprocess(64, 64, "squash")
    cache = FeatureCache(tmp_path / "cache", cache_key(backbone, pre, 8.0))
    extractor = FeatureExtractor(ChangingEncoder(backbone, paths[0], paths[1]), pre, 8.0, batch_size=8)
    report = extractor.run(paths, cache)
    assert sorted(report.extracted) == sorted(map(str, paths[2:]))
    assert set(report.failed) == {str(paths[0]), str(paths[1])}
    assert str(paths[0]) in report.failed[str(paths[0])] and "rewritten" in report.failed[str(paths[1])]
    assert not cache.has(paths[1])          # the old file's features are not the new file's
    assert extractor.run(paths[1:], cache).extracted == [str(paths[1])]
    assert len(cache.load(paths[1])) == len(timeline_indices(12, 25.0, 8.0))


def test_onnx_encoder_matches_pytorch_and_is_reused(backbone, tmp_path):
    from actionrec.features import OnnxEncoder
    grid = Backbone("mobilenet_v2", pooling="grid", grid=3)
    enc = OnnxEncoder(grid, model_dir=tmp_path / "onnx")
    frames = np.random.default_rng(0).integers(0, 256, (3, 128, 128, 3), dtype=np.uint8)
    with torch.inference_mode():
        expected = grid.forward_frames(torch.from_numpy(frames)).numpy()
    got = enc(frames)
    diff = float(np.abs(got - expected).max())
    print(f"ONNX vs PyTorch max abs difference: {diff:.2e} (self-check {enc.max_abs_diff:.2e})")
    assert got.shape == (3, 9, 1280) and diff < 1e-3
    exported = list((tmp_path / "onnx").glob("*.onnx"))
    assert [p.name for p in exported] == ["mobilenet_v2-IMAGENET1K_V1-grid3-128x128.onnx"]
    mtime = exported[0].stat().st_mtime_ns
    OnnxEncoder(grid, model_dir=tmp_path / "onnx")(frames)      # a second encoder reuses the file
    assert exported[0].stat().st_mtime_ns == mtime


def test_auto_runtime_falls_back_to_pytorch_when_onnx_breaks(backbone, tmp_path):
    from actionrec.features import OnnxEncoder
    enc = OnnxEncoder(backbone, model_dir=tmp_path / "onnx", fallback=True)
    enc.export = lambda *a: (_ for _ in ()).throw(RuntimeError("exporter exploded"))
    frames = np.random.default_rng(0).integers(0, 256, (2, 64, 64, 3), dtype=np.uint8)
    with pytest.warns(UserWarning, match="exporter exploded"):
        got = enc(frames)
    with torch.inference_mode():
        np.testing.assert_allclose(got, backbone.forward_frames(torch.from_numpy(frames)).numpy(), atol=1e-5)


class SplittingEncoder(TorchEncoder):
    """A PyTorch encoder that can `split` into lanes, each remembering what it encoded."""

    def __init__(self, backbone):
        super().__init__(backbone)
        self.calls = 0

    def __call__(self, frames):
        self.calls += 1
        return super().__call__(frames)

    def split(self, count):
        self.lanes = [SplittingEncoder(self.backbone) for _ in range(count)]
        return self.lanes


def test_videos_extracted_side_by_side_equal_one_at_a_time_and_every_failure_is_named(backbone, tmp_path):
    paths = videos(tmp_path, n=5)
    broken = tmp_path / "broken.avi"
    broken.write_bytes(os.urandom(2000))
    pre = Preprocess(64, 64, "squash")
    one, one_cache = make(backbone, tmp_path)
    one.run(paths, one_cache)
    encoder = SplittingEncoder(backbone)
    side_by_side = FeatureExtractor(encoder, pre, 8.0, batch_size=8, parallel_videos=2)
    cache = FeatureCache(tmp_path / "lanes", cache_key(backbone, pre, 8.0))
    done = []
    report = side_by_side.run([paths[0], broken, *paths[1:]], cache, done.append)
    assert sorted(report.extracted) == sorted(map(str, paths)) and list(report.failed) == [str(broken)]
    assert sum(done) == 6 and report.frames == sum(len(one_cache.load(p)) for p in paths)
    assert all(lane.calls > 0 for lane in encoder.lanes) and encoder.calls == 0
    for path in paths:
        np.testing.assert_array_equal(cache.load(path), one_cache.load(path))


def test_onnx_lanes_share_one_export_and_split_the_threads(tmp_path):
    from concurrent.futures import ThreadPoolExecutor

    from actionrec.features import OnnxEncoder, parallel_videos
    grid = Backbone("mobilenet_v2", pooling="grid", grid=3)
    encoder = OnnxEncoder(grid, model_dir=tmp_path / "onnx", threads=2)
    lanes = encoder.split(2)
    assert [lane.threads for lane in lanes] == [1, 1]
    assert parallel_videos("auto", encoder) == min(4, torch.get_num_threads())
    assert parallel_videos("auto", TorchEncoder(grid)) == 1 and parallel_videos(3, encoder) == 3
    frames = np.random.default_rng(0).integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    with ThreadPoolExecutor(2) as pool:      # both start at once, before any export exists
        got = list(pool.map(lambda lane: lane(frames), lanes))
    assert len(list((tmp_path / "onnx").glob("*.onnx"))) == 1
    np.testing.assert_allclose(got[0], got[1], atol=1e-4)


class FailingLane(SplittingEncoder):
    """Lanes of which the last fails on its first batch."""

    def split(self, count):
        self.lanes = [SplittingEncoder(self.backbone) for _ in range(count)]
        self.lanes[-1].__class__ = type("Broken", (SplittingEncoder,), {
            "__call__": lambda lane, frames: (_ for _ in ()).throw(RuntimeError("encoder died"))})
        return self.lanes


def test_a_failing_lane_stops_the_others_after_their_current_video(backbone, tmp_path):
    paths = videos(tmp_path, n=12)
    pre = Preprocess(64, 64, "squash")
    extractor = FeatureExtractor(FailingLane(backbone), pre, 8.0, batch_size=8, parallel_videos=2)
    cache = FeatureCache(tmp_path / "lanes", cache_key(backbone, pre, 8.0))
    with pytest.raises(RuntimeError, match="encoder died"):
        extractor.run(paths, cache)
    done = [p for p in paths if cache.has(p)]
    assert len(done) <= 2                   # not the whole queue
    assert all(cache.problem(p) is None for p in done)   # what was written is whole


def test_two_paths_to_one_video_are_extracted_once(backbone, tmp_path):
    (path,) = videos(tmp_path, n=1)
    other = tmp_path / "sub"
    other.mkdir()
    alias = other / ".." / path.name
    encoder = SplittingEncoder(backbone)
    pre = Preprocess(64, 64, "squash")
    extractor = FeatureExtractor(encoder, pre, 8.0, batch_size=8, parallel_videos=2)
    report = extractor.run([path, alias], FeatureCache(tmp_path / "c", cache_key(backbone, pre, 8.0)))
    assert report.extracted == [str(path)] and not report.failed and encoder.calls == 1
