import numpy as np
import pytest
import torch

from actionrec.model import LSTMHead, MeanPoolBaseline


@pytest.mark.parametrize("cells,deltas", [(1, False), (4, False), (4, True)])
def test_head_predicts_at_every_step_and_streams_with_the_same_weights(cells, deltas):
    torch.manual_seed(0)
    head = LSTMHead(in_dim=32, num_classes=5, num_cells=cells, hidden_size=16, deltas=deltas).eval()
    x = torch.randn(2, 7, cells, 32)
    full = head(x)
    assert full.shape == (2, 7, 5)
    state, steps = None, []
    for t in range(7):
        logits, state = head(x[:, t:t + 1], state, return_state=True)
        steps.append(logits)
    torch.testing.assert_close(torch.cat(steps, 1), full)


def test_head_depends_on_frame_order_but_baseline_does_not():
    torch.manual_seed(0)
    x = torch.randn(3, 6, 4, 16)
    head = LSTMHead(16, 4, num_cells=4, hidden_size=8, cell_dim=4).eval()
    base = MeanPoolBaseline(16, 4, num_cells=4)
    rev = x.flip(1)
    assert not torch.allclose(head(x)[:, -1], head(rev)[:, -1])
    torch.testing.assert_close(base(x), base(rev))


def test_forget_gate_bias_starts_at_one():
    head = LSTMHead(8, 3, hidden_size=4, num_layers=2)
    for layer in range(2):
        b_ih = getattr(head.lstm, f"bias_ih_l{layer}")
        assert torch.all(b_ih[4:8] == 1) and torch.all(b_ih[:4] == 0)


