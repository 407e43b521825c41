"""Dataset layouts and splits -> lists of `VideoItem`s. No video is decoded here.

`load_dataset(root)` first tries the family formats of `formats.py` (HMDB51,
Kinetics-style CSV, Something-Something v2 JSON, time segments), then recognises
these layouts, in this order (`fmt` names one instead):

1. `root` is a file: one list file of `path label` lines, split by group
   (layout "list").
2. `root/train.txt` or `root/test.txt` exists: list files `train.txt`, `test.txt`,
   optional `val.txt` and `classes.txt` (layout "list").
3. `root/train/` exists: split folders `train/<Class>/`, plus `test/<Class>/` and/or
   `val/<Class>/` (layout "folders").
4. `root/ucfTrainTestlist/` or `root/../ucfTrainTestlist/` exists: UCF101 as
   distributed, `root/<Class>/v_<Class>_gNN_cMM.avi` with the official folds
   (layout "ucf101").
5. Otherwise one folder per class, `root/<Class>/**/<video>`, split by group
   (layout "folders").

Whenever no split file or folder says which videos are validation (or test)
videos, they are held out *by group* (`group_of`): clips cut from one recording
(UCF's `gNN`, a session subfolder, a `_sNN_` name) never straddle two splits, and a
group name that several classes share goes to the same split in each (`group_order`). A
class with a single group goes wholly to train, or, with `single_group="videos"`
(the `personal` preset: one recording session per action), is split by video.
"""

from __future__ import annotations

import os
import random
import re
import warnings
from collections import defaultdict
from dataclasses import dataclass, replace
from pathlib import Path, PurePosixPath
from typing import Sequence

import numpy as np

from .errors import ConfigError, DatasetError
from .formats import FORMATS, detect_format, load_family

VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".webm", ".m4v", ".mpg", ".mpeg")
UCF_SPLIT_DIR = "ucfTrainTestlist"
LAYOUTS = ("ucf101", "folders", "list")
FAMILY = ("hmdb51", "kinetics", "ssv2", "segments")   # `formats.py`
RECORDINGS_FILE = "recordings.json"   # written by `actionrec record`: a personal dataset
SINGLE_GROUP_POLICIES = ("train", "videos")

_UCF_NAME = re.compile(r"v_(.+)_g(\d+)_c(\d+)")
_SESSION_NAME = re.compile(r".+_(s\d+)_[^_]+")
_PATH_AND_LABEL = re.compile(r"(.*\S)\s+(\S+)")
# `clip.avi,label` or `1;Class`: a separator other than the whitespace every file here uses.
_PATH_WRONG_SEPARATOR = re.compile(r"(.*\.[A-Za-z0-9]{2,5})\s*([,;|])\s*([^\s,;|]+)")
_INDEX_WRONG_SEPARATOR = re.compile(r"(\d+)\s*([,;|])\s*(.+)")
_SHOW = 5  # how many offending entries an error message lists


@dataclass(frozen=True)
class VideoItem:
    """One labelled video, or a segment of one. `path` is absolute and resolved; `label`
    indexes `class_names`; `start` and `end` (seconds) cut a segment out of the video's
    timeline (None: the whole video)."""

    path: Path
    label: int
    group: str
    start: float | None = None
    end: float | None = None

    @property
    def name(self) -> str:
        """How messages and results call it: the path, with the segment's times."""
        return str(self.path) if self.start is None else f"{self.path}@{self.start:g}-{self.end:g}s"


@dataclass
class DatasetSplit:
    """Class names and the train/val/test items of one dataset and split."""

    class_names: list[str]
    train: list[VideoItem]
    val: list[VideoItem]
    test: list[VideoItem]
    layout: str
    source: str
    derived: tuple[str, ...] = ("val",)   # the parts split off here by group, not given by the dataset

    @property
    def explicit_test(self) -> bool:
        """The dataset names its test videos (a split file or folder): never train on them."""
        return "test" not in self.derived

    def describe(self) -> str:
        """One line for logs: layout, source and the size of each split."""
        return (f"{self.layout} ({self.source}): {len(self.class_names)} classes, "
                f"train {len(self.train)} / val {len(self.val)} / test {len(self.test)} videos")


