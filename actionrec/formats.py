"""UCF101's siblings -> `DatasetSplit`s: HMDB51, Kinetics-style CSV, Something-Something
v2 JSON, and time segments of long videos. No video is decoded here (segments read
their videos' headers for the duration).

Each yields the same `VideoItem`s as the layouts of `datasets.py`; a segment is an item
with `start` and `end` (seconds) on the timeline of its whole video, whose features
are a slice of that video's cache entry (`FeatureCache.load_item`), so one video's
overlapping or neighbouring segments are extracted once.

- `hmdb51`: `ROOT/<class>/<video>.avi` and the official `<class>_test_split{1,2,3}.txt`
  (`name.avi 0|1|2`: 1 train, 2 test, 0 unused) in ROOT or a
  `testTrainMulti_7030_splits/` folder in or beside it. Groups: the source film (the
  name without its trailing clip number).
- `kinetics`: `label,youtube_id,time_start,time_end[,split]` in `train.csv`,
  `val.csv` (or `validate.csv`), `test.csv`, or one CSV with a split column. A clip
  is the file `{youtube_id}_{start:06d}_{end:06d}.<ext>` anywhere under the root, or
  `{youtube_id}.<ext>` cut to `[time_start, time_end]`. Missing clips are counted and
  listed once (real copies miss 5-10%), never fatal. Groups: the YouTube id.
- `ssv2`: `labels.json` (`{template: index}`) and `train.json` / `validation.json`
  (`id`, and `template` or `label` with `[something]` placeholders), videos
  `ROOT/<id>.webm` (or in `20bn-something-something-v2/`). Validation is the test split.
- `segments`: a CSV or JSON of `path,start,end,label` rows (seconds; several per
  video; optional `split` and `group`), paths relative to the file. Without `split`,
  whole videos (or `group`s) are held out, never one video's segments on both sides.
  Overlapping or out-of-range times are errors naming the row.

Where the format has no validation (or test) split, it is taken from train by group.
"""

from __future__ import annotations

import csv
import json
import os
import random
import re
import warnings
from collections import defaultdict
from pathlib import Path
from typing import Iterable

from .errors import DatasetError

FORMATS = ("auto", "ucf101", "folders", "list", "hmdb51", "kinetics", "ssv2", "segments")
HMDB_SPLIT_DIR = "testTrainMulti_7030_splits"
SSV2_VIDEO_DIR = "20bn-something-something-v2"
KINETICS_COLUMNS = ("label", "youtube_id", "time_start", "time_end")
SEGMENT_COLUMNS = ("path", "start", "end", "label")
SPLIT_NAMES = {"train": "train", "training": "train", "val": "val", "valid": "val", "validate": "val",
               "validation": "val", "test": "test", "testing": "test"}
SEGMENT_FILES = ("segments.csv", "segments.json")
_SHOW = 5
_CLIP_NUMBER = re.compile(r"_\d+$")
_PLACEHOLDER = re.compile(r"\[([^\]]*)\]")


def detect_format(root: Path) -> str | None:
    """The family format of `root` (a folder or an annotation file), or None for the
    layouts `datasets.py` reads."""
    if root.is_file():
        columns = _columns(root)
        if set(KINETICS_COLUMNS) <= columns:
            return "kinetics"
        if set(SEGMENT_COLUMNS) <= columns:
            return "segments"
        return None
    if (root / "labels.json").is_file() and any((root / f).is_file() for f in ("train.json", "validation.json")):
        return "ssv2"
    if _hmdb_split_dir(root, 1) is not None:
        return "hmdb51"
    if any(set(KINETICS_COLUMNS) <= _columns(f) for f in _kinetics_files(root)):
        return "kinetics"
    if any((root / f).is_file() for f in SEGMENT_FILES):
        return "segments"
    return None