def two_stream_logits(n=40, k=3, informative="motion", seed=0):
    """Stream logits `(n, 2k)` where one stream names the label and the other is noise."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.randint(0, k, (n,), generator=g)
    good, noise = 4.0 * torch.nn.functional.one_hot(labels, k).float(), 3.0 * torch.randn(n, k, generator=g)
    parts = (noise, good) if informative == "motion" else (good, noise)
    return torch.cat(parts, dim=1), labels


@pytest.mark.parametrize("informative, expected", [("motion", 0.0), ("appearance", 1.0)])
def test_validation_fuses_the_two_streams_towards_the_one_that_generalises(informative, expected):
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=11, fusion="late")
    logits, labels = two_stream_logits(informative=informative)
    weight, _, _ = choose_fusion_weights(head, logits, labels)
    assert weight == expected
    head.fusion_weight.fill_(weight)
    assert (head.fuse(logits).argmax(-1) == labels).all()


@pytest.mark.parametrize("informative", [0, 1, 2])
def test_with_flow_and_pose_validation_weights_the_stream_that_generalises(informative):
    """Three LSTMs (appearance, flow, pose): validation puts the weight on whichever one
    names the labels, and the pose LSTM reads the pose channels once, not once per cell."""
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=11 + 5, pose_dim=5,
                    fusion="late", deltas=True)
    assert head.three_stream and head.pose_lstm.input_size == 2 * 5      # the pose and its deltas
    assert head.motion_lstm.input_size == 2 * 4 * 11
    g = torch.Generator().manual_seed(informative)
    labels = torch.randint(0, 3, (60,), generator=g)
    parts = [3.0 * torch.randn(60, 3, generator=g) for _ in range(3)]
    parts[informative] = 4.0 * torch.nn.functional.one_hot(labels, 3).float()
    logits = torch.cat(parts, dim=1)
    appearance, _, pose = choose_fusion_weights(head, logits, labels)
    weights = [appearance, 1 - appearance - pose, pose]
    assert weights[informative] == pytest.approx(1.0)
    head.fusion_weight.fill_(appearance)
    head.pose_weight.fill_(pose)
    assert (head.fuse(logits).argmax(-1) == labels).all()
    out = head(torch.randn(2, 7, 4, 8 + 16))
    assert out.shape == (2, 7, 9)


def test_with_flow_and_pose_validation_that_cannot_tell_keeps_the_pose_alone():
    """Every stream names the labels equally well on validation (videos that share the
    training scenes): the pose, the stream that carries over, is kept alone."""
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=16, pose_dim=5, fusion="late")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (30,), generator=g)
    good = 2.0 * torch.nn.functional.one_hot(labels, 3).float()
    logits = torch.cat([good + 0.5 * torch.randn(30, 3, generator=g) for _ in range(3)], dim=1)
    appearance, _, pose = choose_fusion_weights(head, logits, labels)
    assert (appearance, pose) == (0.0, 1.0)
    assert choose_fusion_weights(head, logits, labels, pose_weight=0.5)[2] == 0.5     # a given weight stands


def test_validation_does_not_leave_the_pose_for_a_lower_loss_that_names_fewer_clips_right():
    """The pose is sure: right on 34 of 40 validation clips, wildly wrong on 6. The other
    streams are unsure everywhere and right on half: a lower mean loss than any mix with
    the pose, by more than its noise, but fewer clips right. The pose stays."""
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 2, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=16, pose_dim=5, fusion="late")
    labels = torch.tensor([0, 1] * 20)
    right = torch.nn.functional.one_hot(labels, 2).float()
    pose = 3.0 * right
    pose[:6] = 60.0 * (1 - right[:6])
    unsure = 0.1 * torch.where(torch.arange(40)[:, None] % 4 < 2, right, 1 - right)
    logits = torch.cat([unsure, unsure, pose], dim=1).repeat(10, 1)
    labels = labels.repeat(10)
    losses = {q: torch.nn.functional.cross_entropy(head.fuse(logits, 0.0, None, q), labels) for q in (0.0, 1.0)}
    assert losses[0.0] < losses[1.0]
    assert choose_fusion_weights(head, logits, labels) == (0.0, 0.0, 1.0)


def test_with_a_class_of_fewer_than_3_recordings_validation_does_not_move_the_pose():
    """Validation that names every clip with the appearance stream and misreads with the
    pose: with enough recordings it moves the weight; when it holds a class's only other
    recording (`keep_prior`), the pose keeps it, and a head without a pose stream still
    follows validation."""
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=16, pose_dim=5, fusion="late")
    g = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (60,), generator=g)
    good = 4.0 * torch.nn.functional.one_hot(labels, 3).float()
    logits = torch.cat([good, 3.0 * torch.randn(60, 3, generator=g), 3.0 * torch.randn(60, 3, generator=g)], dim=1)
    assert choose_fusion_weights(head, logits, labels)[0] == pytest.approx(1.0)
    assert choose_fusion_weights(head, logits, labels, keep_prior=True) == (0.0, 0.0, 1.0)
    two = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=11, fusion="late")
    assert choose_fusion_weights(two, logits[:, :6], labels, keep_prior=True)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("given, expected", [({}, (0.0, 1.0)), ({"pose_weight": 1.0}, (0.0, 1.0)),
                                             ({"pose_weight": 0.5}, (0.0, 0.5)), ({"fusion_weight": 0.8}, (0.8, 0.2))])
def test_without_validation_the_pose_comes_first_and_the_flow_never_gets_less_than_nothing(given, expected):
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=16, pose_dim=5, fusion="late")
    appearance, _, pose = choose_fusion_weights(head, None, None, **given)
    assert (appearance, pose) == pytest.approx(expected) and appearance + pose <= 1 + 1e-6


def probe_head(readout="mean", motion_dim=0):
    """A head with a probe stream attached from a random `LinearProbe` (random statistics)."""
    from actionrec.model import LinearProbe
    torch.manual_seed(0)
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, deltas=True, readout=readout,
                    motion_dim=motion_dim, fusion="late", probe=True).eval()
    head.set_standardization(torch.randn(8 + motion_dim), torch.rand(8 + motion_dim) + 0.5)
    probe = LinearProbe(8, 3, num_cells=4)
    torch.nn.init.normal_(probe.classifier.weight)
    probe.mean.copy_(torch.randn(32))
    probe.std.copy_(torch.rand(32) + 0.5)
    head.attach_probe(probe)
    return head, probe


def test_the_probe_stream_gives_the_fitted_probe_s_clip_scores():
    head, probe = probe_head(motion_dim=2)
    x = torch.randn(5, 7, 4, 10)
    clip = head.stream_logits(x)                      # appearance, motion, probe: K each
    torch.testing.assert_close(clip[:, -3:], probe(x[..., :8]), rtol=1e-4, atol=1e-4)
    head.probe_weight.fill_(1.0)                      # the probe alone decides
    assert (head.clip_logits(x).argmax(-1) == probe(x[..., :8]).argmax(-1)).all()


@pytest.mark.parametrize("informative, expected", [("lstm", 0.0), ("probe", 1.0)])
def test_validation_weights_the_probe_stream_when_the_lstm_does_not_generalise(informative, expected):
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 3, num_cells=4, hidden_size=6, cell_dim=5, probe=True)
    lstm, labels = two_stream_logits(informative="appearance")        # (M, 6): good, noise
    good, noise = lstm[:, :3], lstm[:, 3:]
    logits = torch.cat([good, noise] if informative == "lstm" else [noise, good], dim=1)
    fusion, probe, _ = choose_fusion_weights(head, logits, labels)
    assert probe == expected
    assert (head.fuse(logits, fusion, probe).argmax(-1) == labels).all()


def test_a_probe_that_is_only_surer_of_clips_the_streams_already_name_gets_no_weight():
    """Validation that shares the training scenes: the streams name every clip, the
    probe names them too and is far surer. Its loss is lower, but it adds no clip."""
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 2, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=4, fusion="late", probe=True)
    labels = torch.tensor([0, 1] * 20)
    right = torch.nn.functional.one_hot(labels, 2).float()
    logits = torch.cat([1.0 * right, 1.0 * right, 30.0 * right], dim=1)   # appearance, flow, probe
    assert choose_fusion_weights(head, logits, labels)[1] == 0.0
    logits[:10, :4] = 1.0 * (1 - right[:10]).repeat(1, 2)   # the streams miss 10 clips that the probe names
    assert choose_fusion_weights(head, logits, labels)[1] > 0.0
    # with a pose stream (the people's pose), the probe never reads the scene for it
    pose_head = LSTMHead(8, 2, num_cells=4, hidden_size=6, cell_dim=5, motion_dim=4, pose_dim=4, fusion="late",
                         probe=True)
    assert choose_fusion_weights(pose_head, logits, labels)[1] == 0.0
    assert choose_fusion_weights(pose_head, logits, labels, probe_weight=0.3)[1] == 0.3


def test_a_few_validation_clips_that_happen_to_suit_the_probe_do_not_hand_it_the_clip():
    from actionrec.training import choose_fusion_weights
    head = LSTMHead(8, 2, num_cells=4, hidden_size=6, cell_dim=5, probe=True)
    lstm = torch.tensor([[0.5, 0.0], [0.0, 0.5], [0.5, 0.0], [0.2, 0.0]])   # right on 3, unsure
    probe = torch.tensor([[3.0, 0.0], [0.0, 3.0], [0.0, 3.0], [0.0, 3.0]])   # sure on 3, wrong on 1
    labels = torch.tensor([0, 1, 0, 1])
    assert choose_fusion_weights(head, torch.cat([lstm, probe], dim=1), labels)[1] == 0.0
    many = torch.cat([lstm, probe], dim=1).repeat(20, 1)          # the same, 80 clips: a gain beyond noise
    assert choose_fusion_weights(head, many, labels.repeat(20))[1] > 0.0


class ArrayCache:
    """A feature cache in memory: `load_item(item)` -> the item's `(N, S, D + M)` features."""
    def __init__(self, features):
        self.features = features

    def load_item(self, item):
        return self.features[item.path]