def load_dataset(root: str | Path, fold: int = 1, val_fraction: float = 0.15,
                 test_fraction: float = 0.25, seed: int = 0,
                 allow_outside_root: bool = False, single_group: str = "train",
                 fmt: str = "auto") -> DatasetSplit:
    """Find the layout of `root` (see the module docstring; `fmt` names it instead, or
    one of the family formats of `formats.py`, which are detected first) and return its split.

    `fold` picks the UCF101 split (1..3). `val_fraction` and `test_fraction` are
    fractions of each class's groups, used only where the layout has no such split.
    `single_group` says what happens to a class with one group there: "train" (all
    of it trains) or "videos" (its videos are split one by one).
    List files may name videos outside `root` only with `allow_outside_root`.
    Raises `DatasetError` naming the file (and line) at fault.
    """
    check_fractions(val_fraction, test_fraction)
    if single_group not in SINGLE_GROUP_POLICIES:
        raise ConfigError(f"single_group={single_group!r} is not one of {', '.join(SINGLE_GROUP_POLICIES)}")
    root = Path(os.path.abspath(Path(root).expanduser()))
    if not root.exists():
        raise DatasetError(f"{root}: dataset root does not exist")
    if fmt not in FORMATS:
        raise ConfigError(f"data.format={fmt!r} is not one of {', '.join(FORMATS)}")
    family = detect_format(root) if fmt == "auto" else fmt if fmt in FAMILY else None
    if family is not None:
        split = load_family(family, root, fold, val_fraction, test_fraction, seed)
    elif root.is_file():
        split = _load_single_list(root, val_fraction, test_fraction, seed, allow_outside_root, single_group)
    elif fmt == "ucf101" and (split_dir := _find_ucf_split_dir(root)) is None:
        raise DatasetError(f"{root}: no {UCF_SPLIT_DIR}/ here or beside it (--format ucf101)")
    elif fmt == "ucf101":
        split = _load_ucf101(root, split_dir, fold, val_fraction, seed, allow_outside_root, single_group)
    elif fmt != "folders" and ((root / "train.txt").exists() or (root / "test.txt").exists()):
        split = _load_list_dir(root, val_fraction, seed, allow_outside_root, single_group)
    elif fmt != "list" and (root / "train").is_dir():
        split = _load_split_folders(root, val_fraction, seed, single_group)
    elif fmt != "list" and [d.name for d in class_dirs(root)] == ["test"]:
        split = _load_test_folder(root)
    elif fmt == "auto" and (split_dir := _find_ucf_split_dir(root)) is not None:
        split = _load_ucf101(root, split_dir, fold, val_fraction, seed, allow_outside_root, single_group)
    else:
        split = _load_class_folders(root, val_fraction, test_fraction, seed, single_group)
    _check_disjoint(split)
    return split


def check_fractions(val_fraction: float, test_fraction: float) -> None:
    """Raise `ConfigError` unless both fractions are in [0, 1) and leave some training data."""
    for name, value in (("val_fraction", val_fraction), ("test_fraction", test_fraction)):
        if not 0.0 <= value < 1.0:
            raise ConfigError(f"{name} must be in [0, 1), got {value}")
    if val_fraction + test_fraction >= 1.0:
        raise ConfigError(f"val_fraction + test_fraction must be below 1, got "
                          f"{val_fraction} + {test_fraction}")


# ---------------------------------------------------------------- groups and splits

def group_of(path: Path, class_dir: Path | None) -> str:
    """The recording a video was cut from, for group-aware splitting.

    In order: UCF's `v_<Class>_gNN_cMM` -> "gNN"; a video in a subfolder of its class
    folder (`Class/session3/x.avi`) -> "session3"; a `<name>_s<NN>_<take>` name
    (`wave_s02_t003.avi`) -> "s02"; otherwise the file stem (its own group).
    Groups are per class: the split keys on `(label, group)`.
    """
    path = Path(path)
    ucf = _UCF_NAME.fullmatch(path.stem)
    if ucf:
        return f"g{ucf.group(2)}"
    if class_dir is not None:
        try:
            parts = path.relative_to(class_dir).parts
        except ValueError:
            parts = ()
        if len(parts) > 1:
            return parts[0]
    session = _SESSION_NAME.fullmatch(path.stem)
    if session:
        return session.group(1)
    return path.stem


