import numpy as np
import pytest
import torch

from actionrec.bundle import Bundle
from actionrec.model import LSTMHead
from actionrec.streaming import FrameGate, StreamingRecognizer
from actionrec.transforms import Preprocess


class FakeEncoder:
    """Deterministic per-frame features from the frame's mean colour: (1, S, D)."""
    def __init__(self, cells=4, dim=8):
        g = torch.Generator().manual_seed(0)
        self.proj = torch.randn(3, cells * dim, generator=g)
        self.cells, self.dim = cells, dim

    def __call__(self, x):          # (N, H, W, 3) uint8
        mean = torch.from_numpy(x).float().mean(dim=(1, 2)) / 255
        return (mean @ self.proj).view(len(x), self.cells, self.dim).numpy()


class PoseGapsEncoder(FakeEncoder):
    """`FakeEncoder` whose last 4 channels (a pose) miss a landmark (`pose.UNSEEN`) or the
    whole person (`present` 0) in some frames, chosen by the frame's colour."""
    def __call__(self, x):
        from actionrec.pose import UNSEEN
        out = super().__call__(x)
        shade = (np.asarray(x).mean(axis=(1, 2, 3)) * 7).astype(int)
        out[shade % 3 == 0, :, -3] = UNSEEN
        out[shade % 5 == 0, :, -4:] = 0.0
        return out


def make_bundle(deltas=False, clip_steps=4, fps=5.0, stream_stride=1, probe=False, pose=False, heads=1):
    """With `pose`, the encoder's last 7 channels are read as 3 flow and 4 pose channels:
    three streams, the pose's mixed with its window statistics. `heads` > 1: an ensemble
    of heads with other random weights and fusion weights."""
    streams = {"motion_dim": 7, "pose_dim": 4, "pose_stats": True, "fusion": "late"} if pose else {}
    made = []
    for i in range(heads):
        torch.manual_seed(i)
        head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, deltas=deltas, probe=probe,
                        readout="mean" if probe or pose else "last", **streams).eval()
        if probe:
            torch.nn.init.normal_(head.probe.weight)
            head.probe_weight.fill_(0.4 - 0.1 * i)
        if pose:
            torch.nn.init.normal_(head.pose_probe.weight)
            head.fusion_weight.fill_(0.2 + 0.1 * i)
            head.pose_weight.fill_(0.5)
        made.append(head)
    meta = {"preprocess": {"resize_size": 16, "crop_size": 16, "mode": "squash",
                           "mean": [0.5] * 3, "std": [0.25] * 3},
            "sampling": {"fps": fps, "clip_steps": clip_steps, "stride": 1, "stream_stride": stream_stride},
            "class_names": ["a", "b", "c"]}
    return Bundle(None, meta, made[0], None, more_heads=made[1:])


def frames(n, seed=0):
    return np.random.default_rng(seed).integers(0, 255, (n, 16, 16, 3), dtype=np.uint8)


def offline_window_probs(bundle, encoder, frames_):
    pre = Preprocess(16, 16, "squash", (0.5,) * 3, (0.25,) * 3)
    feats = torch.from_numpy(encoder(pre(frames_)).astype(np.float16).astype(np.float32))
    return bundle.clip_probs(feats[None])[0].numpy()


@pytest.mark.parametrize("deltas, probe, pose, heads", [(False, False, False, 1), (True, False, False, 1),
                                                        (True, True, False, 1), (True, False, True, 1),
                                                        (True, True, False, 3), (True, False, True, 2),
                                                        (True, False, "with gaps", 1)])
def test_every_streamed_step_equals_the_offline_clip_of_its_window(deltas, probe, pose, heads):
    bundle = make_bundle(deltas, probe=probe, pose=bool(pose), heads=heads)
    enc = PoseGapsEncoder(dim=15) if pose == "with gaps" else FakeEncoder(dim=15 if pose else 8)
    rec = StreamingRecognizer(bundle, enc, smoothing=1)
    video = frames(30)
    for i, frame in enumerate(video):
        pred = rec.push(frame, i / 5.0)               # source at the sampling rate: every frame a step
        if i >= 3:
            np.testing.assert_allclose(pred.raw_probs, offline_window_probs(bundle, enc, video[i - 3:i + 1]),
                                       atol=1e-5)
            assert not pred.warming_up
        else:
            assert pred.warming_up and pred.label is None


def test_long_stream_does_not_drift():
    # after 5,000 steps the prediction still equals the offline clip of the last window
    bundle, enc = make_bundle(), FakeEncoder()
    rec = StreamingRecognizer(bundle, enc, smoothing=1)
    video = frames(5000, seed=1)
    for i, frame in enumerate(video):
        pred = rec.push(frame, i / 5.0)
    np.testing.assert_allclose(pred.raw_probs, offline_window_probs(bundle, enc, video[-4:]), atol=1e-5)
    assert all(h.shape[1] == 4 for h, _ in rec.windows[0].states)  # state does not grow with the stream


def test_gate_takes_frames_at_the_trained_rate_by_timestamp():
    gate = FrameGate(8.0)
    ts = np.arange(100) / 25.0                           # 4 s of a 25 fps source
    taken = [t for t in ts if gate.accept(t)]
    assert len(taken) == 32
    # same frames as the offline timeline: first frame at or after each k/8
    from actionrec.sampling import timeline_indices
    np.testing.assert_allclose(np.array(taken) * 25, timeline_indices(100, 25.0, 8.0))


def test_gate_skips_ahead_when_the_source_stalls():
    gate = FrameGate(10.0)
    assert gate.accept(0.0) and not gate.accept(0.05) and gate.accept(0.1)
    assert gate.accept(1.0)                              # 0.9 s gap: one step, not nine
    assert not gate.accept(1.05) and gate.accept(1.1)


def test_smoothing_and_threshold():
    bundle, enc = make_bundle(), FakeEncoder()
    rec = StreamingRecognizer(bundle, enc, smoothing=3, threshold=1.01)   # nothing is that sure
    preds = [rec.push(f, i / 5.0) for i, f in enumerate(frames(10))]
    assert all(p.label is None for p in preds)
    last = preds[-3:]
    np.testing.assert_allclose(preds[-1].probs, np.mean([p.raw_probs for p in last], axis=0), atol=1e-6)
    rec = StreamingRecognizer(bundle, enc, smoothing=1, threshold=0.0)
    p = [rec.push(f, i / 5.0) for i, f in enumerate(frames(6))][-1]
    assert p.label == p.topk[0][0] and len(p.topk) == 3


def test_the_background_class_is_shown_as_no_action():
    """A bundle trained with a recorded `none` class: when it wins, the live label is
    "no action" (None), while the scores still show it."""
    bundle, enc = make_bundle(), FakeEncoder()
    bundle.meta["class_names"] = ["a", "none", "c"]
    with torch.no_grad():
        bundle.head.classifier.bias[1] = 50.0                  # "none" always wins
    rec = StreamingRecognizer(bundle, enc, smoothing=1, threshold=0.0)
    without = [rec.push(f, i / 5.0) for i, f in enumerate(frames(10))]
    assert without[-1].label == "none"
    bundle.meta["background_class"] = "none"
    rec = StreamingRecognizer(bundle, enc, smoothing=1, threshold=0.0)
    preds = [rec.push(f, i / 5.0) for i, f in enumerate(frames(10))]
    assert all(p.label is None for p in preds) and preds[-1].topk[0][0] == "none"
    assert not preds[-1].warming_up
