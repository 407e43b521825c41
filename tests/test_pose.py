"""The pose stream: BlazePose on a person drawn by the test, the features it gives, when
`motion.pose: auto` turns it on, and streaming equal to the feature cache with it on."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from actionrec.pose import BODY_CHANNELS, CHANNELS, PoseEncoder, PoseEstimator, PoseSpec, pose_features, pose_spec
from actionrec.synthetic import render_clip, write_video

cv2 = pytest.importorskip("cv2")

FPS = 25.0
WRIST_Y = [CHANNELS.index("wrist_l_y"), CHANNELS.index("wrist_r_y")]
LEGS = {*(f"angle_{joint}_{side}" for joint in ("knee", "hip") for side in "lr"),     # the hip's angle reads the knee
        *(f"{joint}_{side}_{axis}" for joint in ("knee", "ankle") for side in "lr" for axis in ("x", "y", "speed"))}


def draw_person(arms_up: float, size: int = 320, shift: int = 0) -> np.ndarray:
    """A cartoon person standing, `(size, size, 3)` uint8 RGB: arms hanging (0) or raised
    above the head (1); `shift` moves them sideways."""
    img = np.full((size, size, 3), (200, 200, 195), np.uint8)
    u = size / 320
    cx = size // 2 + shift

    def pt(x, y):
        return int(cx + x * u), int(y * u)
    for side in (-1, 1):
        cv2.line(img, pt(side * 14, 190), pt(side * 20, 250), (50, 50, 60), int(16 * u))
        cv2.line(img, pt(side * 20, 250), pt(side * 22, 305), (50, 50, 60), int(14 * u))
    cv2.ellipse(img, pt(0, 150), (int(30 * u), int(50 * u)), 0, 0, 360, (40, 70, 160), -1)
    for side in (-1, 1):
        angle = np.deg2rad(10 + 150 * arms_up)          # from hanging down to raised
        shoulder = np.array([side * 30, 110.0])
        elbow = shoulder + 45 * np.array([side * np.sin(angle), np.cos(angle)])
        wrist = elbow + 45 * np.array([side * np.sin(angle), np.cos(angle)])
        cv2.line(img, pt(*shoulder), pt(*elbow), (40, 70, 160), int(14 * u))
        cv2.line(img, pt(*elbow), pt(*wrist), (205, 160, 130), int(11 * u))
    cv2.circle(img, pt(0, 78), int(22 * u), (205, 160, 130), -1)
    for side in (-1, 1):
        cv2.circle(img, pt(side * 8, 74), max(1, int(3 * u)), (30, 30, 30), -1)
    cv2.ellipse(img, pt(0, 60), (int(23 * u), int(12 * u)), 0, 180, 360, (40, 30, 20), -1)
    return img


@pytest.fixture(scope="module")
def estimator():
    return PoseEstimator()


def test_a_person_with_raised_arms_reads_wrists_above_the_head(estimator):
    # arms a little out from the body: the cartoon's arms held against it read as hidden
    down, up = (pose_features(estimator(draw_person(a))) for a in (0.2, 1.0))
    assert down[0] == up[0] == 1.0                            # a person is there
    assert (up[WRIST_Y] < -1.5).all()                         # wrists above the shoulders (torso lengths)
    assert (down[WRIST_Y] > -0.8).all()                       # ... beside the hips
    elbows = [CHANNELS.index("angle_elbow_l"), CHANNELS.index("angle_elbow_r")]
    assert (down[elbows] > 0.7).all() and (up[elbows] > 0.7).all()   # straight arms both times


def test_legs_below_the_frame_s_edge_read_unseen_and_the_arms_still_read(estimator):
    """Filmed from the waist up (a webcam at a desk, a pull-up from below the bar), the
    landmark model still places the legs; their channels say they are not seen instead."""
    from actionrec.pose import UNSEEN
    still = [estimator(draw_person(0.2)), estimator(np.ascontiguousarray(draw_person(0.2)[:215]))]
    whole, waist_up = (pose_features(pose, previous=pose) for pose in still)     # standing still
    assert (whole != UNSEEN).all()
    unseen = np.flatnonzero(waist_up == UNSEEN)
    assert {CHANNELS[i] for i in unseen} == LEGS
    assert (waist_up[WRIST_Y] > -0.8).all() and (waist_up[WRIST_Y] < 0).all()   # hands above the hips
    guessed = pose_features(still[1], version=2)
    assert (guessed != UNSEEN).all()          # the channels bundles trained before read


def test_the_pose_is_read_on_the_body_not_the_frame(estimator):
    """The same pose, mirrored, moved and at half the size: the same channels."""
    person = draw_person(0.6)
    ref = pose_features(estimator(person))
    for variant in (person[:, ::-1], draw_person(0.6, shift=60),
                    cv2.resize(cv2.copyMakeBorder(person, 160, 160, 160, 160, cv2.BORDER_REPLICATE), (320, 320))):
        np.testing.assert_allclose(pose_features(estimator(np.ascontiguousarray(variant))), ref, atol=0.25)


def test_the_speeds_say_which_parts_of_the_body_move_and_which_stay_put():
    """Arms waving over still feet: the wrists move, the ankles stay put. The whole person
    moving sideways: the ankles move too. The first step has no step before it: its
    speeds say nothing (`UNSEEN`)."""
    from actionrec.pose import SPEED_CHANNELS, UNSEEN
    speed = {name.removesuffix("_speed"): CHANNELS.index(name) for name in SPEED_CHANNELS}
    wrists, ankles, hips = ([speed[f"{part}_{side}"] for side in "lr"] for part in ("wrist", "ankle", "hip"))
    encoder = PoseEncoder(PoseSpec(1))
    waves = encoder([draw_person(a) for a in 0.5 + 0.5 * np.sin(np.linspace(0, 2 * np.pi, 12))])[:, 0]
    assert (waves[0, list(speed.values())] == UNSEEN).all()
    assert seen_mean(waves[1:, wrists]) > 0.3 and seen_mean(waves[1:, ankles]) < seen_mean(waves[1:, wrists]) / 3
    encoder.reset()
    sideways = encoder([draw_person(0.2, 320, shift) for shift in range(-48, 49, 12)])[:, 0]
    assert (sideways[0, list(speed.values())] == UNSEEN).all()     # a new video starts afresh
    assert seen_mean(sideways[1:, hips]) > 0.1
    assert seen_mean(sideways[1:, ankles]) > 2 * seen_mean(waves[1:, ankles])


def seen_mean(channels: np.ndarray) -> float:
    """The mean of the values of seen landmarks (at least half of them)."""
    from actionrec.pose import UNSEEN
    seen = channels[channels != UNSEEN]
    assert seen.size >= channels.size / 2
    return float(seen.mean())


def test_a_frame_without_a_person_gives_zeros(estimator):
    shapes = render_clip("grow", np.random.default_rng(0), (160, 160), 1)[0]
    assert estimator(shapes) is None
    assert not pose_features(None).any()


def waving(frames: int) -> list[np.ndarray]:
    """A person raising and lowering their arms, 160x160."""
    return [draw_person(a, 160) for a in 0.5 + 0.5 * np.sin(np.linspace(0, 2 * np.pi, frames))]


def write_person_video(path, frames=30):
    write_video(path, waving(frames), FPS)
    return path


def test_auto_turns_the_pose_stream_on_for_people_only(tmp_path):
    people = [write_person_video(tmp_path / f"p{i}.avi", 10) for i in range(3)]
    shapes = []
    for i, action in enumerate(("grow", "slide_left", "turn_clockwise")):
        shapes.append(tmp_path / f"s{i}.avi")
        write_video(shapes[-1], render_clip(action, np.random.default_rng(i), (160, 160), 10), FPS)
    assert pose_spec("auto", 3, people) == PoseSpec(3)
    assert pose_spec("auto", 3, shapes) is None
    assert pose_spec("off", 3, people) is None and pose_spec("on", 1, shapes) == PoseSpec(1)
    with pytest.raises(Exception, match="motion.pose='yes' is not one of off, on, auto"):
        pose_spec("yes", 3, people)


@pytest.fixture(scope="module")
def pose_bundle(tmp_path_factory):
    from actionrec.synthetic import random_head_bundle
    return random_head_bundle(tmp_path_factory.mktemp("pose") / "pose.safetensors", class_names=["a", "b", "c"],
                              crop_size=64, resize_mode="squash", clip_steps=4, hidden_size=16,
                              num_layers=1, cell_dim=8, motion=True, stream_stride=2, pose=True,
                              pose_clip=0.5)    # tight: the streaming tests below pass through the clip


def test_labelling_with_the_pose_stream_equals_the_feature_cache_path(pose_bundle, tmp_path):
    from test_batch import cached_video_probs, label, read_jsonl
    video = write_person_video(tmp_path / "wave.avi")
    assert PoseEncoder(PoseSpec(3))(waving(30))[:, :, 0].all()      # the person is read in every frame
    out = tmp_path / "labels.jsonl"
    code, _ = label(pose_bundle, video, "--out", out, "--top-k", 3)
    assert code == 0
    topk = dict(read_jsonl(out)[0]["topk"])
    np.testing.assert_allclose([topk[c] for c in "abc"], cached_video_probs(pose_bundle, video), atol=1e-4)


def test_a_person_lost_for_a_step_or_two_keeps_their_last_pose_then_reads_nobody():
    blank = np.full((160, 160, 3), 200, np.uint8)
    frames = [draw_person(0.2, 160), draw_person(0.9, 160), blank, blank, blank, draw_person(0.2, 160)]
    held = PoseEncoder(PoseSpec(1, hold=2))(frames)[:, 0]
    plain = PoseEncoder(PoseSpec(1))(frames)[:, 0]
    np.testing.assert_array_equal(held[2], held[1])            # the raised arms, not nobody
    np.testing.assert_array_equal(held[3], held[1])
    assert not held[4].any() and not plain[2:5].any()          # the hold ends; without one, nobody at once
    np.testing.assert_array_equal(held[[0, 1, 5]], plain[[0, 1, 5]])
    encoder = PoseEncoder(PoseSpec(1, hold=2))
    encoder(frames[:2])
    encoder.reset()                                            # a new video holds nothing of the last
    assert not encoder([blank]).any()


def assert_labelling_equals_the_feature_cache_path(tmp_path, frames, motion=True, stream_stride=2, **pose):
    """`actionrec label` on a video of `frames` with a bundle whose pose stream has
    `pose` (`random_head_bundle`'s pose settings), streamed steps `stream_stride` timeline
    steps apart, gives the scores the feature cache's timeline gives."""
    from test_batch import cached_video_probs, label, read_jsonl

    from actionrec.synthetic import random_head_bundle
    bundle = random_head_bundle(tmp_path / "pose.safetensors", class_names=["a", "b", "c"], crop_size=64,
                                resize_mode="squash", clip_steps=4, hidden_size=16, num_layers=1, cell_dim=8,
                                motion=motion, stream_stride=stream_stride, pose=True, **pose)
    video = write_video(tmp_path / "person.avi", frames, FPS)
    out = tmp_path / "labels.jsonl"
    code, _ = label(bundle, video, "--out", out, "--top-k", 3)
    assert code == 0
    topk = dict(read_jsonl(out)[0]["topk"])
    np.testing.assert_allclose([topk[c] for c in "abc"], cached_video_probs(bundle, video), atol=1e-4)


def test_labelling_with_a_pose_hold_equals_the_feature_cache_path(tmp_path):
    """The person vanishes for a few frames mid-video; streamed steps still hold the pose
    the cache's timeline holds."""
    frames = waving(40)
    frames[12:20] = [np.full_like(frames[0], 200)] * 8          # nobody for 0.32 s: 2-3 timeline steps
    steps = PoseEncoder(PoseSpec(3, hold=3))([frames[i] for i in (0, 3, 6, 9, 12, 15, 18, 21)])[:, 0, 0]
    assert steps.all() and not PoseEncoder(PoseSpec(3))([frames[15]]).any()   # the hold fills the gap
    assert_labelling_equals_the_feature_cache_path(tmp_path, frames, pose_hold=3)


def test_a_tracked_person_is_read_through_motion_blur_and_one_who_leaves_reads_nobody():
    """With tracking, a step after one that found a person reads the landmarks where it
    was: a blurred frame the detector misses still gives the raised arms. An empty frame
    still reads nobody (no ghost of the last pose), and after it the detector finds the
    person again, as without tracking."""
    blank = np.full((160, 160, 3), 200, np.uint8)
    blurred = cv2.GaussianBlur(draw_person(0.7, 160), (0, 0), 7)
    frames = [draw_person(0.2, 160), blurred, blank, draw_person(0.2, 160)]
    tracked = PoseEncoder(PoseSpec(1, track=True))(frames)[:, 0]
    plain = PoseEncoder(PoseSpec(1))(frames)[:, 0]
    assert tracked[1, 0] == 1 and not plain[1].any()           # read only where it was
    assert tracked[1, WRIST_Y].min() < tracked[0, WRIST_Y].min() - 0.5   # the arm raised, not the last pose
    assert not tracked[2].any()
    body = len(BODY_CHANNELS)                                  # the speeds: from the last pose each found
    np.testing.assert_array_equal(tracked[[0, 3], :body], plain[[0, 3], :body])
    encoder = PoseEncoder(PoseSpec(1, track=True))
    encoder(frames[:1])
    encoder.reset()                                            # a new video tracks nobody from the last
    assert not encoder([blurred]).any()


@pytest.mark.parametrize("motion, stream_stride", [(True, 2), (False, 3)])
def test_labelling_with_a_tracked_pose_equals_the_feature_cache_path(tmp_path, motion, stream_stride):
    """The pose is tracked through the timeline steps between streamed ones too, as the
    cache's timeline tracks it, with or without a flow whose frames `label` decodes."""
    from actionrec.sampling import timeline_indices
    frames = waving(40)
    for i in range(0, 40, 2):                                 # blurred frames, some only tracking reads
        frames[i] = cv2.GaussianBlur(frames[i], (0, 0), 6)
    steps = [frames[i] for i in timeline_indices(40, FPS, 8.0)]
    tracked = PoseEncoder(PoseSpec(3, track=True))(steps)[:, 0, 0]
    assert tracked.sum() > PoseEncoder(PoseSpec(3))(steps)[:, 0, 0].sum()
    assert_labelling_equals_the_feature_cache_path(tmp_path, frames, motion, stream_stride, pose_track=True)


def test_a_torso_seen_end_on_keeps_the_channels_in_range(estimator):
    """Bent towards the camera, the shoulders sit on the hips: the body's width sets the
    scale instead, and no channel runs off to hundreds of torso lengths."""
    pose = estimator(draw_person(0.3))
    image = pose.image.copy()
    hips = (image[23, :2] + image[24, :2]) / 2
    image[[11, 12], 1] = hips[1] + 0.01                       # shoulders level with the hips
    feats = pose_features(pose._replace(image=image), previous=pose)   # the shoulders dropped in one step
    assert np.isfinite(feats).all() and np.abs(feats).max() <= 5.0


def test_a_bundle_of_pose_channels_this_version_cannot_read_is_refused_by_name_and_versions_2_and_3_still_load(
        pose_bundle, tmp_path):
    import json
    from safetensors.torch import load_file, save_file
    from actionrec.bundle import load_bundle, read_meta
    from actionrec.errors import BundleError
    from actionrec.synthetic import random_head_bundle
    version3 = random_head_bundle(tmp_path / "v3.safetensors", class_names=["a", "b", "c"], crop_size=64,
                                  clip_steps=4, hidden_size=16, num_layers=1, cell_dim=8, pose=True, pose_version=3)
    meta = read_meta(version3)
    for version in (None, 1, 2):          # the first version wrote no number
        meta["pose"]["version"] = version
        if version is None:
            del meta["pose"]["version"]
        older = tmp_path / f"v{version}.safetensors"
        save_file(load_file(str(version3)), str(older), metadata={"actionrec": json.dumps(meta)})
    for version in (None, 1):
        with pytest.raises(BundleError, match=f"v{version}.safetensors: pose features version 1 "
                                              f".*train the bundle again"):
            load_bundle(tmp_path / f"v{version}.safetensors")
    # version 2 (every landmark guessed) and 3 (no speeds) still load, and read their pose as trained
    older = load_bundle(tmp_path / "v2.safetensors")
    assert older.pose == PoseSpec(3, version=2) and not older.head.pose_gaps and older.pose.channels == 37
    older = load_bundle(version3)
    assert older.pose == PoseSpec(3, version=3) and older.head.pose_gaps and older.pose.channels == 37
    current = load_bundle(pose_bundle)
    assert current.pose == PoseSpec(3) and current.head.pose_gaps and current.pose.channels == len(CHANNELS)


def test_labelling_with_a_bundle_of_version_3_pose_channels_equals_the_feature_cache_path(tmp_path):
    """A bundle trained before the landmarks' speeds reads the channels it was trained on."""
    assert_labelling_equals_the_feature_cache_path(tmp_path, waving(30), pose_version=3)


def test_a_wild_pose_step_moves_a_clipped_head_no_further_and_bundles_keep_their_clip(pose_bundle, tmp_path):
    import json
    import torch
    from safetensors.torch import load_file, save_file
    from actionrec.bundle import load_bundle, read_meta
    from actionrec.model import LSTMHead
    width = len(CHANNELS)
    kwargs = dict(in_dim=8, num_classes=3, hidden_size=16, motion_dim=width, pose_dim=width, readout="mean")
    torch.manual_seed(0)
    clipped = LSTMHead(**kwargs, pose_clip=3.0).eval()
    free = LSTMHead(**kwargs).eval()
    free.load_state_dict(clipped.state_dict())
    clean = torch.rand(1, 12, 1, 8 + width)
    clean[..., 8] = 1.0                                  # a person found at every step
    wild = clean.clone()
    wild[0, 5, 0, 8 + CHANNELS.index("torso_y")] = 40.0   # one step's person read far off every training pose
    assert torch.equal(clipped.standardize(clean), free.standardize(clean))   # in range: read as it is
    assert clipped.standardize(wild).abs().max() == 3.0 and free.standardize(wild).abs().max() == 40.0
    with torch.no_grad():
        moved = {name: (head.clip_logits(wild) - head.clip_logits(clean)).abs().max()
                 for name, head in (("clipped", clipped), ("free", free))}
    assert moved["clipped"] < moved["free"] / 2, moved
    # a bundle keeps its clip; one written before the clip existed reads its pose unclipped
    assert load_bundle(pose_bundle).head.pose_clip == 0.5
    meta = read_meta(pose_bundle)
    del meta["head"]["pose_clip"]
    older = tmp_path / "unclipped.safetensors"
    save_file(load_file(str(pose_bundle)), str(older), metadata={"actionrec": json.dumps(meta)})
    assert load_bundle(older).head.pose_clip == 0.0
    assert load_bundle(pose_bundle).head.pose_horizontal      # no such key in its meta, as before the option


@pytest.fixture(scope="module")
def pose_alone_bundle(tmp_path_factory):
    """The `pose_bundle`'s head with the pose's weight 1 and without the landmarks' sideways
    offsets, as the `personal` preset trains it."""
    from actionrec.synthetic import random_head_bundle
    return random_head_bundle(tmp_path_factory.mktemp("alone") / "alone.safetensors", class_names=["a", "b", "c"],
                              crop_size=64, resize_mode="squash", clip_steps=4, hidden_size=16,
                              num_layers=1, cell_dim=8, motion=True, stream_stride=2, pose=True, pose_alone=True,
                              pose_horizontal=False)


def test_where_the_pose_alone_names_the_action_nobody_in_view_reads_no_action(pose_bundle, pose_alone_bundle):
    """With the pose alone naming the action (the `personal` preset), a person who walks
    out of the frame leaves "no action (nobody in view)" instead of whatever an empty pose
    scores as; where the scene and the flow share the reading, they still name it."""
    from actionrec.bundle import load_bundle
    from actionrec.config import load_config
    from actionrec.overlay import headline
    from actionrec.streaming import build_recognizer
    frames = waving(40) + [np.full((160, 160, 3), 200, np.uint8)] * 40   # then an empty room

    def stream(bundle, share: float):
        rec = build_recognizer(load_bundle(bundle), load_config(None, ["stream.threshold=0",
                                                                       f"stream.min_person_share={share}"]))
        return [p for i, f in enumerate(frames) if (p := rec.push(f, i / FPS)) is not None]
    alone, off, fused = stream(pose_alone_bundle, 0.5), stream(pose_alone_bundle, 0.0), stream(pose_bundle, 0.5)
    ready = [i for i, p in enumerate(alone) if not p.warming_up]
    in_view = [i for i in ready if alone[i].timestamp < 40 / FPS]
    gone = [i for i in ready if alone[i].timestamp >= 60 / FPS]          # the window holds nobody
    assert in_view and gone
    assert all(alone[i].label is not None and not alone[i].nobody for i in in_view)
    assert all(alone[i].label is None and alone[i].nobody for i in gone)
    assert all(run[i].label is not None and not run[i].nobody for run in (off, fused) for i in gone)
    for a, b in zip(alone, off):                                         # only the label changes
        np.testing.assert_array_equal(a.probs, b.probs)
    assert headline(alone[gone[0]])[0] == "no action (nobody in view)"
    assert headline(alone[in_view[-1]])[0].startswith(alone[in_view[-1]].label)


def test_batch_labelling_names_no_action_for_a_video_with_nobody_in_it(pose_alone_bundle, tmp_path):
    from test_batch import label, read_jsonl
    person = write_person_video(tmp_path / "wave.avi", 40)
    empty = write_video(tmp_path / "empty_room.avi", [np.full((160, 160, 3), 200, np.uint8)] * 40, FPS)
    out = tmp_path / "labels.jsonl"
    code, printed = label(pose_alone_bundle, person, empty, "--out", out)
    rows = {Path(r["path"]).name: r for r in read_jsonl(out)}
    assert code == 0
    assert rows["wave.avi"]["label"] in "abc"
    assert rows["empty_room.avi"]["label"] is None and rows["empty_room.avi"]["error"] is None
    assert len(rows["empty_room.avi"]["topk"]) == 3                     # the scores are still there
    assert f"no action: {empty}: nobody in view" in printed and "wave.avi: nobody" not in printed


def test_streams_the_fusion_gives_no_weight_are_not_stepped_live(pose_alone_bundle, tmp_path):
    """Where validation gave the pose all the weight, the appearance and flow LSTMs add
    nothing to the scores, and streaming does not run them: with their weights spoiled,
    `label` still gives the intact bundle's feature cache scores."""
    import torch
    from test_batch import cached_video_probs, label, read_jsonl

    from actionrec.bundle import load_bundle, save_bundle
    bundle = load_bundle(pose_alone_bundle)
    assert [head.stream_weights() for head in bundle.heads] == [[0.0, 0.0, 1.0]]
    assert not bundle.heads[0].pose_horizontal
    with torch.no_grad():
        for head in bundle.heads:
            for lstm in head.lstms[:2]:
                for weight in lstm.parameters():
                    weight.fill_(float("nan"))
    spoiled = save_bundle(tmp_path / "spoiled.safetensors", bundle.heads, bundle.baseline, bundle.meta, bundle.probe)
    video = write_person_video(tmp_path / "wave.avi")
    out = tmp_path / "labels.jsonl"
    code, _ = label(spoiled, video, "--out", out, "--top-k", 3)
    assert code == 0
    topk = dict(read_jsonl(out)[0]["topk"])
    np.testing.assert_allclose([topk[c] for c in "abc"], cached_video_probs(pose_alone_bundle, video), atol=1e-4)


def test_the_backbone_and_the_flow_are_not_run_live_where_the_pose_alone_names_the_action(
        pose_alone_bundle, tmp_path, monkeypatch):
    """Where validation gave the pose all the weight, the fused scores read nothing of the
    backbone's features or of the flow, and streaming computes neither (most of a step's
    time): `label_video` still gives the feature cache's scores."""
    from test_batch import cached_video_probs

    from actionrec import streaming
    from actionrec.batch import label_video
    from actionrec.bundle import load_bundle

    def unread(*args):
        raise AssertionError("computed a part of the features that no head reads")

    video = write_person_video(tmp_path / "wave.avi")
    expected = cached_video_probs(pose_alone_bundle, video)
    monkeypatch.setattr(streaming.FlowEncoder, "__call__", unread)
    row = label_video(video, streaming.StreamingRecognizer(load_bundle(pose_alone_bundle), encoder=unread))
    assert row["error"] is None, row["error"]
    topk = dict(row["topk"])
    np.testing.assert_allclose([topk[c] for c in "abc"], expected, atol=1e-4)