def group_split(items: Sequence[VideoItem], val_fraction: float, test_fraction: float,
                seed: int, class_names: Sequence[str] | None = None, single_group: str = "train",
                ) -> tuple[list[VideoItem], list[VideoItem], list[VideoItem]]:
    """Split items into (train, val, test) by group, stratified by class.

    Per class, its groups are taken in one order drawn for all the group names
    (`group_order`), then `round(test_fraction * n)` groups go to test and
    `round(val_fraction * n)` to val (see `_test_group_count`, `_val_group_count` for the
    minimums). So a group name that several classes share (UCF's `gNN`, the scene of a
    group; a recording session `sNN`) falls on the same side in each of them. A class with a
    single group goes wholly to train, with a warning naming it; with
    `single_group="videos"` each of its videos is a group instead (`regroup_single`).
    Item order is kept.
    """
    check_fractions(val_fraction, test_fraction)
    items = regroup_single(items, single_group, class_names)
    order, assignment, single = group_order(items, seed), {}, []
    for label, groups in _groups_by_class(items).items():
        n_test = _test_group_count(len(groups), test_fraction)
        n_val = _val_group_count(len(groups), len(groups) - n_test, val_fraction)
        assignment.update(_assign(label, groups, n_test, n_val, order))
        if len(groups) == 1:
            single.append(class_names[label] if class_names else f"label {label}")
    if single:
        warnings.warn(f"{len(single)} class(es) have a single group and go wholly to train "
                      f"(no test or val videos): {', '.join(single)}", stacklevel=2)
    return _partition(items, assignment)


def split_train_val(items: Sequence[VideoItem], val_fraction: float, seed: int,
                    class_names: Sequence[str] | None = None, single_group: str = "train",
                    ) -> tuple[list[VideoItem], list[VideoItem]]:
    """Hold out `round(val_fraction * n)` groups of each class as val; same rules as `group_split`."""
    check_fractions(val_fraction, 0.0)
    items = regroup_single(items, single_group, class_names)
    order, assignment = group_order(items, seed), {}
    for label, groups in _groups_by_class(items).items():
        n_val = _val_group_count(len(groups), len(groups), val_fraction)
        assignment.update(_assign(label, groups, 0, n_val, order))
    train, val, _ = _partition(items, assignment)
    return train, val


def regroup_similar(items: Sequence[VideoItem], descriptors: np.ndarray, threshold: float,
                    steps: Sequence[np.ndarray] | None = None, step_threshold: float = 1.0) -> list[VideoItem]:
    """Join videos that name no recording (their group is their own file name) into groups
    of near-duplicates: clips cut from one recording look alike. Per class, two such videos
    share a group when their unit `descriptors` `(len(items), F)` have a cosine similarity
    of at least `threshold`, or (with `steps`: each video's `(k, F)` unit step descriptors)
    when a step of one and a step of the other have one of at least `step_threshold` (two
    windows panning over one scene, or a recording cut in two, meet in a shared view); so
    does every video linked to them (connected components, named after their first video:
    `~<stem>`). Other videos keep their group."""
    items = list(items)
    lone = [k for k, item in enumerate(items) if item.group == item.path.stem]
    parent = {k: k for k in lone}

    def root(k: int) -> int:
        while parent[k] != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for label in sorted({items[k].label for k in lone}):
        members = [k for k in lone if items[k].label == label]
        similar = descriptors[members] @ descriptors[members].T >= threshold
        if steps is not None:
            similar |= max_step_similarity([steps[k] for k in members]) >= step_threshold
        for a, b in zip(*np.nonzero(np.triu(similar, 1))):
            parent[max(root(members[a]), root(members[b]))] = min(root(members[a]), root(members[b]))
    for k in lone:
        items[k] = replace(items[k], group=f"~{items[root(k)].path.stem}")
    return items