def load_family(fmt: str, root: Path, fold: int, val_fraction: float, test_fraction: float, seed: int):
    """The `DatasetSplit` of `root` read as `fmt` (one of the family formats)."""
    loaders = {"hmdb51": lambda: load_hmdb51(root, fold, val_fraction, seed),
               "kinetics": lambda: load_kinetics(root, val_fraction, seed),
               "ssv2": lambda: load_ssv2(root, val_fraction, seed),
               "segments": lambda: load_segments(root, val_fraction, test_fraction, seed)}
    return loaders[fmt]()


def _columns(path: Path) -> set[str]:
    """Header columns of a CSV, or keys of a JSON list's first object (empty if neither)."""
    try:
        if path.suffix.lower() == ".json":
            data = json.loads(path.read_text(encoding="utf-8-sig"))
            return set(data[0]) if isinstance(data, list) and data and isinstance(data[0], dict) else set()
        with open(path, newline="", encoding="utf-8-sig") as f:
            return {c.strip() for c in next(csv.reader(f), [])}
    except (OSError, ValueError, UnicodeDecodeError):
        return set()


def _split(items, val_fraction: float, seed: int, class_names: list[str]):
    from .datasets import split_train_val
    return split_train_val(items, val_fraction, seed, class_names)


def _warn_missing(what: str, missing: list[str], total: int) -> None:
    """One warning for every listed video missing on disk: the count and the first few."""
    if missing:
        more = f"\n  ... and {len(missing) - _SHOW} more" if len(missing) > _SHOW else ""
        warnings.warn(f"{len(missing)} of {total} videos listed in {what} are missing on disk and skipped:\n  "
                      + "\n  ".join(missing[:_SHOW]) + more, stacklevel=3)


# ---------------------------------------------------------------- HMDB51

def _hmdb_split_dir(root: Path, fold: int) -> Path | None:
    for folder in (root, root / HMDB_SPLIT_DIR, root.parent / HMDB_SPLIT_DIR):
        if folder.is_dir() and any(folder.glob(f"*_test_split{fold}.txt")):
            return folder
    return None


def load_hmdb51(root: Path, fold: int, val_fraction: float, seed: int):
    from .datasets import DatasetSplit, VideoItem, _content_lines
    if fold not in (1, 2, 3):
        raise DatasetError(f"--fold {fold}: HMDB51 has the official splits 1, 2 and 3")
    split_dir = _hmdb_split_dir(root, fold)
    if split_dir is None:
        raise DatasetError(f"{root}: no <class>_test_split{fold}.txt files here or in {HMDB_SPLIT_DIR}/")
    files = sorted(split_dir.glob(f"*_test_split{fold}.txt"))
    class_names = [f.name[: -len(f"_test_split{fold}.txt")] for f in files]
    parts, missing, total = {"1": [], "2": []}, [], 0
    for label, (name, file) in enumerate(zip(class_names, files)):
        if not (root / name).is_dir():
            raise DatasetError(f"{file}: its class folder {root / name} does not exist")
        for lineno, text in _content_lines(file):
            fields = text.split()
            if len(fields) != 2 or fields[1] not in ("0", "1", "2"):
                raise DatasetError(f"{file}:{lineno}: expected '<video>.avi 0|1|2', got {text!r}")
            if fields[1] == "0":
                continue
            total += 1
            path = root / name / fields[0]
            if not path.is_file():
                missing.append(f"{file}:{lineno}: {path}")
                continue
            parts[fields[1]].append(VideoItem(path.resolve(), label, _CLIP_NUMBER.sub("", path.stem)))
    _warn_missing(f"{split_dir} (split {fold})", missing, total)
    train, val = _split(parts["1"], val_fraction, seed, class_names)
    return DatasetSplit(class_names, train, val, parts["2"], "hmdb51", f"split {fold}, {split_dir.name}")


# ---------------------------------------------------------------- Kinetics

def _kinetics_files(root: Path) -> list[Path]:
    return [root / f"{name}.csv" for name in ("train", "val", "validate", "validation", "test")
            if (root / f"{name}.csv").is_file()]


def _video_index(root: Path) -> dict[str, Path]:
    """Every video under `root` by file stem (the first one found in sorted order)."""
    from .datasets import _walk_videos
    index: dict[str, Path] = {}
    for path in _walk_videos(root):
        index.setdefault(path.stem, path)
    return index