def swinging_joint_videos(count, seed):
    """Videos of 24 steps, 1 cell: 8 appearance channels of noise, 3 pose channels; the
    first swings with amplitude 0.2 (class 0) or 1.0 (class 1) about the same centre, at
    a random phase and pace. Only how far it moves tells the classes apart."""
    from pathlib import Path
    from actionrec.datasets import VideoItem
    rng = np.random.default_rng(seed)
    items, features = [], {}
    for i in range(count):
        label = i % 2
        t = np.arange(24) * rng.uniform(0.3, 0.8) + rng.uniform(0, 2 * np.pi)
        pose = np.stack([0.5 + (0.2, 1.0)[label] * np.sin(t), *rng.normal(0, 0.3, (2, 24))], axis=1)
        feats = np.concatenate([rng.normal(0, 1, (24, 8)), pose], axis=1)[:, None].astype(np.float32)
        path = Path(f"/videos/{seed}-{i}.mp4")
        items.append(VideoItem(path, label, str(i)))
        features[path] = feats
    return items, ArrayCache(features)


def test_the_pose_statistics_tell_apart_movements_that_differ_only_in_how_far_a_joint_moves():
    from actionrec.training import feature_statistics, fit_pose_stats, pose_clip_statistics
    torch.manual_seed(0)
    head = LSTMHead(8, 2, hidden_size=6, motion_dim=3, pose_dim=3, fusion="late", readout="mean",
                    pose_stats=True).eval()
    train, cache = swinging_joint_videos(20, seed=0)
    head.set_standardization(*feature_statistics(train, cache))
    head.attach_pose_probe(fit_pose_stats(head, train, cache, clip_steps=8, mode="segments", per_video=3))
    test, test_cache = swinging_joint_videos(20, seed=1)
    stats, labels = pose_clip_statistics(head, test, test_cache, clip_steps=8, mode="segments", per_video=3)
    assert (head.pose_probe(stats).argmax(-1) == labels).all()
    # the clip scores: the pose stream is its LSTM's and its statistics' log-probabilities, half each
    clip = torch.from_numpy(test_cache.load_item(test[1])[:8])[None]
    lstm = head.stream_logits(clip, pose_stats=False)[:, 2:]
    mixed = head.stream_logits(clip)[:, 2:]
    expected = 0.5 * lstm.log_softmax(-1) + 0.5 * head.pose_probe(
        head.pose_statistics(head.standard_pose(clip))).log_softmax(-1)
    torch.testing.assert_close(mixed, expected)