def max_step_similarity(steps: Sequence[np.ndarray]) -> np.ndarray:
    """Each video's `(k, F)` unit step descriptors -> `(n, n)`: for each two videos, the
    highest cosine between a step of one and a step of the other."""
    starts = np.cumsum([0, *(len(s) for s in steps[:-1])])
    stacked = np.concatenate(steps)
    sims = stacked @ stacked.T
    return np.maximum.reduceat(np.maximum.reduceat(sims, starts, axis=0), starts, axis=1)


def groups_per_class(items: Sequence[VideoItem], class_names: Sequence[str]) -> dict[str, int]:
    """How many groups (recordings) each class's videos come from."""
    return {class_names[label]: len(groups) for label, groups in _groups_by_class(items).items()}


def regroup_single(items: Sequence[VideoItem], single_group: str,
                   class_names: Sequence[str] | None = None) -> list[VideoItem]:
    """With `single_group="videos"`, each video of a class that has a single group (one
    recording session) becomes its own group, so that some of its videos can be held
    out; a warning names those classes. With "train", `items` unchanged."""
    items = list(items)
    if single_group == "train":
        return items
    single = [label for label, groups in _groups_by_class(items).items()
              if len(groups) == 1 and sum(i.label == label for i in items) > 1]
    if not single:
        return items
    names = [class_names[label] if class_names else f"label {label}" for label in single]
    warnings.warn(f"{len(single)} class(es) have a single recording session, so single takes of it are "
                  f"held out instead: {', '.join(names)}. Takes of one session look alike, so held-out "
                  f"accuracy is optimistic; record a second session for an honest estimate", stacklevel=3)
    return [replace(i, group=i.path.stem) if i.label in single else i for i in items]


def _test_group_count(n_groups: int, fraction: float) -> int:
    """Test groups of a class: at least 1 once it has 2 groups; train always keeps 1."""
    if fraction == 0 or n_groups < 2:
        return 0
    return min(max(1, int(fraction * n_groups + 0.5)), n_groups - 1)


def _val_group_count(n_groups: int, remaining: int, fraction: float) -> int:
    """Val groups of a class: at least 1 once 3 groups remain after test; train keeps 1."""
    if fraction == 0 or remaining < 2:
        return 0
    wanted = int(fraction * n_groups + 0.5)
    if remaining >= 3:
        wanted = max(1, wanted)
    return min(wanted, remaining - 1)


def _groups_by_class(items: Sequence[VideoItem]) -> dict[int, list[str]]:
    groups = defaultdict(set)
    for item in items:
        groups[item.label].add(item.group)
    return {label: sorted(groups[label]) for label in sorted(groups)}


def group_order(items: Sequence[VideoItem], seed: int) -> dict[str, int]:
    """Each group name's place in one shuffle of all the names (`random.Random(seed)`):
    the order in which every class gives its groups to test, then val. A scene or a
    session held out of one class is then held out of every class that has it, so no
    class trains on the scene that another class is judged on."""
    names = sorted({item.group for item in items})
    random.Random(seed).shuffle(names)
    return {name: place for place, name in enumerate(names)}


def _assign(label: int, groups: list[str], n_test: int, n_val: int, order: dict[str, int]) -> dict:
    out = {}
    for i, group in enumerate(sorted(groups, key=order.__getitem__)):
        out[(label, group)] = "test" if i < n_test else "val" if i < n_test + n_val else "train"
    return out


def _partition(items: Sequence[VideoItem], assignment: dict):
    parts = {"train": [], "val": [], "test": []}
    for item in items:
        parts[assignment[(item.label, item.group)]].append(item)
    return parts["train"], parts["val"], parts["test"]


def _check_disjoint(split: DatasetSplit) -> None:
    names = ("train", "val", "test")
    paths = {name: {item.name for item in getattr(split, name)} for name in names}
    for i, a in enumerate(names):
        for b in names[i + 1:]:
            shared = sorted(paths[a] & paths[b])
            if shared:
                raise DatasetError(f"{len(shared)} video(s) are in both {a} and {b} ({split.source}), "
                                   f"e.g. {', '.join(str(p) for p in shared[:_SHOW])}")


# ---------------------------------------------------------------- folders

