"""Batch labelling: many videos -> one results file, one row per video.

A thin front end over `streaming.StreamingRecognizer`: each video's timeline frames
(at the bundle's step rate) are decoded in chunks and pushed with their media
timestamps into a fresh recognizer, so a file gets the predictions a live stream of
it would get. The video label is the mean of the per-window probabilities.

The results file (`.csv` or `.jsonl`) is append-only: every row is one complete line,
written with a single write, flushed and fsynced. A re-run resumes it: a trailing
partial line (an interrupted write) is cut off, videos that already have a row
without error are skipped, and videos whose row had an error are tried again. When a
path has several rows, the latest one is its outcome.
"""

from __future__ import annotations

import csv
import glob
import io
import json
import multiprocessing
import os
import signal
import warnings
from collections import Counter
from concurrent.futures import ProcessPoolExecutor, as_completed
from contextlib import nullcontext
from pathlib import Path
from typing import Iterable, Iterator

import cv2
import numpy as np
import torch

from .bundle import Bundle, load_bundle
from .console import Progress, summary_block
from .datasets import VIDEO_EXTENSIONS, _walk_videos
from .errors import ResultsFileError, check_results_path, failure_reason
from .overlay import draw_prediction
from .sampling import timeline_indices
from .signals import deferred, ending
from .streaming import Prediction, StreamingRecognizer, build_recognizer, stream_stride
from .video_io import VideoReader, open_video

DECODE_CHUNK = 64          # frames decoded at once: bounds memory on long videos
MIN_SEGMENT_STEPS = 2      # shorter label runs are merged into a neighbour
LIST_SUFFIXES = (".txt", ".lst")
COLUMNS = ["path", "label", "score", "topk", "duration", "frames", "steps", "error"]
JSON_COLUMNS = ("topk", "segments")   # JSON-encoded in CSV cells


# ---------------------------------------------------------------- inputs

def expand_inputs(inputs: Iterable[str | Path]) -> list[Path]:
    """Video files from files, folders (recursive), globs and `.txt`/`.lst` list files.

    Order: inputs in the order given, each one's matches sorted; a video reached twice
    (same resolved path) is kept once. Inputs that match nothing are left out; see
    `find_videos` for them.
    """
    return find_videos(inputs)[0]


def find_videos(inputs: Iterable[str | Path]) -> tuple[list[Path], dict[str, str]]:
    """`expand_inputs`, plus `{input: why it matches nothing}` for the inputs that do not."""
    videos, misses, seen = [], {}, set()
    for item in map(str, inputs):
        found, list_misses = _expand_one(item)
        misses.update(list_misses)
        if not found and not list_misses:
            misses[item] = _why_nothing(item)
        for path in found:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                videos.append(path)
    return videos, misses


def _expand_one(item: str, list_entry: bool = False) -> tuple[list[Path], dict[str, str]]:
    """One input -> (videos, misses of a list file's entries). Entries of a list file
    are expanded like inputs, except that they are never list files themselves."""
    path = Path(item)
    if path.is_dir():
        return _walk_videos(path), {}
    if path.is_file() and path.suffix.lower() in LIST_SUFFIXES and not list_entry:
        return _expand_list(path)
    if path.exists() or not glob.has_magic(item):
        return [path] if path.exists() else [], {}
    return _expand_glob(item), {}


def _expand_glob(pattern: str) -> list[Path]:
    """Video files matched by a glob (`**` recurses); matched folders are walked."""
    found = []
    for match in sorted(glob.glob(pattern, recursive=True)):
        path = Path(match)
        if path.is_dir():
            found.extend(_walk_videos(path))
        elif path.is_file() and path.name.lower().endswith(VIDEO_EXTENSIONS):
            found.append(path)
    return found


def _expand_list(list_file: Path) -> tuple[list[Path], dict[str, str]]:
    """Entries of a list file, one per line, relative to its folder; blank and `#` lines skipped."""
    found, misses = [], {}
    for line in list_file.read_text(encoding="utf-8").splitlines():
        entry = line.strip()
        if not entry or entry.startswith("#"):
            continue
        full = str(list_file.parent / entry)
        videos, _ = _expand_one(full, list_entry=True)
        found.extend(videos)
        if not videos:
            misses[full] = f"{_why_nothing(full)} (listed in {list_file})"
    return found, misses


