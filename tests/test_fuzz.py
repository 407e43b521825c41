"""Fuzzing with hypothesis: the list-file, UCF split-file and classInd.txt parsers, and
the video-reading path on byte-level corruptions of a small valid MJPG .avi.

Parsers: a valid file is edited (lines dropped, duplicated, swapped, separators
changed, junk inserted, odd line breaks, NUL, non-UTF-8 bytes); `load_dataset` must
then return a consistent split or raise an `ActionRecError` (`DatasetError`,
`ConfigError`) whose `file:line` points at a real line of the file, as an editor
numbers it. Readers: both backends must return `(N, H, W, 3) uint8` frames or raise
`VideoReadError` (or the documented `IndexError`/`ValueError`). Decoding runs in a
worker process, so a decoder that aborts or hangs fails the test with that input
instead of killing the run. Bounded for CI: 950 examples, about 15 s on 2 cores.
"""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from hypothesis.configuration import set_hypothesis_home_dir

from actionrec.datasets import load_dataset
from actionrec.errors import ActionRecError
from actionrec.synthetic import write_video

# Failing examples (and hypothesis's patch files) go to the git-ignored .cache/, not to a
# .hypothesis/ folder in the checkout; they are replayed first on the next run.
set_hypothesis_home_dir(Path(__file__).resolve().parent.parent / ".cache" / "hypothesis")
PARSER = settings(max_examples=200, deadline=timedelta(seconds=2),
                  suppress_health_check=[HealthCheck.too_slow])
DECODE_TIMEOUT = 20.0   # seconds one corrupted file may take to open and decode

LINE_BREAKS = ["\n", "\r\n", "\r", "\x0b", "\x0c", "\x1c", "\x85", "\u2028"]
JUNK = st.one_of(st.sampled_from([" ", "\t", ",", ";", "|", "#", "../", "/etc/passwd", "\x00", "\ufeff", "0",
                                  "1", "99", "-1", "swim", "run", "Archery", "Class/", "v_x.avi", "ü"]),
                 st.text(max_size=6))
# An edit of a valid file's lines: (operation, which line as a fraction, junk text, line break).
EDIT = st.tuples(st.sampled_from(["drop", "duplicate", "swap", "separator", "insert", "append", "prefix",
                                  "replace"]),
                 st.floats(0, 1), JUNK, st.sampled_from(LINE_BREAKS))
EDITS = st.lists(EDIT, max_size=4)