def test_the_pose_statistics_learn_from_clips_as_short_as_a_live_window_sees():
    """Live, the statistics read one window: a part of a repetition, not a whole take. So
    their map is fitted on clips drawn as training clips are (`train.min_time_span`: here
    40-100% of each video), not on clips spread over whole videos: taught with whole
    takes, a window's spread and range sit below every training clip's. A channel that
    ramps over the video reads each clip's span as its range."""
    from actionrec.pose import CHANNELS
    from actionrec.training import feature_statistics, pose_clip_statistics
    items, cache = one_armed_curl_videos(4, seed=0)
    ramp = 8 + CHANNELS.index("angle_knee_l")
    for features in cache.features.values():
        features[:, 0, ramp] = np.linspace(0.0, 1.0, len(features))
    head = LSTMHead(8, 2, hidden_size=6, motion_dim=len(CHANNELS), pose_dim=len(CHANNELS), fusion="late",
                    pose_stats=True).eval()
    head.set_standardization(*feature_statistics(items, cache))
    span = float(head.feature_std[ramp])          # one video's whole range, standardised
    for min_span, low, high in ((0.4, 0.25, 1.0), (1.0, 0.8, 1.0)):
        stats, labels = pose_clip_statistics(head, items, cache, clip_steps=8, mode="segments", per_video=50,
                                             min_span=min_span)
        ranges = stats[:, 2 * head.pose_dim + CHANNELS.index("angle_knee_l")] * span
        assert len(stats) == 200 and labels.tolist() == [0] * 50 + [1] * 50 + [0] * 50 + [1] * 50
        assert low <= float(ranges.min()) and float(ranges.max()) <= high + 1e-6
        if min_span < 1:
            assert float(ranges.min()) < 0.5 and float(ranges.max()) > 0.85   # short clips and whole ones


def test_the_pose_stream_s_width_applies_whether_or_not_the_flow_is_there():
    alone = LSTMHead(8, 3, hidden_size=6, motion_dim=4, pose_dim=4, fusion="late", pose_hidden_size=3)
    beside = LSTMHead(8, 3, hidden_size=6, motion_dim=7, pose_dim=4, fusion="late", pose_hidden_size=3)
    assert alone.motion_lstm.hidden_size == beside.pose_lstm.hidden_size == 3
    assert beside.motion_lstm.hidden_size == alone.lstm.hidden_size == 6
    x = torch.randn(2, 5, 1, 15)
    logits, (h, c, _) = beside(x, return_state=True)
    assert h.shape[-1] == beside.state_size == 6 + 6 + 3 and logits.shape == (2, 5, 9)