def _why_nothing(item: str) -> str:
    path = Path(item)
    if path.is_dir():
        return f"folder holds no videos ({', '.join(VIDEO_EXTENSIONS)})"
    if path.is_file():
        return "list file names no videos"
    if glob.has_magic(item):
        return "pattern matches no video file"
    return "no such file"


# ---------------------------------------------------------------- one video

def step_rate(bundle: Bundle) -> float:
    """Streaming steps per second: `sampling.fps / stream_stride`."""
    return float(bundle.sampling["fps"]) / stream_stride(bundle)


def label_video(path: str | Path, recognizer: StreamingRecognizer, topk: int = 3,
                segments: bool = False, annotate_to: str | Path | None = None,
                reader: str = "auto") -> dict:
    """Label one video; a row dict, with `error` set (and no label) when it cannot be read.

    The recognizer is reset, then fed the video's timeline frames at the bundle's step
    rate, each with its media timestamp `index / fps`. Video probabilities are the mean
    of `raw_probs` over the steps that saw a full window. A video shorter than one
    window is padded by repeating its last step until the window is full (as
    `sampling.pad_indices` does offline), and that padded window's `raw_probs` is used.
    With `annotate_to` (a file: `pending_copy` of one of `annotated_copy_paths`), every
    frame is decoded and an annotated copy is written there (removed if the video fails).
    Row: path, label, score, topk ([[name, prob], ...], `topk` long), duration (s),
    frames, steps, error (None), and `segments` when asked (see `label_segments`).
    `label` is None (no action) where the bundle's pose alone names the action and no
    window found a person (`Prediction.nobody`), as `live` shows it; the scores stay.
    """
    recognizer.reset()
    try:
        with open_video(path, reader, sequential=True) as video:
            preds = _stream_video(video, recognizer, annotate_to)
            windows = [p for p in preds if not p.warming_up]
            if not windows:
                windows = [_pad_to_window(recognizer, preds[-1])]
    except Exception as exc:   # one bad video is a row with its reason, not the end of the run
        return error_row(path, failure_reason(exc), segments)
    probs = np.mean([p.raw_probs for p in windows], axis=0)
    row = video_row(path, probs, recognizer.bundle.class_names, topk)
    row.update(duration=round(video.duration, 3), frames=video.num_frames, steps=len(preds))
    if all(p.nobody for p in windows):
        row["label"] = None
    if segments:
        row["segments"] = label_segments(preds, video.duration, recognizer.bundle.class_names)
    return row


def _stream_video(video: VideoReader, recognizer: StreamingRecognizer,
                  annotate_to: str | Path | None) -> list[Prediction]:
    """Push the frames streaming needs (`stream_indices`; every frame when annotating) in
    chunks of `DECODE_CHUNK`. Returns the step predictions."""
    if annotate_to is None:
        indices, copy = stream_indices(video, recognizer), None
    else:
        indices, copy = np.arange(video.num_frames), AnnotatedCopy(video, annotate_to)
    preds = []
    with copy if copy is not None else nullcontext():
        for start in range(0, len(indices), DECODE_CHUNK):
            chunk = indices[start:start + DECODE_CHUNK]
            for index, frame in zip(chunk.tolist(), video.get_frames(chunk)):
                pred = recognizer.push(frame, index / video.fps)
                if pred is not None:
                    preds.append(pred)
                if copy is not None:
                    copy.write(frame, preds[-1])
    return preds


def stream_indices(video: VideoReader, recognizer: StreamingRecognizer) -> np.ndarray:
    """The frames streaming needs: the step timeline; with a flow computed, also each
    step's predecessor on the `sampling.fps` timeline (where its flow starts); with a pose
    held or tracked, every step of that timeline (a step's pose follows from the one before)."""
    steps = timeline_indices(video.num_frames, video.fps, step_rate(recognizer.bundle))
    if recognizer.motion is None and not recognizer.pose_every_step:
        return steps
    timeline = timeline_indices(video.num_frames, video.fps, float(recognizer.bundle.sampling["fps"]))
    if recognizer.pose_every_step:
        return np.union1d(steps, timeline)
    before = timeline[np.maximum(np.searchsorted(timeline, steps) - 1, 0)]
    return np.union1d(steps, before)