def load_kinetics(root: Path, val_fraction: float, seed: int):
    from .datasets import DatasetSplit
    files = [root] if root.is_file() else _kinetics_files(root)
    if not files:
        raise DatasetError(f"{root}: no train.csv / val.csv / test.csv with columns {', '.join(KINETICS_COLUMNS)}")
    folder = root.parent if root.is_file() else root
    index = _video_index(folder)
    labelled = [row for file in files for row in _kinetics_rows(file) if row["label"]]   # test rows may have none
    missing = []
    for file in files:
        missing += _find_kinetics_videos(file, [r for r in labelled if r["file"] == file], index)
    class_names = sorted({r["label"] for r in labelled})
    _warn_missing(", ".join(str(f) for f in files), missing, len(labelled))
    parts = _kinetics_parts([r for r in labelled if r["video"] is not None], class_names)
    derived = ()
    if not parts["test"]:           # the usual copy: train and val; val is then the held-out test
        parts["test"], parts["val"] = parts["val"], []
    if not parts["val"]:
        parts["train"], parts["val"] = _split(parts["train"], val_fraction, seed, class_names)
        derived = ("val",)
    return DatasetSplit(class_names, parts["train"], parts["val"], parts["test"], "kinetics",
                        ", ".join(f.name for f in files), derived)


def _kinetics_rows(file: Path) -> Iterable[dict]:
    """The rows of one Kinetics CSV: label, youtube id, start, end, split, and where they are."""
    default_split = SPLIT_NAMES.get(file.stem.lower())
    with open(file, newline="", encoding="utf-8-sig") as f:
        reader = csv.DictReader(f)
        absent = [c for c in KINETICS_COLUMNS if c not in (reader.fieldnames or [])]
        if absent:
            raise DatasetError(f"{file}: no column(s) {', '.join(absent)} (expected {','.join(KINETICS_COLUMNS)})")
        for row in reader:
            where = f"{file}:{reader.line_num}"
            try:
                start, end = float(row["time_start"]), float(row["time_end"])
            except (TypeError, ValueError):
                raise DatasetError(f"{where}: time_start and time_end must be numbers, got "
                                   f"{row.get('time_start')!r} and {row.get('time_end')!r}") from None
            if not 0 <= start < end:
                raise DatasetError(f"{where}: time_start {start:g} must be >= 0 and below time_end {end:g}")
            split = SPLIT_NAMES.get((row.get("split") or "").strip().lower(), default_split)
            if split is None:
                raise DatasetError(f"{where}: split {row.get('split')!r} is not train, val or test")
            yield {"file": file, "where": where, "label": (row["label"] or "").strip(),
                   "id": row["youtube_id"].strip(), "start": start, "end": end, "split": split}


def _find_kinetics_videos(file: Path, rows: list[dict], index: dict[str, Path]) -> list[str]:
    """Attach each row's video (a cut clip, or the whole video and the times); the misses."""
    missing = []
    for row in rows:
        clip = index.get(f"{row['id']}_{int(row['start']):06d}_{int(row['end']):06d}")
        whole = index.get(row["id"])
        if clip is not None:
            row["video"], row["times"] = clip, (None, None)
        elif whole is not None:
            row["video"], row["times"] = whole, (row["start"], row["end"])
        else:
            row["video"] = None
            missing.append(f"{row['where']}: {row['id']} ({row['label']})")
    return missing


def _kinetics_parts(rows: list[dict], class_names: list[str]) -> dict[str, list]:
    from .datasets import VideoItem
    parts = {"train": [], "val": [], "test": []}
    label_of = {name: i for i, name in enumerate(class_names)}
    for row in rows:
        start, end = row["times"]
        parts[row["split"]].append(VideoItem(row["video"].resolve(), label_of[row["label"]], row["id"],
                                             start, end))
    return parts


# ---------------------------------------------------------------- Something-Something v2