def one_armed_curl_videos(count, seed, arm="l"):
    """Videos of 24 steps, 1 cell: 8 appearance channels of noise, then the pose channels
    (`pose.CHANNELS`), still but for one elbow's angle, which swings far (class 1) or
    barely (class 0): a curl with the left arm, or with `arm="r"` the right."""
    from pathlib import Path
    from actionrec.datasets import VideoItem
    from actionrec.pose import CHANNELS
    rng = np.random.default_rng(seed)
    elbow = CHANNELS.index(f"angle_elbow_{arm}")
    items, features = [], {}
    for i in range(count):
        label = i % 2
        t = np.arange(24) * rng.uniform(0.3, 0.8) + rng.uniform(0, 2 * np.pi)
        pose = np.full((24, len(CHANNELS)), 0.5)
        pose[:, elbow] = 0.5 + (0.05, 0.4)[label] * np.sin(t)
        feats = np.concatenate([rng.normal(0, 1, (24, 8)), pose], axis=1)[:, None].astype(np.float32)
        path = Path(f"/videos/{arm}{seed}-{i}.mp4")
        items.append(VideoItem(path, label, str(i)))
        features[path] = feats
    return items, ArrayCache(features)


def test_the_bundle_s_pose_statistics_also_learn_the_validation_recordings(tmp_path):
    """Training videos curl with the left arm, validation's with the right: the weights are
    chosen on validation as it stands, then the statistics learn from every recording,
    so the trained head names right-arm curls that it only saw in validation."""
    from actionrec.config import load_config
    from actionrec.pose import CHANNELS
    from actionrec.training import fit_head, pose_clip_statistics
    train, cache = one_armed_curl_videos(20, seed=0, arm="l")
    val, val_cache = one_armed_curl_videos(10, seed=1, arm="r")
    test, test_cache = one_armed_curl_videos(20, seed=2, arm="r")
    cache.features.update({**val_cache.features, **test_cache.features})
    cfg = load_config(None, ["train.epochs=1", "train.pose_mirror=false", "sampling.clip_steps=8",
                             "logging.wandb=disabled", "logging.csv=false", "logging.progress_bar=false"])
    head_kwargs = {"in_dim": 8, "num_classes": 2, "hidden_size": 6, "motion_dim": len(CHANNELS),
                   "pose_dim": len(CHANNELS), "fusion": "late", "pose_stats": True}
    fit = fit_head(cfg, head_kwargs, train, val, cache, tmp_path)
    stats, labels = pose_clip_statistics(fit.head, test, cache, clip_steps=8, mode="segments", per_video=3)
    assert (fit.head.pose_probe(stats).argmax(-1) == labels).all()
    assert fit.pose_stats_videos == 30     # in the bundle beside the validation accuracy measured before


@pytest.mark.parametrize("mirror", [True, False])
def test_curls_taught_with_the_left_arm_are_recognised_with_the_right_only_when_mirrored(mirror):
    from actionrec.pose import CHANNELS
    from actionrec.training import feature_statistics, fit_pose_stats, pose_clip_statistics, pose_mirror_columns
    head = LSTMHead(8, 2, hidden_size=6, motion_dim=len(CHANNELS), pose_dim=len(CHANNELS), fusion="late",
                    pose_stats=True).eval()
    train, cache = one_armed_curl_videos(20, seed=0, arm="l")
    head.set_standardization(*feature_statistics(train, cache, pose_mirror_columns(head) if mirror else None))
    head.attach_pose_probe(fit_pose_stats(head, train, cache, clip_steps=8, mode="segments", per_video=3,
                                          mirror=mirror))
    for arm in "lr":
        test, test_cache = one_armed_curl_videos(20, seed=1, arm=arm)
        stats, labels = pose_clip_statistics(head, test, test_cache, clip_steps=8, mode="segments", per_video=3)
        right = float((head.pose_probe(stats).argmax(-1) == labels).float().mean())
        assert right == 1.0 if arm == "l" or mirror else right <= 0.6, (arm, right)