def _pad_to_window(recognizer: StreamingRecognizer, last: Prediction) -> Prediction:
    """Repeat the last step (one step period later each time) until the first window is
    full; its prediction is the offline clip padded with its last step."""
    period, pred = 1.0 / step_rate(recognizer.bundle), last
    for _ in range(2 * recognizer.window):
        if not pred.warming_up:
            return pred
        pred = recognizer.hold(pred.timestamp + period)
    raise RuntimeError(f"padding did not fill a {recognizer.window}-step window")


def video_row(path: str | Path, probs: np.ndarray, class_names: list[str], topk: int) -> dict:
    """The label, score and top-k of video probabilities `(K,)` float."""
    order = np.argsort(probs)[::-1][:topk]
    return {"path": str(path), "label": class_names[order[0]], "score": round(float(probs[order[0]]), 6),
            "topk": [[class_names[i], round(float(probs[i]), 6)] for i in order],
            "duration": None, "frames": None, "steps": None, "error": None}


def error_row(path: str | Path, reason: str, segments: bool = False) -> dict:
    row = {"path": str(path), "label": None, "score": None, "topk": None, "duration": None,
           "frames": None, "steps": None, "error": " ".join(reason.split())}
    if segments:
        row["segments"] = None
    return row


# ---------------------------------------------------------------- segments

def label_segments(preds: list[Prediction], duration: float, class_names: list[str],
                   min_steps: int = MIN_SEGMENT_STEPS) -> list[dict]:
    """The label timeline: runs of consecutive steps with the same smoothed label.

    `label` None (null) is "no action" (below threshold, or the first window still
    filling). Runs shorter than `min_steps` are merged into a neighbour. Segments
    tile `[0, duration]`: each ends where the next starts. `score` is the mean
    smoothed probability of the segment's label (of the top class for null).
    """
    runs: list[list] = []   # [label, [Prediction, ...]]
    for pred in preds:
        if runs and runs[-1][0] == pred.label:
            runs[-1][1].append(pred)
        else:
            runs.append([pred.label, [pred]])
    runs = merge_short_runs(runs, min_steps)
    starts = [0.0] + [steps[0].timestamp for _, steps in runs[1:]]
    ends = starts[1:] + [duration]
    return [{"start": round(start, 3), "end": round(end, 3), "label": label,
             "score": _segment_score(steps, label, class_names)}
            for (label, steps), start, end in zip(runs, starts, ends)]


def merge_short_runs(runs: list[list], min_steps: int) -> list[list]:
    """Fold `[label, steps]` runs shorter than `min_steps` into the previous run (the
    first one into the next), joining neighbours that end up with the same label."""
    merged: list[list] = []
    for label, steps in runs:
        if merged and (len(steps) < min_steps or merged[-1][0] == label):
            merged[-1][1].extend(steps)
        else:
            merged.append([label, list(steps)])
    if len(merged) > 1 and len(merged[0][1]) < min_steps:
        first = merged.pop(0)
        merged[0][1][:0] = first[1]
    return merged


def _segment_score(steps: list[Prediction], label: str | None, class_names: list[str]) -> float:
    if label is None:
        return round(float(np.mean([p.score for p in steps])), 6)
    k = class_names.index(label)
    return round(float(np.mean([p.probs[k] for p in steps])), 6)


# ---------------------------------------------------------------- annotated copies

def annotated_copy_paths(videos: list[Path], out_dir: str | Path) -> dict[str, Path]:
    """Where each video's annotated copy goes: `DIR/<folder>/<stem>.labelled.mp4`, the
    folder being the video's own relative to the folder that holds all of them, so that
    `x/a.avi` and `y/a.avi` both keep theirs (`a.avi` and `a.mp4` of one folder:
    `a.avi.labelled.mp4` and `a.mp4.labelled.mp4`)."""
    if not videos:
        return {}
    folders = [Path(os.path.abspath(v)).parent for v in videos]
    base = Path(os.path.commonpath(folders))
    stems = Counter((folder, v.stem) for folder, v in zip(folders, videos))
    return {str(v): Path(out_dir) / folder.relative_to(base) /
            f"{v.stem if stems[folder, v.stem] == 1 else v.name}.labelled.mp4"
            for folder, v in zip(folders, videos)}