def _walk_videos(folder: Path) -> list[Path]:
    """Every video under `folder`, recursively and sorted. Hidden files and folders are
    skipped (half-written temporaries); a symlinked folder is entered once, never in a loop."""
    found, seen, broken = [], set(), []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames[:] = [d for d in dirnames if not d.startswith(".")]
        for name in filenames:
            if name.startswith(".") or not name.lower().endswith(VIDEO_EXTENSIONS):
                continue
            path = Path(dirpath) / name
            (found if path.is_file() else broken).append(path)
    if broken:
        warnings.warn(f"{folder}: skipped {len(broken)} broken link(s), e.g. {broken[0]}", stacklevel=3)
    return sorted(found)


def class_dirs(parent: Path) -> list[Path]:
    """The class folders of `parent`, sorted; hidden ones left out."""
    return sorted(p for p in parent.iterdir() if p.is_dir() and not p.name.startswith("."))


def _items_from_class_folders(parent: Path, class_index: dict[str, int],
                              classes_from: Path) -> list[VideoItem]:
    """Items of every `parent/<Class>/**/<video>`; each class must be in `class_index`."""
    items = []
    for class_dir in class_dirs(parent):
        label = class_index.get(class_dir.name)
        if label is None:
            raise DatasetError(f"{class_dir}: class {class_dir.name!r} has no folder in "
                               f"{classes_from} (known: {_preview(class_index)})")
        videos = _walk_videos(class_dir)
        if not videos:
            raise DatasetError(f"{class_dir}: class {class_dir.name!r} has no videos "
                               f"(looked for {', '.join(VIDEO_EXTENSIONS)})")
        items += [VideoItem(v.resolve(), label, group_of(v, class_dir)) for v in videos]
    return items


def _load_class_folders(root: Path, val_fraction: float, test_fraction: float,
                        seed: int, single_group: str = "train") -> DatasetSplit:
    folders = class_dirs(root)
    if not folders:
        raise DatasetError(f"{root}: no dataset found: expected class folders <Class>/<video>, "
                           f"train/ and test/ folders, train.txt and test.txt, or {UCF_SPLIT_DIR}/")
    names = [d.name for d in folders]
    items = _items_from_class_folders(root, {n: i for i, n in enumerate(names)}, root)
    train, val, test = group_split(items, val_fraction, test_fraction, seed, names, single_group)
    return DatasetSplit(names, train, val, test, "folders", f"group split seed {seed}", ("val", "test"))


def _load_split_folders(root: Path, val_fraction: float, seed: int,
                        single_group: str = "train") -> DatasetSplit:
    train_dir, val_dir, test_dir = root / "train", root / "val", root / "test"
    if not test_dir.is_dir() and not val_dir.is_dir():
        raise DatasetError(f"{root}: has train/ but neither test/ nor val/")
    names = [d.name for d in class_dirs(train_dir)]
    if not names:
        raise DatasetError(f"{train_dir}: no class folders")
    index = {n: i for i, n in enumerate(names)}
    train = _items_from_class_folders(train_dir, index, train_dir)
    if test_dir.is_dir() and val_dir.is_dir():
        val = _items_from_class_folders(val_dir, index, train_dir)
        test = _items_from_class_folders(test_dir, index, train_dir)
        return DatasetSplit(names, train, val, test, "folders", "train/val/test folders", ())
    held_out = test_dir if test_dir.is_dir() else val_dir
    test = _items_from_class_folders(held_out, index, train_dir)
    train, val = split_train_val(train, val_fraction, seed, names, single_group)
    return DatasetSplit(names, train, val, test, "folders",
                        f"train/{held_out.name} folders ({held_out.name}/ is the test set); "
                        f"val by group split seed {seed}")


def _load_test_folder(root: Path) -> DatasetSplit:
    """`root/test/<class>/` alone, as a held-out folder is handed over: every video is a
    test video (for `evaluate`; `train` needs videos to train on)."""
    test_dir = root / "test"
    names = [d.name for d in class_dirs(test_dir)]
    if not names:
        raise DatasetError(f"{test_dir}: no class folders")
    test = _items_from_class_folders(test_dir, {n: i for i, n in enumerate(names)}, test_dir)
    return DatasetSplit(names, [], [], test, "folders", "a test/ folder alone: every video is a test video", ())


# ---------------------------------------------------------------- list files

