"""Dataset layouts and group-aware splits. Videos are empty files: nothing is decoded."""

from __future__ import annotations

import os
import warnings
from pathlib import Path

import numpy as np
import pytest

from actionrec.datasets import VideoItem, group_of, group_split, load_dataset, split_train_val
from actionrec.errors import DatasetError

UCF_CLASSES = ("Archery", "ApplyEyeMakeup", "Basketball")  # classInd order, not sorted


def touch(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def make_ucf(root: Path, groups: int = 7, clips: int = 2,
             fold_test_groups: dict[int, tuple[int, ...]] | None = None,
             split_dir: Path | None = None) -> Path:
    """UCF101 layout with empty videos; fold K holds out `fold_test_groups[K]`."""
    fold_test_groups = fold_test_groups or {1: (1, 2), 2: (3, 4)}
    split_dir = split_dir or root / "ucfTrainTestlist"
    write_lines(split_dir / "classInd.txt", [f"{i} {c}" for i, c in enumerate(UCF_CLASSES, 1)])
    for fold, held_out in fold_test_groups.items():
        train, test = [], []
        for label, name in enumerate(UCF_CLASSES, 1):
            for g in range(1, groups + 1):
                for c in range(1, clips + 1):
                    rel = f"{name}/v_{name}_g{g:02d}_c{c:02d}.avi"
                    touch(root / rel)
                    if g in held_out:
                        test.append(rel)  # UCF test lists carry no label
                    else:
                        train.append(f"{rel} {label}")
        write_lines(split_dir / f"trainlist{fold:02d}.txt", train)
        write_lines(split_dir / f"testlist{fold:02d}.txt", test)
    return root


def class_group_keys(items: list[VideoItem]) -> set[tuple[int, str]]:
    return {(i.label, i.group) for i in items}


def assert_labels_match_folders(split, items):
    for item in items:
        assert split.class_names[item.label] in item.path.parts, item


# ---------------------------------------------------------------- (a) UCF101

def test_ucf101_classes_follow_classind_and_fold1_holds_out_its_groups(tmp_path):
    split = load_dataset(make_ucf(tmp_path / "UCF-101"))
    assert split.layout == "ucf101"
    assert "fold 1" in split.source
    assert split.class_names == list(UCF_CLASSES)
    assert len(split.test) == 3 * 2 * 2
    assert len(split.train) + len(split.val) == 3 * 5 * 2
    assert {i.group for i in split.test} == {"g01", "g02"}
    assert split.val, "validation videos are held out from train"
    assert not class_group_keys(split.train) & class_group_keys(split.val)
    assert_labels_match_folders(split, split.train + split.val + split.test)
    assert all(i.path.is_absolute() and i.path.is_file() for i in split.train)


def test_ucf101_fold2_selects_its_own_test_groups(tmp_path):
    split = load_dataset(make_ucf(tmp_path / "UCF-101"), fold=2)
    assert "fold 2" in split.source
    assert {i.group for i in split.test} == {"g03", "g04"}
    assert not {"g03", "g04"} & {i.group for i in split.train + split.val}


def test_ucf101_split_files_next_to_the_video_folder(tmp_path):
    root = make_ucf(tmp_path / "UCF-101", split_dir=tmp_path / "ucfTrainTestlist")
    split = load_dataset(root)
    assert split.layout == "ucf101"
    assert len(split.test) == 12


def test_ucf101_missing_fold_names_it_and_the_folds_present(tmp_path):
    root = make_ucf(tmp_path / "UCF-101")
    with pytest.raises(DatasetError, match=r"fold 3.*folds present: 1, 2"):
        load_dataset(root, fold=3)


def test_ucf101_missing_videos_are_all_counted_with_list_file_and_line(tmp_path):
    root = make_ucf(tmp_path / "UCF-101")
    for g in (3, 4, 5, 6):  # train groups of fold 1: 4 groups x 2 clips = 8 videos
        for c in (1, 2):
            (root / "Archery" / f"v_Archery_g{g:02d}_c{c:02d}.avi").unlink()
    with pytest.raises(DatasetError) as err:
        load_dataset(root)
    msg = str(err.value)
    assert "trainlist01.txt: 8 listed video(s) missing" in msg
    assert "trainlist01.txt:1: " in msg and "v_Archery_g03_c01.avi" in msg
    assert "and 3 more" in msg


def test_ucf101_class_not_in_classind_is_named(tmp_path):
    root = make_ucf(tmp_path / "UCF-101")
    test_list = root / "ucfTrainTestlist" / "testlist01.txt"
    test_list.write_text(test_list.read_text() + "Bowling/v_Bowling_g01_c01.avi\n")
    with pytest.raises(DatasetError, match=r"testlist01\.txt:13: class 'Bowling' is not in classInd"):
        load_dataset(root)


def test_ucf_style_folders_without_split_files_are_group_split(tmp_path):
    root = make_ucf(tmp_path / "UCF-101")
    for f in (root / "ucfTrainTestlist").iterdir():
        f.unlink()
    (root / "ucfTrainTestlist").rmdir()
    split = load_dataset(root)
    assert split.layout == "folders"
    assert split.class_names == sorted(UCF_CLASSES)
    assert len(split.train) + len(split.val) + len(split.test) == 3 * 7 * 2
    assert {i.group for i in split.test} <= {f"g{g:02d}" for g in range(1, 8)}


# ---------------------------------------------------------------- (b) split folders

def make_split_folders(root: Path, splits: dict[str, dict[str, int]]) -> Path:
    """`splits[split][class] = n_groups`, two clips per group named `<class>_sNN_tMM.mp4`."""
    for split, classes in splits.items():
        for name, n_groups in classes.items():
            for g in range(n_groups):
                for t in range(2):
                    touch(root / split / name / f"{name}_s{g:02d}_t{t:02d}.mp4")
    return root


def test_train_test_folders_hold_out_val_from_train_by_group(tmp_path):
    root = make_split_folders(tmp_path, {"train": {"wave": 5, "clap": 5, "jump": 4},
                                         "test": {"wave": 1, "clap": 2}})
    split = load_dataset(root)
    assert (split.layout, split.class_names) == ("folders", ["clap", "jump", "wave"])
    assert len(split.test) == 6 and len(split.train) + len(split.val) == 28
    assert {split.class_names[i.label] for i in split.val} == {"clap", "jump", "wave"}
    assert not class_group_keys(split.train) & class_group_keys(split.val)
    assert_labels_match_folders(split, split.train + split.val + split.test)


def test_val_and_test_folders_are_used_as_given(tmp_path):
    root = make_split_folders(tmp_path, {"train": {"a": 3, "b": 3}, "val": {"a": 1, "b": 1},
                                         "test": {"a": 2, "b": 2}})
    split = load_dataset(root)
    assert (len(split.train), len(split.val), len(split.test)) == (12, 4, 8)
    assert all("val" in i.path.parts for i in split.val)


def test_a_test_folder_alone_is_every_video_a_test_video(tmp_path):
    """A held-out folder handed over on its own (`test/<class>/`): evaluate scores all of
    it, where a folder of classes would have held out only a share, and a class called
    `test` beside others is still a class."""
    root = make_split_folders(tmp_path / "a", {"test": {"wave": 3, "clap": 2}})
    split = load_dataset(root)
    assert (split.class_names, len(split.test), split.train, split.val) == (["clap", "wave"], 10, [], [])
    assert_labels_match_folders(split, split.test)
    from actionrec.config import load_config
    from actionrec.pipeline import train
    with pytest.raises(DatasetError, match=r"no training videos \(a test/ folder alone.*evaluate"):
        train(root, load_config(), tmp_path / "b.safetensors", progress=False)
    classes = make_split_folders(tmp_path / "b", {"test": {"x": 4}, "other": {"y": 4}})
    assert load_dataset(classes).class_names == ["other", "test"]


def test_val_folder_without_test_folder_is_the_test_set(tmp_path):
    root = make_split_folders(tmp_path, {"train": {"a": 4, "b": 4}, "val": {"a": 1, "b": 1}})
    split = load_dataset(root)
    assert len(split.test) == 4 and all("val" in i.path.parts for i in split.test)
    assert split.val and all("train" in i.path.parts for i in split.val)


def test_test_class_missing_from_train_is_named(tmp_path):
    root = make_split_folders(tmp_path, {"train": {"a": 2}, "test": {"a": 1, "zebra": 1}})
    with pytest.raises(DatasetError, match=r"zebra.*has no folder in .*train"):
        load_dataset(root)


# ---------------------------------------------------------------- (c) list files

def make_list_dataset(root: Path, n_groups: int = 4) -> Path:
    """Videos under `root/clips/` and train.txt/test.txt naming them by class name."""
    train, test = [], []
    for name in ("run", "jump"):
        for g in range(n_groups):
            rel = f"clips/{name} take/{name}_s{g:02d}_t00.avi"  # a space in the folder name
            touch(root / rel)
            (test if g == 0 else train).append(f"{rel}   {name}")
    write_lines(root / "train.txt", ["# path label", ""] + train)
    write_lines(root / "test.txt", test)
    return root


def test_list_files_give_classes_from_train_labels_and_allow_spaces(tmp_path):
    split = load_dataset(make_list_dataset(tmp_path))
    assert (split.layout, split.class_names) == ("list", ["jump", "run"])
    assert len(split.test) == 2 and len(split.train) + len(split.val) == 6
    assert all(" take" in i.path.parent.name for i in split.train + split.test)
    for item in split.train + split.val + split.test:
        assert item.path.name.startswith(split.class_names[item.label])


def test_classes_txt_fixes_the_class_order_and_val_txt_is_used(tmp_path):
    root = make_list_dataset(tmp_path)
    write_lines(root / "classes.txt", ["run", "jump", "swim"])
    write_lines(root / "val.txt", ["clips/run take/run_s01_t00.avi run"])
    (root / "train.txt").write_text("\n".join(
        line for line in (root / "train.txt").read_text().splitlines() if "run_s01" not in line))
    split = load_dataset(root)
    assert split.class_names == ["run", "jump", "swim"]
    assert [i.path.name for i in split.val] == ["run_s01_t00.avi"] and split.val[0].label == 0


def test_list_unknown_class_names_file_line_and_known_classes(tmp_path):
    root = make_list_dataset(tmp_path)
    with open(root / "test.txt", "a") as f:
        f.write("clips/run take/run_s00_t00.avi swim\n")
    with pytest.raises(DatasetError, match=r"test\.txt:3: unknown class 'swim' \(known: jump, run\)"):
        load_dataset(root)


def test_list_unknown_class_against_classes_txt(tmp_path):
    root = make_list_dataset(tmp_path)
    write_lines(root / "classes.txt", ["run"])
    with pytest.raises(DatasetError, match=r"train\.txt:6: unknown class 'jump' \(known: run\)"):
        load_dataset(root)


def test_list_line_with_one_token_names_file_and_line(tmp_path):
    root = make_list_dataset(tmp_path)
    write_lines(root / "test.txt", ["clips/run take/run_s00_t00.avi run", "lonely.avi"])
    with pytest.raises(DatasetError, match=r"test\.txt:2: expected '<path> <class name>'"):
        load_dataset(root)


@pytest.mark.parametrize("escape", ["../outside.avi", "absolute"])
def test_list_path_outside_root_is_refused_unless_allowed(tmp_path, escape):
    root = make_list_dataset(tmp_path / "data")
    outside = touch(tmp_path / "outside.avi")
    listed = str(outside) if escape == "absolute" else escape
    with open(root / "train.txt", "a") as f:
        f.write(f"{listed} run\n")
    with pytest.raises(DatasetError, match=r"train\.txt:9: path .* is outside the dataset root"):
        load_dataset(root)
    split = load_dataset(root, allow_outside_root=True)
    assert outside.resolve() in {i.path for i in split.train + split.val}


def test_list_missing_video_names_file_line_and_path(tmp_path):
    root = make_list_dataset(tmp_path)
    (root / "clips" / "jump take" / "jump_s02_t00.avi").unlink()
    with pytest.raises(DatasetError, match=r"train\.txt:7: clips/jump take/jump_s02_t00\.avi") as err:
        load_dataset(root)
    assert "1 listed video(s) missing" in str(err.value)


def test_single_list_file_is_group_split(tmp_path):
    lines = []
    for name in ("a", "b"):
        for g in range(6):
            for t in range(2):
                lines.append(f"{touch(tmp_path / 'v' / f'{name}_s{g:02d}_t{t}.avi')} {name}")
    split = load_dataset(write_lines(tmp_path / "all.txt", lines))
    assert (split.layout, split.class_names) == ("list", ["a", "b"])
    assert len(split.train) + len(split.val) + len(split.test) == 24
    assert {i.label for i in split.test} == {0, 1}
    assert not class_group_keys(split.train) & class_group_keys(split.test)


# ---------------------------------------------------------------- (d) folder per class

def test_class_folders_walk_recursively_and_survive_symlink_loops(tmp_path):
    for name in ("wave", "clap"):
        for session in range(3):
            for take in range(2):
                touch(tmp_path / name / f"session{session}" / f"take{take}.AVI")
    touch(tmp_path / "wave" / "notes.txt")
    touch(tmp_path / "wave" / ".half_written.tmp.avi")
    os.symlink(tmp_path / "wave", tmp_path / "wave" / "session0" / "loop")
    split = load_dataset(tmp_path)
    items = split.train + split.val + split.test
    assert (split.layout, split.class_names) == ("folders", ["clap", "wave"])
    assert len(items) == 12
    assert {i.group for i in items} == {"session0", "session1", "session2"}
    assert {i.label for i in split.test} == {0, 1}


def test_class_folder_without_videos_is_named(tmp_path):
    touch(tmp_path / "wave" / "a.mp4")
    touch(tmp_path / "clap" / "readme.txt")
    with pytest.raises(DatasetError, match=r"clap.*has no videos"):
        load_dataset(tmp_path)


def test_empty_root_is_named(tmp_path):
    with pytest.raises(DatasetError, match=str(tmp_path)):
        load_dataset(tmp_path)


def test_missing_root_is_named(tmp_path):
    with pytest.raises(DatasetError, match=r"nope: dataset root does not exist"):
        load_dataset(tmp_path / "nope")


# ---------------------------------------------------------------- groups and splits

@pytest.mark.parametrize("rel, expected", [
    ("Archery/v_Archery_g08_c01.avi", "g08"),
    ("Archery/session3/clip.avi", "session3"),
    ("wave/wave_s02_t003.avi", "s02"),
    ("wave/my clip.avi", "my clip"),
])
def test_group_of(tmp_path, rel, expected):
    class_dir = tmp_path / rel.split("/")[0]
    assert group_of(tmp_path / rel, class_dir) == expected


def synthetic_items(groups_per_class: dict[int, int], clips: int = 3) -> list[VideoItem]:
    return [VideoItem(Path(f"/d/{label}/g{g}_c{c}.avi"), label, f"g{g:02d}")
            for label, n in groups_per_class.items() for g in range(n) for c in range(clips)]


def test_group_split_keeps_groups_whole_and_every_class_in_train_and_test():
    items = synthetic_items({0: 10, 1: 7, 2: 2, 3: 25})
    train, val, test = group_split(items, 0.15, 0.25, seed=0)
    assert len(train) + len(val) + len(test) == len(items)
    keys = [class_group_keys(part) for part in (train, val, test)]
    assert not keys[0] & keys[1] and not keys[0] & keys[2] and not keys[1] & keys[2]
    for label in range(4):
        assert label in {i.label for i in train} and label in {i.label for i in test}
    assert {i.label for i in val} == {0, 1, 3}  # 2 groups: one train, one test, no val


def test_group_split_is_deterministic_per_seed_and_differs_across_seeds():
    items = synthetic_items({0: 10, 1: 10, 2: 10})
    assert group_split(items, 0.15, 0.25, seed=0) == group_split(items, 0.15, 0.25, seed=0)
    assert group_split(items, 0.15, 0.25, seed=0) != group_split(items, 0.15, 0.25, seed=1)


@pytest.mark.parametrize("n_groups, counts", [(2, (1, 0, 1)), (3, (2, 0, 1)), (4, (2, 1, 1)),
                                              (6, (3, 1, 2)), (20, (12, 3, 5))])
def test_group_split_minimums(n_groups, counts):
    train, val, test = group_split(synthetic_items({0: n_groups}, clips=1), 0.15, 0.25, seed=0)
    assert (len(train), len(val), len(test)) == counts


def test_single_group_class_goes_to_train_with_a_warning_naming_it():
    items = synthetic_items({0: 5, 1: 1})
    with pytest.warns(UserWarning, match="lonely"):
        train, val, test = group_split(items, 0.15, 0.25, seed=0, class_names=["busy", "lonely"])
    assert {i.label for i in test} == {0}
    assert sum(i.label == 1 for i in train) == 3


def test_split_train_val_holds_out_whole_groups_of_each_class():
    items = synthetic_items({0: 18, 1: 18})
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        train, val = split_train_val(items, 0.15, seed=0)
    assert len({i.group for i in val if i.label == 0}) == 3
    assert not class_group_keys(train) & class_group_keys(val)


def test_a_scene_held_out_of_one_class_is_held_out_of_every_class_that_has_it():
    """UCF's `gNN` is one scene in every class (the demo's backgrounds; a recording session
    `sNN` of the record flow): a class must never train on the scene another is judged on."""
    items = synthetic_items({0: 9, 1: 9, 2: 9})
    for seed in range(4):
        train, val, test = group_split(items, 0.15, 0.25, seed=seed)
        for part in (val, test):
            held = [{i.group for i in part if i.label == label} for label in range(3)]
            assert held[0] == held[1] == held[2] and held[0]
            assert not {i.group for i in train} & held[0]
        train, val = split_train_val(items, 0.2, seed=seed)
        assert not {i.group for i in train} & {i.group for i in val}
    own_names = [VideoItem(Path(f"/d/{label}/{label}_{k}.mp4"), label, f"{label}_{k}")
                 for label in range(3) for k in range(10)]          # names no other class shares
    train, val = split_train_val(own_names, 0.2, seed=0)
    assert [sum(i.label == label for i in val) for label in range(3)] == [2, 2, 2]


def test_single_session_classes_hold_out_single_takes_and_two_sessions_hold_out_a_session():
    """The `personal` preset: one session of 5 takes -> 3 train / 1 val / 1 test takes,
    with a warning naming the class; a class recorded in 3 sessions keeps them whole."""
    one_session = [VideoItem(Path(f"/d/wave/wave_s01_t{t:02d}.mp4"), 0, "s01") for t in range(1, 6)]
    three_sessions = [VideoItem(Path(f"/d/clap/clap_s{s:02d}_t{t:02d}.mp4"), 1, f"s{s:02d}")
                      for s in (1, 2, 3) for t in range(1, 6)]
    items = one_session + three_sessions
    with pytest.warns(UserWarning, match=r"single recording session.*: wave\."):
        train, val, test = group_split(items, 0.2, 0.2, seed=0, class_names=["wave", "clap"],
                                       single_group="videos")
    counts = [sum(i.label == 0 for i in part) for part in (train, val, test)]
    assert counts == [3, 1, 1]
    for part in (val, test):
        assert len({i.group for i in part if i.label == 1}) == 1      # one whole session each
    assert not class_group_keys(train) & class_group_keys(test)
    with pytest.warns(UserWarning, match="go wholly to train"):
        train, val, test = group_split(items, 0.2, 0.2, seed=0, class_names=["wave", "clap"])
    assert sum(i.label == 0 for i in train) == 5                       # the default: all to train


def test_recorded_folder_is_split_by_takes_through_load_dataset(tmp_path):
    for label in ("wave", "clap"):
        for t in range(1, 6):
            touch(tmp_path / label / f"{label}_s01_t{t:02d}.mp4")
    with pytest.warns(UserWarning, match="single recording session"):
        split = load_dataset(tmp_path, val_fraction=0.2, test_fraction=0.2, single_group="videos")
    assert (len(split.train), len(split.val), len(split.test)) == (6, 2, 2)
    with pytest.raises(Exception, match="single_group='sessions' is not one of train, videos"):
        load_dataset(tmp_path, single_group="sessions")


def test_clips_of_one_recording_are_grouped_by_similarity_and_never_straddle_train_and_val():
    from actionrec.datasets import regroup_similar, split_train_val
    rng = np.random.default_rng(0)
    recordings = rng.normal(size=(6, 32))                 # 6 recordings of one class, 4 clips each
    items, descriptors = [], []
    for r, base in enumerate(recordings):
        for c in range(4):
            items.append(VideoItem(Path(f"/d/squat/clip_{r}_{c}.mp4"), 0, f"clip_{r}_{c}"))
            d = base + 0.05 * rng.normal(size=32)
            descriptors.append(d / np.linalg.norm(d))
    grouped = regroup_similar(items, np.stack(descriptors), 0.95)
    assert len({i.group for i in grouped}) == 6
    for seed in range(5):
        train, val = split_train_val(grouped, 0.34, seed)
        recording = lambda i: i.path.stem.split("_")[1]
        assert val and not {recording(i) for i in train} & {recording(i) for i in val}


def test_named_groups_and_other_classes_are_never_joined_by_similarity():
    from actionrec.datasets import regroup_similar
    same = np.ones((3, 4)) / 2.0                           # identical descriptors
    items = [VideoItem(Path("/d/a/v_a_g01_c01.avi"), 0, "g01"), VideoItem(Path("/d/a/x.mp4"), 0, "x"),
             VideoItem(Path("/d/b/y.mp4"), 1, "y")]
    grouped = regroup_similar(items, same, 0.9)
    assert [i.group for i in grouped] == ["g01", "~x", "~y"]


def test_recordings_are_told_apart_by_their_scenes_whatever_the_pose_and_flow_channels_say():
    """Two recordings of other scenes whose people hide their legs (pose channels reading
    `pose.UNSEEN`) or move alike (flow) stay two groups: only the backbone's channels
    describe a recording's look."""
    from actionrec.datasets import regroup_similar
    from actionrec.pipeline import appearance_descriptor
    from actionrec.pose import UNSEEN
    rng = np.random.default_rng(0)
    scenes = rng.uniform(0, 1, (2, 32))
    items, descriptors = [], []
    for r, scene in enumerate(scenes):
        motion = np.zeros((20, 4, 6), np.float32)
        motion[r * 6:, :, 2:] = UNSEEN                  # the legs leave the frame
        features = np.concatenate([np.broadcast_to(scene, (20, 4, 32)), motion], axis=-1)
        items.append(VideoItem(Path(f"/d/squat/take{r}.mp4"), 0, f"take{r}"))
        descriptors.append(appearance_descriptor(features, 32))
    assert len(descriptors[0]) == 32
    assert len({i.group for i in regroup_similar(items, np.stack(descriptors), 0.95)}) == 2


def test_two_windows_that_meet_in_a_shared_view_of_one_scene_are_one_recording():
    """Two windows panning over one scene look different on average, but a step of one
    shows what a step of the other shows: one recording. A third scene stays apart."""
    from actionrec.datasets import regroup_similar
    from actionrec.pipeline import appearance_descriptor, step_descriptors
    rng = np.random.default_rng(0)
    views = rng.uniform(0, 1, (12, 32)) ** 4              # one scene, left to right; then another
    other = rng.uniform(0, 1, (6, 32)) ** 4
    clips = {"pan_a": views[:7], "pan_b": views[6:], "elsewhere": other}
    items = [VideoItem(Path(f"/d/squat/{name}.mp4"), 0, name) for name in clips]
    features = [np.repeat(v[:, None], 4, axis=1) for v in clips.values()]   # (N, S=4, C)
    descriptors = np.stack([appearance_descriptor(f, 32) for f in features])
    steps = [step_descriptors(f, 32) for f in features]
    assert descriptors[0] @ descriptors[1] < 0.9                              # the means alone: apart
    assert len({i.group for i in regroup_similar(items, descriptors, 0.9)}) == 3
    grouped = regroup_similar(items, descriptors, 0.9, steps, 0.85)
    assert grouped[0].group == grouped[1].group != grouped[2].group