def test_half_the_training_clips_see_the_pose_in_a_mirror_and_nothing_else_moves():
    from actionrec.pose import CHANNELS
    from actionrec.training import TrainClips, pose_mirror_columns
    head = LSTMHead(8, 2, hidden_size=6, motion_dim=len(CHANNELS) + 3, pose_dim=len(CHANNELS), fusion="late")
    items, cache = one_armed_curl_videos(2, seed=0, arm="l")
    video = cache.features[items[1].path]      # 3 flow channels of their own between appearance and pose
    flow = np.random.default_rng(1).normal(0, 1, (24, 1, 3)).astype(np.float32)
    cache.features[items[1].path] = np.concatenate([video[..., :8], flow, video[..., 8:]], axis=-1)
    order = pose_mirror_columns(head)
    clips = TrainClips(items[1:], cache, clip_steps=24, mode="segments", mirror=order)
    original = torch.from_numpy(cache.features[items[1].path])
    left, right = 8 + 3 + CHANNELS.index("angle_elbow_l"), 8 + 3 + CHANNELS.index("angle_elbow_r")
    assert (order[:11] == np.arange(11)).all() and order[left] == right and order[right] == left
    torch.manual_seed(0)
    mirrored = 0
    for _ in range(200):
        clip, _ = clips[0]
        flipped = bool(clip[:, 0, right].std() > clip[:, 0, left].std())
        mirrored += flipped
        torch.testing.assert_close(clip, original[..., order] if flipped else original)
    assert 70 < mirrored < 130


def test_curls_are_named_when_the_person_is_lost_for_some_steps_and_the_legs_leave_the_frame():
    """Trained on whole people found in every step; tested on clips where nobody is found in
    every fifth step and the legs are never seen: both read as the training mean, so the
    pose statistics still name every curl and no standardised channel runs off."""
    from actionrec.pose import CHANNELS, UNSEEN
    from actionrec.training import feature_statistics, fit_pose_stats, pose_clip_statistics
    head = LSTMHead(8, 2, hidden_size=6, motion_dim=len(CHANNELS), pose_dim=len(CHANNELS), fusion="late",
                    pose_stats=True).eval()
    train, cache = one_armed_curl_videos(20, seed=0)
    test, test_cache = one_armed_curl_videos(20, seed=1)
    for features in (*cache.features.values(), *test_cache.features.values()):
        features[..., 8] = 1.0                                     # `present`: a person in every step
    head.set_standardization(*feature_statistics(train, cache))
    head.attach_pose_probe(fit_pose_stats(head, train, cache, clip_steps=8, mode="segments", per_video=3))
    for features in test_cache.features.values():
        features[..., [8 + i for i, name in enumerate(CHANNELS) if "knee" in name or "ankle" in name]] = UNSEEN
        features[::5, :, 8:] = 0.0
    stats, labels = pose_clip_statistics(head, test, test_cache, clip_steps=8, mode="segments", per_video=3)
    assert (head.pose_probe(stats).argmax(-1) == labels).all()
    steps = head.standardize(torch.from_numpy(test_cache.features[test[0].path])[None])
    assert steps.abs().max() < 10


def test_steps_whose_legs_are_unseen_leave_the_legs_scale_to_the_steps_that_show_them():
    from actionrec.pose import CHANNELS, UNSEEN
    from actionrec.training import feature_statistics
    items, cache = one_armed_curl_videos(4, seed=0)
    knee = 8 + CHANNELS.index("knee_l_y")
    rng = np.random.default_rng(0)
    for features in cache.features.values():
        features[:, :, knee] = rng.normal(0.7, 0.1, (len(features), 1))
    seen = np.concatenate([f[:12, 0, knee] for f in cache.features.values()])
    for features in cache.features.values():
        features[12:, :, knee] = UNSEEN                 # the legs leave the frame half-way
    mean, std = feature_statistics(items, cache)
    assert abs(float(mean[knee]) - seen.mean()) < 0.02 and 0.05 < float(std[knee]) < 0.15


def test_steps_without_a_person_leave_the_pose_scale_to_the_steps_with_one():
    from actionrec.pose import CHANNELS
    from actionrec.training import feature_statistics
    items, cache = one_armed_curl_videos(4, seed=0)
    elbow = 8 + CHANNELS.index("angle_elbow_l")
    with_person = np.concatenate([f[:12, 0, elbow] for f in cache.features.values()])
    for features in cache.features.values():
        features[12:, :, 8:] = 0.0                  # nobody found in the second half: `present` and all 0
    mean, std = feature_statistics(items, cache, pose_start=8)
    assert abs(float(mean[elbow]) - with_person.mean()) < 0.02
    assert abs(float(std[elbow]) - with_person.std()) < 0.02
    assert abs(float(mean[8]) - 0.25) < 1e-6        # `present` itself counts every step (0.5, then 0)