class AnnotatedCopy:
    """An annotated copy of a video written to `path` (mp4v, the source fps); removed
    when the video fails part way. `run_label` passes a hidden name (`pending_copy`) and
    renames it once the video's row is written."""

    def __init__(self, video: VideoReader, path: str | Path):
        self.path = Path(path)
        self.size, self.fps = (video.width, video.height), video.fps
        self.writer = None

    def __enter__(self) -> "AnnotatedCopy":
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.writer = cv2.VideoWriter(str(self.path), cv2.VideoWriter_fourcc(*"mp4v"), self.fps, self.size)
        if not self.writer.isOpened():
            raise OSError(f"{self.path}: OpenCV cannot write an mp4v video here")
        return self

    def write(self, frame: np.ndarray, pred: Prediction) -> None:
        """Draw `pred` on a copy of `(H, W, 3)` uint8 RGB `frame` and append it."""
        self.writer.write(cv2.cvtColor(draw_prediction(frame.copy(), pred), cv2.COLOR_RGB2BGR))

    def __exit__(self, exc_type, *exc) -> None:
        self.writer.release()
        if exc_type is not None:
            self.path.unlink(missing_ok=True)


# ---------------------------------------------------------------- results file

class ResultsFile:
    """Append-only `.csv` or `.jsonl` results, resumable after an interruption.

    `resume()` cuts a trailing partial line, reads the rows and remembers which paths
    are done (a row without error); `append(row)` writes one complete line with a
    single write, then flush and fsync.
    """

    def __init__(self, path: str | Path, segments: bool = False):
        self.path = check_results_path(path)
        self.format = self.path.suffix.lower()
        self.columns = COLUMNS + (["segments"] if segments else [])
        self.done: set[str] = set()

    def resume(self) -> int:
        """Prepare the file for appending; the number of rows it already holds."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            rows = self._read_rows(_cut_partial_line(self.path)) if self.path.exists() else []
        except OSError as exc:
            raise ResultsFileError(f"{self.path}: cannot resume this results file ({exc.strerror})") from exc
        self.done = {os.path.realpath(row["path"]) for row in rows if not row.get("error")}
        if self.format == ".csv" and not (self.path.exists() and self.path.stat().st_size):
            self._write(self._csv_line(self.columns))
        return len(rows)

    def is_done(self, video: str | Path) -> bool:
        return os.path.realpath(video) in self.done

    def append(self, row: dict) -> None:
        if self.format == ".jsonl":
            self._write(json.dumps(row) + "\n")
        else:
            self._write(self._csv_line([_csv_cell(row.get(c), c) for c in self.columns]))

    def _write(self, line: str) -> None:
        data = line.encode("utf-8")
        with open(self.path, "ab", buffering=0) as f:
            written = f.write(data)
            while written < len(data):      # a regular file takes it in one go; be sure
                written += f.write(data[written:])
            os.fsync(f.fileno())

    @staticmethod
    def _csv_line(values: list) -> str:
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerow(values)
        return buffer.getvalue()

    def _read_rows(self, text: str) -> list[dict]:
        if self.format == ".jsonl":
            return _parse_jsonl(text, self.path)
        lines = list(csv.reader(io.StringIO(text)))
        if lines and lines[0] != self.columns:
            raise ResultsFileError(f"{self.path}: has columns {','.join(lines[0])}; this run writes "
                                   f"{','.join(self.columns)} (--segments must match): use another --out")
        return [dict(zip(lines[0], values)) for values in lines[1:] if values]


def _cut_partial_line(path: Path) -> str:
    """Truncate `path` after its last newline (dropping an interrupted row); the text kept."""
    data = path.read_bytes()
    keep = data.rfind(b"\n") + 1
    if keep < len(data):
        os.truncate(path, keep)
    return data[:keep].decode("utf-8", errors="replace")


def _parse_jsonl(text: str, path: Path) -> list[dict]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            warnings.warn(f"{path}:{number}: not a JSON row; ignored (its video is labelled again)")
    return rows


def _csv_cell(value, column: str) -> str:
    if value is None:
        return ""
    return json.dumps(value) if column in JSON_COLUMNS else str(value)


# ---------------------------------------------------------------- running

AUTO_WORKERS_VIDEOS = 32          # `--workers auto` starts processes for at least this many videos
AUTO_WORKERS_BYTES = 16 * 2**20    # ... or this much video: each process takes ~3 s to start
MAX_AUTO_WORKERS = 4


def auto_workers(videos: list[Path]) -> int:
    """`--workers auto`: one process per core (up to `MAX_AUTO_WORKERS`) on a machine
    without CUDA, when the job is large enough for their start-up to pay (measured on 2
    cores: 1.5x on 200 short clips, 1.14x on 6 HD videos of 20 s, and 3 s slower on 2
    short clips); else 1."""
    if len(videos) < 2 or torch.cuda.is_available():
        return 1
    size = sum(file_size(p) for p in videos)
    if len(videos) < AUTO_WORKERS_VIDEOS and size < AUTO_WORKERS_BYTES:
        return 1
    return max(1, min(MAX_AUTO_WORKERS, usable_cores(), len(videos)))


def usable_cores() -> int:
    """The cores this process may run on (a container or `taskset` may allow fewer than the machine has)."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def file_size(path: Path) -> int:
    """Its size in bytes; 0 when it has gone (its row will say so)."""
    try:
        return path.stat().st_size
    except OSError:
        return 0