def normalise_template(text: str) -> str:
    """`Putting [something] on a surface` -> `putting something on a surface`."""
    return " ".join(_PLACEHOLDER.sub(r"\1", text).split()).lower()


def load_ssv2(root: Path, val_fraction: float, seed: int):
    from .datasets import DatasetSplit, VideoItem
    labels_file = root / "labels.json"
    try:
        labels = json.loads(labels_file.read_text(encoding="utf-8"))
        order = sorted(labels.items(), key=lambda kv: int(kv[1]))
    except (OSError, ValueError, AttributeError, TypeError) as exc:
        raise DatasetError(f"{labels_file}: not a JSON object of template -> index ({exc})") from None
    class_names = [name for name, _ in order]
    label_of = {normalise_template(name): i for i, name in enumerate(class_names)}
    videos = root / SSV2_VIDEO_DIR if (root / SSV2_VIDEO_DIR).is_dir() else root
    index = {p.stem: p for p in videos.iterdir() if p.suffix.lower() in (".webm", ".mp4")}
    parts, missing, total = {"train": [], "test": []}, [], 0
    for file_name, part in (("train.json", "train"), ("validation.json", "test")):
        file = root / file_name
        if not file.is_file():
            continue
        for n, entry in enumerate(_json_list(file), 1):
            name = entry.get("template") or entry.get("label") if isinstance(entry, dict) else None
            if not name or "id" not in entry:
                raise DatasetError(f"{file}: entry {n}: expected an object with 'id' and 'template' or 'label'")
            label = label_of.get(normalise_template(str(name)))
            if label is None:
                raise DatasetError(f"{file}: entry {n} (id {entry['id']}): unknown class {name!r}, "
                                   f"not among the {len(class_names)} of {labels_file}")
            total += 1
            path = index.get(str(entry["id"]))
            if path is None:
                missing.append(f"{file}: entry {n}: {videos / (str(entry['id']) + '.webm')}")
                continue
            parts[part].append(VideoItem(path.resolve(), label, str(entry["id"])))
    _warn_missing(str(root), missing, total)
    train, val = _split(parts["train"], val_fraction, seed, class_names)
    return DatasetSplit(class_names, train, val, parts["test"], "ssv2", "train.json, validation.json")