def _content_lines(path: Path) -> list[tuple[int, str]]:
    """(line number, stripped text) of each non-blank, non-`#` line of a text file."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise DatasetError(f"{path}: cannot read: {e}") from e
    # Only line feeds end lines (read_text has turned CR and CRLF into them): splitlines()
    # also splits at \v, \f, \x1c-\x1e, \x85 and \u2028, and line numbers would disagree
    # with the user's editor.
    lines = [(n, line.strip()) for n, line in enumerate(text.split("\n"), start=1)]
    return [(n, t) for n, t in lines if t and not t.startswith("#")]


def _refuse_wrong_separator(pattern: re.Pattern, text: str, where: str, expected: str) -> None:
    """Raise a `DatasetError` saying which separator is expected if `text` matches `pattern`."""
    match = pattern.fullmatch(text)
    if match is not None:
        raise DatasetError(f"{where}: fields are separated by {match.group(2)!r}; expected "
                           f"{expected} separated by whitespace (spaces or a tab), got {text!r}")


def _refuse_repeat(seen: dict[Path, int], path: Path, text: str, where: str, lineno: int) -> None:
    """Raise a `DatasetError` if `path` was already listed in this file; else remember it."""
    if path in seen:
        raise DatasetError(f"{where}: {text!r} is listed twice (first on line {seen[path]})")
    seen[path] = lineno


def _parse_list_file(path: Path) -> list[tuple[int, str, str]]:
    """(line number, path text, label) per `path label` line; split on the last whitespace."""
    entries = []
    for lineno, text in _content_lines(path):
        _refuse_wrong_separator(_PATH_WRONG_SEPARATOR, text, f"{path}:{lineno}", "'<path> <class name>'")
        match = _PATH_AND_LABEL.fullmatch(text)
        if match is None:
            raise DatasetError(f"{path}:{lineno}: expected '<path> <class name>', got {text!r}")
        entries.append((lineno, match.group(1), match.group(2)))
    if not entries:
        raise DatasetError(f"{path}: list file has no entries")
    return entries


def _read_class_names(path: Path) -> list[str]:
    names = []
    for lineno, name in _content_lines(path):
        if name in names:
            raise DatasetError(f"{path}:{lineno}: class {name!r} listed twice")
        names.append(name)
    if not names:
        raise DatasetError(f"{path}: no class names")
    return names


def _items_from_list(list_file: Path, entries: list[tuple[int, str, str]],
                     class_index: dict[str, int], root: Path,
                     allow_outside_root: bool) -> list[VideoItem]:
    items, missing, seen = [], [], {}
    for lineno, path_text, label_text in entries:
        where = f"{list_file}:{lineno}"
        label = class_index.get(label_text)
        if label is None:
            raise DatasetError(f"{where}: unknown class {label_text!r} (known: {_preview(class_index)})")
        path = _resolve_listed(path_text, list_file.parent, root, allow_outside_root, where)
        _refuse_repeat(seen, path, path_text, where, lineno)
        if not path.is_file():
            missing.append(f"{where}: {path_text}")
            continue
        items.append(VideoItem(path, label, group_of(Path(path_text), None)))
    _raise_missing(list_file, missing)
    return items


def _resolve_listed(text: str, base: Path, root: Path, allow_outside_root: bool,
                    where: str) -> Path:
    """Absolute, resolved path of a listed video; refuse one outside `root` unless allowed."""
    if "\x00" in text:  # no file system path holds one; os calls raise a bare ValueError
        raise DatasetError(f"{where}: path {text!r} contains a NUL character")
    lexical = Path(os.path.normpath(os.path.join(base, text)))
    resolved = lexical.resolve()
    inside = lexical.is_relative_to(root) or resolved.is_relative_to(root.resolve())
    if not inside and not allow_outside_root:
        raise DatasetError(f"{where}: path {text!r} is outside the dataset root {root} "
                           f"(pass allow_outside_root=True to allow it)")
    return resolved


def _raise_missing(list_file: Path, missing: list[str]) -> None:
    if not missing:
        return
    more = f"\n  ... and {len(missing) - _SHOW} more" if len(missing) > _SHOW else ""
    raise DatasetError(f"{list_file}: {len(missing)} listed video(s) missing on disk:\n  "
                       + "\n  ".join(missing[:_SHOW]) + more)


def _load_list_dir(root: Path, val_fraction: float, seed: int,
                   allow_outside_root: bool, single_group: str = "train") -> DatasetSplit:
    train_file, val_file, test_file = root / "train.txt", root / "val.txt", root / "test.txt"
    for required in (train_file, test_file):
        if not required.is_file():
            raise DatasetError(f"{required}: missing; a list-file dataset needs train.txt and "
                               f"test.txt (val.txt and classes.txt are optional)")
    train_entries = _parse_list_file(train_file)
    classes_file = root / "classes.txt"
    if classes_file.is_file():
        names = _read_class_names(classes_file)
    else:
        names = sorted({label for _, _, label in train_entries})
    index = {n: i for i, n in enumerate(names)}

    def read(path, entries=None):
        return _items_from_list(path, entries or _parse_list_file(path), index, root,
                                allow_outside_root)

    train, test = read(train_file, train_entries), read(test_file)
    if val_file.is_file():
        return DatasetSplit(names, train, read(val_file), test, "list",
                            "list files train.txt/val.txt/test.txt", ())
    train, val = split_train_val(train, val_fraction, seed, names, single_group)
    return DatasetSplit(names, train, val, test, "list",
                        f"list files train.txt/test.txt; val by group split seed {seed}")


def _load_single_list(list_file: Path, val_fraction: float, test_fraction: float,
                      seed: int, allow_outside_root: bool, single_group: str = "train") -> DatasetSplit:
    entries = _parse_list_file(list_file)
    names = sorted({label for _, _, label in entries})
    index = {n: i for i, n in enumerate(names)}
    items = _items_from_list(list_file, entries, index, list_file.parent, allow_outside_root)
    train, val, test = group_split(items, val_fraction, test_fraction, seed, names, single_group)
    return DatasetSplit(names, train, val, test, "list",
                        f"list file {list_file.name}; group split seed {seed}", ("val", "test"))


# ---------------------------------------------------------------- UCF101

def _find_ucf_split_dir(root: Path) -> Path | None:
    for candidate in (root / UCF_SPLIT_DIR, root.parent / UCF_SPLIT_DIR):
        if candidate.is_dir():
            return candidate
    return None


def _read_class_ind(path: Path) -> list[str]:
    """Class names in `classInd.txt` order; lines are `<1-based index> <ClassName>`."""
    if not path.is_file():
        raise DatasetError(f"{path}: missing; UCF101 split folders need classInd.txt")
    names = []
    for lineno, text in _content_lines(path):
        _refuse_wrong_separator(_INDEX_WRONG_SEPARATOR, text, f"{path}:{lineno}", "'<index> <ClassName>'")
        parts = text.split(maxsplit=1)
        if len(parts) != 2 or not (parts[0].isascii() and parts[0].isdigit()):
            raise DatasetError(f"{path}:{lineno}: expected '<index> <ClassName>', got {text!r}")
        if int(parts[0]) != len(names) + 1:
            raise DatasetError(f"{path}:{lineno}: class index {parts[0]} out of order "
                               f"(expected {len(names) + 1})")
        if parts[1] in names:
            raise DatasetError(f"{path}:{lineno}: class {parts[1]!r} listed twice")
        names.append(parts[1])
    if not names:
        raise DatasetError(f"{path}: no classes")
    return names


def _ucf_fold_files(split_dir: Path, fold: int) -> tuple[Path, Path]:
    if isinstance(fold, bool) or not isinstance(fold, int):
        raise DatasetError(f"{split_dir}: fold must be an integer such as 1, got {fold!r}")
    train, test = split_dir / f"trainlist{fold:02d}.txt", split_dir / f"testlist{fold:02d}.txt"
    if train.is_file() and test.is_file():
        return train, test
    folds = sorted(int(m.group(1)) for p in split_dir.glob("trainlist*.txt")
                   if (m := re.fullmatch(r"trainlist(\d+)\.txt", p.name))
                   and (split_dir / f"testlist{m.group(1)}.txt").is_file())
    raise DatasetError(f"{split_dir}: fold {fold} not found (need {train.name} and {test.name}); "
                       f"folds present: {', '.join(map(str, folds)) or 'none'}")


def _ucf_entry(text: str, where: str) -> tuple[str, int | None]:
    """`Class/v_Class_gNN_cMM.avi [label]` -> (path text, 1-based label or None)."""
    _refuse_wrong_separator(_PATH_WRONG_SEPARATOR, text, where, "'<Class>/<video> [label]'")
    match = re.fullmatch(r"(.*\S)\s+(\d+)", text)
    path_text, number = (match.group(1), int(match.group(2))) if match else (text, None)
    if len(PurePosixPath(path_text).parts) < 2:
        raise DatasetError(f"{where}: expected '<Class>/<video> [label]', got {text!r}")
    return path_text, number


def _ucf_items(list_file: Path, class_index: dict[str, int], root: Path,
               allow_outside_root: bool) -> list[VideoItem]:
    items, missing, seen = [], [], {}
    for lineno, text in _content_lines(list_file):
        where = f"{list_file}:{lineno}"
        path_text, number = _ucf_entry(text, where)
        class_name = PurePosixPath(path_text).parts[0]
        label = class_index.get(class_name)
        if label is None:
            raise DatasetError(f"{where}: class {class_name!r} is not in classInd.txt "
                               f"(known: {_preview(class_index)})")
        if number is not None and number != label + 1:
            raise DatasetError(f"{where}: label {number} does not match class folder "
                               f"{class_name!r} (index {label + 1} in classInd.txt)")
        path = _resolve_listed(path_text, root, root, allow_outside_root, where)
        _refuse_repeat(seen, path, path_text, where, lineno)
        if not path.is_file():
            missing.append(f"{where}: {root / path_text}")
            continue
        items.append(VideoItem(path, label, group_of(root / path_text, root / class_name)))
    _raise_missing(list_file, missing)
    if not items:
        raise DatasetError(f"{list_file}: list file has no entries")
    return items


def _load_ucf101(root: Path, split_dir: Path, fold: int, val_fraction: float, seed: int,
                 allow_outside_root: bool, single_group: str = "train") -> DatasetSplit:
    names = _read_class_ind(split_dir / "classInd.txt")
    _check_class_folders(root, names, split_dir / "classInd.txt")
    train_file, test_file = _ucf_fold_files(split_dir, fold)
    index = {n: i for i, n in enumerate(names)}
    train = _ucf_items(train_file, index, root, allow_outside_root)
    test = _ucf_items(test_file, index, root, allow_outside_root)
    train, val = split_train_val(train, val_fraction, seed, names, single_group)
    return DatasetSplit(names, train, val, test, "ucf101",
                        f"{UCF_SPLIT_DIR} fold {fold}; val by group split seed {seed}")


def _check_class_folders(root: Path, names: list[str], class_ind: Path) -> None:
    """Raise a `DatasetError` naming every class of `classInd.txt` without a folder in
    `root` and every folder of videos in `root` that `classInd.txt` does not list."""
    folders = {d.name for d in class_dirs(root) if d.name != UCF_SPLIT_DIR}
    no_folder = [n for n in names if n not in folders]
    unlisted = sorted(n for n in folders - set(names) if _holds_videos(root / n))
    if not no_folder and not unlisted:
        return
    problems = ([f"classes without a folder: {_preview(no_folder)}"] if no_folder else []) + \
               ([f"folders of videos not in it: {_preview(unlisted)}"] if unlisted else [])
    raise DatasetError(f"{class_ind}: disagrees with the class folders in {root}: "
                       f"{'; '.join(problems)} (edit classInd.txt or the folders)")


def _holds_videos(folder: Path) -> bool:
    return any(not name.startswith(".") and name.lower().endswith(VIDEO_EXTENSIONS)
               for _, _, files in os.walk(folder) for name in files)


def is_recorded(root: str | Path) -> bool:
    """Whether `root` is a dataset folder `actionrec record` made (it holds `RECORDINGS_FILE`)."""
    return (Path(root) / RECORDINGS_FILE).is_file()


def _preview(names, limit: int = 10) -> str:
    names = list(names)
    return ", ".join(names[:limit]) + ("..." if len(names) > limit else "")