def run_label(bundle_path: str | Path, inputs: list[str], out: str | Path, cfg, topk: int = 3,
              segments: bool = False, workers: int | str = "auto", annotate_dir: str | Path | None = None,
              progress: bool = True, engine: str = "local", address: str | None = None) -> int:
    """Label every video of `inputs` into `out`, resuming it; the exit code (1 if any
    video failed in this run, else 0). Prints a summary."""
    if topk < 1 or (workers != "auto" and (not isinstance(workers, int) or workers < 1)):
        raise ResultsFileError(f"--top-k and --workers must be at least 1 (--workers may be auto), "
                               f"got {topk} and {workers!r}")
    results = ResultsFile(out, segments)
    bundle = load_bundle(bundle_path)
    videos, misses = find_videos(inputs)
    results.resume()
    todo = [v for v in videos if not results.is_done(v)]
    options = {"topk": min(topk, len(bundle.class_names)), "segments": segments,
               "reader": cfg.data.reader}
    copies = annotated_copy_paths(videos, annotate_dir) if annotate_dir is not None else {}
    discard_pending_copies(copies.values())          # from a run that was killed outright
    kept = _KeptRows(results, copies)
    for item, reason in misses.items():
        kept.keep(error_row(item, reason, segments))
    jobs = [(video, pending_copy(copies[str(video)]) if copies else None) for video in todo]
    if workers == "auto":
        workers = auto_workers(todo) if engine == "local" else 1
    if engine == "ray":
        from .engines import ray as ray_engine
        ray_engine.check_shared_paths(address, {"--out": out, "--annotate": annotate_dir})
        rows = ray_engine.label(bundle_path, cfg, jobs, options, address)
    elif workers == 1:
        rows = _label_here(bundle, cfg, jobs, options)
    else:
        rows = _WorkerRows(bundle_path, cfg, jobs, options, workers)
    bar = Progress(len(todo), "labelling", "video", enabled=progress)
    try:
        for row in rows:
            bar.update()
            kept.keep(row)
    except KeyboardInterrupt as exc:     # Ctrl-C, SIGTERM, SIGHUP (`signals`)
        # stops the workers now, not when the generator is collected; their finished rows stay
        for row in rows.close() or []:
            kept.keep(row)
        discard_pending_copies(copies.values())      # finished copies whose row was not written
        bar.close()
        reason, code = ending(exc)
        print(format_summary(kept.labelled, len(videos) - len(todo), kept.failed, results.path,
                             f"label: {reason}", annotate_dir,
                             "every row written is complete; the same command again resumes", kept.nobody))
        return code
    bar.close()
    print(format_summary(kept.labelled, len(videos) - len(todo), kept.failed, results.path, "label: done",
                         annotate_dir, "fix or remove the failed videos; the same command again retries them"
                         if kept.failed else None, kept.nobody))
    return 1 if kept.failed else 0


def pending_copy(target: Path) -> Path:
    """Where a video's annotated copy is written and waits for its row: a hidden name
    beside `target`, renamed to `target` once the row is in the results file. A stop
    (`run_label`) or the next run removes what is left there."""
    return target.with_name(f".{target.stem}.pending.mp4")


def discard_pending_copies(targets: Iterable[Path]) -> None:
    for target in targets:
        pending_copy(target).unlink(missing_ok=True)