def _json_list(file: Path) -> list:
    try:
        data = json.loads(file.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{file}: not readable JSON ({exc})") from None
    if not isinstance(data, list):
        raise DatasetError(f"{file}: expected a JSON list of objects")
    return data


# ---------------------------------------------------------------- time segments

def load_segments(root: Path, val_fraction: float, test_fraction: float, seed: int):
    from .datasets import DatasetSplit, VideoItem
    file = root if root.is_file() else next((root / f for f in SEGMENT_FILES if (root / f).is_file()), None)
    if file is None:
        raise DatasetError(f"{root}: no {' or '.join(SEGMENT_FILES)} here (--format segments)")
    rows = _segment_rows(file)
    durations = _check_segments(rows)
    class_names = sorted({r["label"] for r in rows if r["path"] in durations})
    label_of = {name: i for i, name in enumerate(class_names)}
    items = {}
    for r in rows:
        if r["path"] in durations:
            items[r["where"]] = (VideoItem(r["path"], label_of[r["label"]], r["group"] or str(r["path"]),
                                           r["start"], r["end"]), r["split"])
    if all(split for _, split in items.values()):
        parts = {"train": [], "val": [], "test": []}
        for item, split in items.values():
            parts[split].append(item)
        derived = () if parts["val"] else ("val",)
        if not parts["val"]:
            parts["train"], parts["val"] = _split(parts["train"], val_fraction, seed, class_names)
    else:
        parts = split_by_unit([item for item, _ in items.values()], val_fraction, test_fraction, seed)
        derived = ("val", "test")
    return DatasetSplit(class_names, parts["train"], parts["val"], parts["test"], "segments", file.name, derived)


def _segment_rows(file: Path) -> list[dict]:
    """The rows of a segments CSV or JSON, paths resolved against the file's folder."""
    if file.suffix.lower() == ".json":
        raw = [(f"{file}: entry {n}", entry) for n, entry in enumerate(_json_list(file), 1)]
    else:
        with open(file, newline="", encoding="utf-8-sig") as f:
            reader = csv.DictReader(f)
            absent = [c for c in SEGMENT_COLUMNS if c not in (reader.fieldnames or [])]
            if absent:
                raise DatasetError(f"{file}: no column(s) {', '.join(absent)} (expected {','.join(SEGMENT_COLUMNS)})")
            raw = [(f"{file}:{reader.line_num}", row) for row in reader]
    rows = []
    for where, row in raw:
        if not isinstance(row, dict) or any(row.get(c) in (None, "") for c in SEGMENT_COLUMNS):
            raise DatasetError(f"{where}: needs {', '.join(SEGMENT_COLUMNS)}, got {row!r}")
        try:
            start, end = float(row["start"]), float(row["end"])
        except (TypeError, ValueError):
            raise DatasetError(f"{where}: start and end must be seconds, got {row['start']!r} and {row['end']!r}") from None
        if not 0 <= start < end:
            raise DatasetError(f"{where}: start {start:g} s must be >= 0 and below end {end:g} s")
        split = str(row.get("split") or "").strip().lower()
        if split and split not in SPLIT_NAMES:
            raise DatasetError(f"{where}: split {row['split']!r} is not train, val or test")
        path = Path(os.path.abspath(file.parent / str(row["path"])))
        rows.append({"where": where, "path": path, "start": start, "end": end, "label": str(row["label"]).strip(),
                     "split": SPLIT_NAMES.get(split), "group": str(row.get("group") or "").strip()})
    return rows


def _check_segments(rows: list[dict]) -> dict[Path, float]:
    """Each existing video's duration; errors for a segment past its video's end or
    overlapping another of the same video; one warning for missing videos."""
    from .errors import VideoReadError
    from .video_io import probe_video
    by_video = defaultdict(list)
    for r in rows:
        by_video[r["path"]].append(r)
    durations, missing = {}, []
    for path, segs in by_video.items():
        if not path.is_file():
            missing += [f"{r['where']}: {path}" for r in segs]
            continue
        try:
            durations[path] = duration = probe_video(path)["duration"]
        except VideoReadError as exc:
            missing += [f"{r['where']}: {exc}" for r in segs]
            continue
        segs.sort(key=lambda r: r["start"])
        for before, r in zip([None] + segs, segs):
            if r["end"] > duration + 1e-3:
                raise DatasetError(f"{r['where']}: segment {r['start']:g}-{r['end']:g} s ends past the end of "
                                   f"{path} ({duration:.2f} s)")
            if before is not None and r["start"] < before["end"] - 1e-6:
                raise DatasetError(f"{r['where']}: segment {r['start']:g}-{r['end']:g} s of {path} overlaps "
                                   f"{before['where']} ({before['start']:g}-{before['end']:g} s)")
    _warn_missing(str(rows[0]["where"].rsplit(":", 1)[0]) if rows else "the segments file", missing, len(rows))
    return durations


def split_by_unit(items: list, val_fraction: float, test_fraction: float, seed: int) -> dict[str, list]:
    """Hold out whole groups (a segment's video, or its `group`), across classes: every
    segment of one video lands on one side. `round(fraction * units)` units each, at
    least one test unit once there are two, and train always keeps one."""
    units = sorted({item.group for item in items})
    random.Random(f"{seed}:segments").shuffle(units)
    n_test = min(max(1, round(test_fraction * len(units))), len(units) - 1) if test_fraction and len(units) > 1 else 0
    rest = len(units) - n_test
    n_val = min(max(1, round(val_fraction * len(units))), rest - 1) if val_fraction and rest > 2 else 0
    side = {u: "test" if i < n_test else "val" if i < n_test + n_val else "train" for i, u in enumerate(units)}
    parts = {"train": [], "val": [], "test": []}
    for item in items:
        parts[side[item.group]].append(item)
    return parts