def edit_lines(lines: list[str], edits) -> bytes:
    """Apply `edits` to `lines` and join them with the line breaks the edits carry."""
    lines, breaks = list(lines), ["\n"] * len(lines)
    for op, where, junk, brk in edits:
        i = min(int(where * len(lines)), len(lines) - 1) if lines else 0
        if op == "insert" or not lines:
            lines.insert(i, junk)
            breaks.insert(i, brk)
        elif op == "drop":
            del lines[i], breaks[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
            breaks.insert(i, breaks[i])
        elif op == "swap" and i + 1 < len(lines):
            lines[i], lines[i + 1] = lines[i + 1], lines[i]
        elif op == "separator":  # the whitespace before the last field becomes the junk
            lines[i] = re.sub(r"\s+(?=\S+$)", lambda m: junk or ",", lines[i], count=1)
            breaks[i] = brk
        elif op == "append":
            lines[i] += junk
        elif op == "prefix":
            lines[i] = junk + lines[i]
        elif op == "replace":
            lines[i] = junk
    return "".join(line + brk for line, brk in zip(lines, breaks)).encode("utf-8", "surrogatepass")


def touch(path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")


def editor_lines(data: bytes) -> list[str]:
    """The file's lines as an editor numbers them (1-based index = list index + 1)."""
    return re.split(r"\r\n|\r|\n", data.decode("utf-8-sig"))


def check_outcome(call, root: Path, fuzzed: Path) -> None:
    """`call()` returns a sane split, or raises an ActionRecError naming a real line."""
    try:
        split = call()
    except ActionRecError as err:
        event(re.sub(r"'[^']*'|\S*/\S*|\d+", "_", str(err).split(": ", 1)[-1].splitlines()[0])[:40])
        match = re.search(re.escape(fuzzed.name) + r":(\d+):", str(err))
        if match:
            lines = editor_lines(fuzzed.read_bytes())
            number = int(match[1])
            assert 1 <= number <= len(lines) and lines[number - 1].strip(), (str(err), lines)
        return
    event("loaded")
    for item in split.train + split.val + split.test:
        assert item.path.is_file() and item.path.is_relative_to(root.resolve())
        assert 0 <= item.label < len(split.class_names)


@contextmanager
def fuzzed_file(path: Path, data: bytes):
    """`path` holds `data` inside the block, and its valid contents again after it."""
    saved = path.read_bytes()
    path.write_bytes(data)
    try:
        yield path
    finally:
        path.write_bytes(saved)


# ---------------------------------------------------------------- list files

VIDEOS = ("clips/run take/run_s00_t00.avi", "clips/run take/run_s01_t00.avi", "clips/run_s02_t00.avi",
          "clips/jump_s00_t00.avi", "clips/jump_s01_t00.avi", "clips/jump_s02_t00.avi",
          "clips/Sprung über/vidéo s00.avi", "clips/Sprung über/vidéo s01.avi")
LABELS = ("run", "run", "run", "jump", "jump", "jump", "sprüng", "sprüng")
LIST_LINES = [f"{v}{' ' if i % 2 else chr(9)}{c}" for i, (v, c) in enumerate(zip(VIDEOS, LABELS)) if i]


@pytest.fixture(scope="module")
def list_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_list")
    for rel in VIDEOS:
        touch(root / rel)
    (root / "train.txt").write_text("\n".join(LIST_LINES) + "\n")
    (root / "test.txt").write_text(f"{VIDEOS[0]} run\n")
    return root


@settings(PARSER)
@given(edits=EDITS, raw=st.one_of(st.none(), st.none(), st.none(), st.binary(max_size=64)))
@example(edits=[("separator", 0.5, ",", "\n")], raw=None)
@example(edits=[("separator", 0.0, ";", "\n")], raw=None)
@example(edits=[("duplicate", 0.3, "", "\n")], raw=None)
@example(edits=[("insert", 0.0, "x", "\x0c"), ("append", 0.9, "wim", "\n")], raw=None)
@example(edits=[("prefix", 0.0, "\x00", "\n")], raw=None)
def test_fuzz_list_file_parser(list_root, edits, raw):
    data = raw if raw is not None else edit_lines(LIST_LINES, edits)
    with fuzzed_file(list_root / "train.txt", data) as train:
        check_outcome(lambda: load_dataset(list_root), list_root, train)


# ---------------------------------------------------------------- UCF101 split files

UCF = ("ApplyEyeMakeup", "Archery", "Bowling")
UCF_TRAIN = [f"{c}/v_{c}_g{g:02d}_c01.avi {i}" for i, c in enumerate(UCF, 1) for g in (2, 3, 4)]
UCF_CLASS_IND = [f"{i} {c}" for i, c in enumerate(UCF, 1)]


@pytest.fixture(scope="module")
def ucf_root(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("fuzz_ucf") / "UCF-101"
    for c in UCF:
        for g in range(1, 5):
            touch(root / c / f"v_{c}_g{g:02d}_c01.avi")
    lists = root / "ucfTrainTestlist"
    lists.mkdir()
    (lists / "classInd.txt").write_text("\n".join(UCF_CLASS_IND) + "\n")
    (lists / "testlist01.txt").write_text("".join(f"{c}/v_{c}_g01_c01.avi\n" for c in UCF))
    (lists / "trainlist01.txt").write_text("\n".join(UCF_TRAIN) + "\n")
    return root


@settings(PARSER)
@given(edits=EDITS)
@example(edits=[("separator", 0.5, ",", "\n")])
@example(edits=[("duplicate", 0.5, "", "\n")])
@example(edits=[("prefix", 0.2, "../", "\n")])
def test_fuzz_ucf_split_file_parser(ucf_root, edits):
    with fuzzed_file(ucf_root / "ucfTrainTestlist" / "trainlist01.txt", edit_lines(UCF_TRAIN, edits)) as f:
        check_outcome(lambda: load_dataset(ucf_root), ucf_root, f)


@settings(PARSER, max_examples=150)
@given(edits=EDITS)
@example(edits=[("separator", 0.0, ",", "\n")])
@example(edits=[("drop", 0.9, "", "\n")])
@example(edits=[("insert", 1.0, "4 Diving", "\n")])
def test_fuzz_class_ind_parser(ucf_root, edits):
    with fuzzed_file(ucf_root / "ucfTrainTestlist" / "classInd.txt", edit_lines(UCF_CLASS_IND, edits)) as f:
        check_outcome(lambda: load_dataset(ucf_root), ucf_root, f)


# ---------------------------------------------------------------- the video-reading path

WORKER = textwrap.dedent("""
    import sys
    from actionrec.errors import ActionRecError
    from actionrec.video_io import open_video
    for line in sys.stdin:
        path, backend = line.rstrip("\\n").split("\\t")
        try:
            with open_video(path, backend) as video:
                meta = (video.num_frames, video.fps, video.width, video.height)
                assert video.num_frames > 0 and video.fps > 0 and video.width > 0 and video.height > 0, meta
                wanted = list(range(min(video.num_frames, 64)))
                frames = video.get_frames(wanted)
                shape = (len(wanted), video.height, video.width, 3)
                assert frames.shape == shape and frames.dtype.name == "uint8", (frames.shape, shape)
            outcome = "ok"
        except ActionRecError:
            outcome = "ActionRecError"
        except (IndexError, ValueError) as exc:   # documented for bad indices / arguments
            outcome = type(exc).__name__
        except BaseException as exc:
            outcome = f"UNEXPECTED {type(exc).__name__}: {exc}".replace("\\n", " ")
        print(outcome, flush=True)
""")


class DecodeWorker:
    """A child process that opens and decodes files on request; survives their crashes."""

    def __init__(self):
        self.proc = None

    def decode(self, path: Path, backend: str) -> str:
        import select
        if self.proc is None or self.proc.poll() is not None:
            self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.proc.stdin.write(f"{path}\t{backend}\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], DECODE_TIMEOUT)
        if not ready:
            self.close()
            return f"HANG (> {DECODE_TIMEOUT:.0f} s)"
        line = self.proc.stdout.readline()
        if not line:
            return f"CRASH (exit status {self.proc.wait()})"
        return line.strip()

    def close(self) -> None:
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait()
            self.proc = None


@pytest.fixture(scope="module")
def decoder():
    worker = DecodeWorker()
    yield worker
    worker.close()


SEEDS = {"mjpg.avi": "MJPG", "mp4v.mp4": "mp4v"}   # the .mp4 found decord's abort on a bad count


@pytest.fixture(scope="module", params=sorted(SEEDS))
def seed_video(request, tmp_path_factory) -> tuple[str, bytes]:
    frames = np.zeros((8, 48, 64, 3), np.uint8)
    frames[..., 0] = np.arange(8)[:, None, None] * 30
    frames[:, 10:30, 20:40, 1] = 200
    path = write_video(tmp_path_factory.mktemp("seed") / request.param, frames, fps=10,
                       codec=SEEDS[request.param])
    return request.param, path.read_bytes()


# A mutation: (operation, where in the file as a fraction, a byte value, a length).
MUTATION = st.tuples(st.sampled_from(["flip", "zero", "truncate", "insert", "duplicate"]),
                     st.one_of(st.floats(0, 0.08), st.floats(0, 1), st.floats(0.97, 1)),
                     st.integers(0, 255), st.integers(1, 64))


def mutate(data: bytes, mutations) -> bytes:
    out = bytearray(data)
    for op, where, value, length in mutations:
        pos = min(int(where * len(out)), max(len(out) - 1, 0))
        if op == "flip" and out:
            out[pos] ^= 1 << (value % 8)
        elif op == "zero":
            out[pos:pos + length] = bytes(len(out[pos:pos + length]))
        elif op == "truncate":
            del out[pos:]
        elif op == "insert":
            out[pos:pos] = bytes([value]) * length
        elif op == "duplicate":
            out[pos:pos] = out[pos:pos + length]
    return bytes(out)


@settings(max_examples=200, deadline=timedelta(seconds=3 * DECODE_TIMEOUT),
          suppress_health_check=[HealthCheck.too_slow])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=4))
@example(mutations=[("truncate", 0.5, 0, 1)])
@example(mutations=[("zero", 0.02, 0, 64)])
def test_fuzz_video_reading(decoder, seed_video, tmp_path_factory, mutations):
    name, data = seed_video
    path = tmp_path_factory.getbasetemp() / f"fuzzed-{name}"
    path.write_bytes(mutate(data, mutations))
    for backend in ("decord", "opencv", "auto"):
        outcome = decoder.decode(path, backend)
        event(f"{backend}: {outcome}")
        assert outcome in ("ok", "ActionRecError", "IndexError", "ValueError"), (backend, outcome)