class _KeptRows:
    """Appends rows to the results file and puts each one's annotated copy in place
    (`copies`: video path -> target), both at once: a stop signal waits until the two
    are done, so every copy in the folder has its row. Counts the labelled and failed."""

    def __init__(self, results: ResultsFile, copies: dict[str, Path]):
        self.results, self.copies = results, copies
        self.labelled, self.failed, self.nobody = 0, {}, []

    def keep(self, row: dict) -> None:
        target = self.copies.get(row["path"])
        with deferred():
            self.results.append(row)
            if target is not None:
                if row["error"]:     # a worker that died part way
                    pending_copy(target).unlink(missing_ok=True)
                else:
                    os.replace(pending_copy(target), target)
        if row["error"]:
            self.failed[row["path"]] = row["error"]
        else:
            self.labelled += 1
            if row["label"] is None:
                self.nobody.append(row["path"])


def _label_here(bundle: Bundle, cfg, jobs: list[tuple[Path, Path | None]], options: dict) -> Iterator[dict]:
    """Rows of `jobs` (video, where its annotated copy goes or None), in this process."""
    if not jobs:
        return
    recognizer = build_recognizer(bundle, cfg)
    for video, copy in jobs:
        yield label_video(video, recognizer, annotate_to=copy, **options)


class _WorkerRows:
    """Rows as they complete, from `workers` spawned processes (one bundle each).

    `close()` (on an interrupt) cancels the videos not started, waits for those being
    labelled and returns the rows not yet handed out, so every finished video keeps its
    row (and its annotated copy a row beside it).
    """

    def __init__(self, bundle_path: str | Path, cfg, jobs: list[tuple[Path, Path | None]], options: dict,
                 workers: int):
        self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=_init_worker, initargs=(str(bundle_path), cfg, options))
        self.futures = {self.pool.submit(_label_in_worker, str(video), copy): video for video, copy in jobs}
        self.segments = options["segments"]
        self.handed_out: set = set()

    def __iter__(self) -> Iterator[dict]:
        try:
            for future in as_completed(self.futures):
                self.handed_out.add(future)
                yield self.row(future)
        finally:       # done, or the caller failed: no video starts after this
            # joined when every video is done: a pool left to close by itself can race
            # the interpreter's exit and print an OSError after the run's summary
            finished = all(future.done() for future in self.futures)
            self.pool.shutdown(wait=finished, cancel_futures=True)

    def row(self, future) -> dict:
        try:
            return future.result()
        except Exception as exc:   # the worker itself died
            return error_row(self.futures[future], f"worker failed: {failure_reason(exc)}", self.segments)

    def close(self) -> list[dict]:
        for future in self.futures:
            future.cancel()
        self.pool.shutdown(wait=True)
        return [self.row(f) for f in self.futures if f not in self.handed_out and not f.cancelled()]


_WORKER: dict = {}


def _init_worker(bundle_path: str, cfg, options: dict) -> None:
    # Ctrl-C and a closed terminal reach the whole process group: the parent ends the run,
    # and a worker finishes the video it is labelling so that its row is written
    for name in ("SIGINT", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), signal.SIG_IGN)
    torch.set_num_threads(1)
    _WORKER["recognizer"] = build_recognizer(load_bundle(bundle_path), cfg)
    _WORKER["options"] = options


def _label_in_worker(video: str, copy: Path | None) -> dict:
    return label_video(video, _WORKER["recognizer"], annotate_to=copy, **_WORKER["options"])


def format_summary(labelled: int, skipped: int, failed: dict[str, str], out: Path, title: str = "label: done",
                   annotate_dir: str | Path | None = None, next_step: str | None = None,
                   nobody: Iterable[str] = ()) -> str:
    """The summary block: `labelled N, skipped (already done) M, failed F`, one line per
    failed path and per video labelled "no action" because nobody was in view, where the
    results are, what to do next."""
    return summary_block(title, [("videos", f"labelled {labelled}, skipped (already done) {skipped}, "
                                            f"failed {len(failed)}"),
                                 ("results", out), ("annotated", annotate_dir)], next_step,
                         notes=[f"failed: {path}: {reason}" for path, reason in failed.items()]
                         + [f"no action: {path}: nobody in view" for path in nobody])