@pytest.mark.parametrize("fusion, skip, appearance, pose, probe, expected", [
    ("late", False, 0.0, 1.0, 0.0, {"pose"}),                  # the personal preset's pose alone
    ("late", False, 0.0, 0.0, 0.0, {"flow"}),                  # the flow alone (pans, the shape sets)
    ("late", False, 0.5, 0.0, 0.0, {"appearance", "flow"}),
    ("late", False, 0.0, 1.0, 0.3, {"appearance", "pose"}),    # the probe reads the backbone's cells
    ("late", True, 0.5, 0.5, 0.0, {"appearance", "flow", "pose"}),   # the skip path reads every part
    ("early", False, 0.0, 0.0, 0.0, {"appearance", "flow", "pose"}),  # one LSTM over every part
])
def test_a_head_reads_the_parts_of_the_features_its_fused_scores_weigh(fusion, skip, appearance, pose, probe,
                                                                       expected):
    """What streaming computes for each step: a part no weighted stream reads is skipped."""
    head = LSTMHead(8, 3, num_cells=2, hidden_size=4, cell_dim=3, motion_dim=5, pose_dim=2,
                    fusion=fusion, skip=skip, probe=True)
    head.fusion_weight.fill_(appearance)
    if head.three_stream:
        head.pose_weight.fill_(pose)
    head.probe_weight.fill_(probe)
    assert head.inputs_read() == expected
    torch.manual_seed(0)
    x = torch.randn(2, 4, 2, 13)
    unread = [slice(0, 8) if "appearance" not in expected else None,
              slice(8, 11) if "flow" not in expected else None,
              slice(11, 13) if "pose" not in expected else None]
    scrambled = x.clone()
    for part in filter(None, unread):
        scrambled[..., part] = torch.randn_like(scrambled[..., part]) * 5   # no weighted stream reads it
    head.eval()
    with torch.no_grad():
        torch.testing.assert_close(head.clip_logits(scrambled), head.clip_logits(x))


def test_without_the_sideways_offsets_a_head_reads_people_filmed_from_another_side_as_from_its_own():
    """Curls taught with the elbow far out to the side (one view) are named when the test
    people's landmarks sit elsewhere sideways (another view): without `pose_horizontal`
    neither the LSTM's nor the statistics' scores move with the landmarks' sideways
    offsets. With them, the same offsets change the scores."""
    from actionrec.pose import CHANNELS, HORIZONTAL_CHANNELS
    from actionrec.training import feature_statistics, fit_pose_stats, pose_clip_statistics
    sideways = [8 + i for i in HORIZONTAL_CHANNELS]
    assert {CHANNELS[i - 8] for i in sideways} == {n for n in CHANNELS if n.endswith("_x") and n != "torso_x"}
    train, cache = one_armed_curl_videos(20, seed=0)
    test, test_cache = one_armed_curl_videos(20, seed=1)
    rng = np.random.default_rng(2)
    for features in cache.features.values():
        features[..., sideways] = rng.normal(1.5, 0.1, (len(features), 1, len(sideways)))
    for features in test_cache.features.values():
        features[..., sideways] = rng.normal(0.2, 0.1, (len(features), 1, len(sideways)))
    clip = torch.from_numpy(test_cache.features[test[0].path][:8])[None]
    elsewhere = clip.clone()
    elsewhere[..., sideways] += 0.7
    for horizontal in (False, True):
        torch.manual_seed(0)
        head = LSTMHead(8, 2, hidden_size=6, motion_dim=len(CHANNELS), pose_dim=len(CHANNELS), fusion="late",
                        readout="mean", pose_stats=True, pose_horizontal=horizontal).eval()
        head.set_standardization(*feature_statistics(train, cache))
        head.attach_pose_probe(fit_pose_stats(head, train, cache, clip_steps=8, mode="segments", per_video=3))
        moved = (head.clip_logits(elsewhere) - head.clip_logits(clip)).abs().max()
        if horizontal:
            assert moved > 1e-3
            continue
        assert moved == 0
        stats, labels = pose_clip_statistics(head, test, test_cache, clip_steps=8, mode="segments", per_video=3)
        assert (head.pose_probe(stats).argmax(-1) == labels).all()
