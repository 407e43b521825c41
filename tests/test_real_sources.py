"""`scripts/prepare_real_actions.py`: the real sets rebuilt from the manifest's sources;
`scripts/resplit_real_set.py`: a test-only set split by whole people."""

import csv
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from actionrec.synthetic import write_video

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import prepare_real_actions as prepare
import resplit_real_set as resplit

needs_ffmpeg = pytest.mark.skipif(shutil.which("ffmpeg") is None or shutil.which("ffprobe") is None,
                                  reason="needs FFmpeg (apt-get install ffmpeg)")
MANIFESTS = Path(__file__).resolve().parents[1] / "scripts"
FIELDS = ["name", "action", "side", "window_s", "repo", "commit", "path", "sha256", "licence"]


def video(path: Path, seconds: float, seed: int, fps: float = 25.0) -> Path:
    frames = np.random.default_rng(seed).integers(0, 255, (int(seconds * fps), 72, 96, 3), dtype=np.uint8)
    return write_video(path, frames, fps)


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest(path: Path, rows: list[dict]) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=FIELDS)
        writer.writeheader()
        writer.writerows({"repo": "someone/videos", "commit": "", "licence": "unknown", **row} for row in rows)
    return path


def frames_of(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = 0
    while capture.grab():
        count += 1
    return count


@needs_ffmpeg
def test_clips_are_cut_from_files_found_by_hash_and_a_missing_source_is_named(tmp_path, capsys):
    have = tmp_path / "downloads"
    have.mkdir()
    long_take = video(have / "renamed.avi", 8.0, 0)         # found by content, whatever its name
    short_take = video(have / "b.avi", 6.0, 1)
    street = video(have / "street.avi", 4.0, 2)
    brief = video(have / "brief.avi", 2.0, 3)
    rows = [
        {"name": "alice_squat.avi", "action": "squat", "side": "train", "window_s": "0-", "path": "a.avi",
         "sha256": sha(long_take)},
        {"name": "bob_squat.avi", "action": "squat", "side": "test", "window_s": "1-4", "path": "b.avi",
         "sha256": sha(short_take)},
        {"name": "street.avi", "action": "", "side": "", "window_s": "", "path": "s.avi", "sha256": sha(street)},
        {"name": "brief.avi", "action": "", "side": "", "window_s": "", "path": "x.avi", "sha256": sha(brief)},
        {"name": "gone.mp4", "action": "curl", "side": "train", "window_s": "0-", "path": "gone.mp4",
         "sha256": "0" * 64},
    ]
    out = tmp_path / "data"
    stale = out / "real_actions" / "train" / "squat" / "old_c00.mp4"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"left by an earlier manifest")
    status = prepare.main(["--out", str(out), "--manifest", str(manifest(tmp_path / "m.csv", rows)),
                           "--sources", str(have)])
    err = capsys.readouterr().err
    assert status == 1 and "gone.mp4" in err and "someone/videos:gone.mp4" in err
    train = sorted(p.name for p in (out / "real_actions" / "train" / "squat").iterdir())
    test = sorted(p.name for p in (out / "real_actions" / "test" / "squat").iterdir())
    assert train == ["alice_squat_c00.mp4", "alice_squat_c01.mp4", "alice_squat_c02.mp4"]   # 7.95 s: 3 clips
    assert test == ["bob_squat_c00.mp4"]                                                    # 1-4 s: one clip
    assert not (out / "real_actions" / "train" / "curl").exists()
    for clip in (out / "real_actions").rglob("*.mp4"):
        assert abs(frames_of(clip) - 2.5 * 25) <= 2
    assert sorted(p.name for p in (out / "real_src").iterdir()) == ["alice_squat.avi", "bob_squat.avi", "street.avi"]
    assert sha(out / "real_src" / "street.avi") == sha(street)
    assert not list(out.glob(".real_*"))      # nothing half-built left beside the sets


@needs_ffmpeg
def test_a_source_is_fetched_from_its_repository_at_the_manifests_commit(tmp_path):
    repo = tmp_path / "remote" / "someone+videos"
    repo.mkdir(parents=True)
    take = video(repo / "take.avi", 3.0, 4)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    subprocess.run([*git, "add", "take.avi"], check=True)
    subprocess.run([*git, "commit", "-qm", "a take"], check=True)
    commit = subprocess.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True).stdout.strip()
    expected = sha(take)
    take.write_bytes(b"changed after the commit")            # the commit's file is the one taken
    subprocess.run([*git, "commit", "-qam", "later"], check=True)
    rows = [{"name": "carol_curl.avi", "action": "curl", "side": "test", "window_s": "0-", "path": "take.avi",
             "sha256": expected, "commit": commit}]
    out = tmp_path / "data"
    status = prepare.main(["--out", str(out), "--manifest", str(manifest(tmp_path / "m.csv", rows)), "--fetch",
                           "--clones", str(tmp_path / "clones"), "--url", str(tmp_path / "remote" / "{owner}+{name}")])
    assert status == 0
    assert sha(out / "real_src" / "carol_curl.avi") == expected
    assert [p.name for p in (out / "real_actions" / "test" / "curl").iterdir()] == ["carol_curl_c00.mp4"]


@needs_ffmpeg
def test_a_manifest_that_names_two_sources_alike_is_refused_before_anything_is_built(tmp_path):
    row = {"action": "", "side": "", "window_s": "", "path": "a.avi", "sha256": "0" * 64}
    rows = [{"name": "street.avi", **row}, {"name": "street.avi", **row, "path": "b.avi"}]
    with pytest.raises(SystemExit, match="street.avi"):
        prepare.main(["--out", str(tmp_path / "data"), "--manifest", str(manifest(tmp_path / "m.csv", rows))])
    assert not (tmp_path / "data").exists()


def test_the_committed_real_sets_share_no_source_and_name_each_one_once():
    """The third set (`real_sources.csv`), the fourth (`real_sources_fourth.csv`) and the
    fifth's two further actions (`real_sources_fifth.csv`) are independent checks only if
    no source video, by SHA-256, is in two of them, or twice in one; every exercise row of
    the fourth and fifth is a test row, the fourth's actions the third's, the fifth's new."""
    third = prepare.read_manifest(MANIFESTS / "real_sources.csv")
    fourth = prepare.read_manifest(MANIFESTS / "real_sources_fourth.csv")
    fifth = prepare.read_manifest(MANIFESTS / "real_sources_fifth.csv")
    for rows in (third, fourth, fifth):
        hashes = [row.sha256 for row in rows]
        assert len(set(hashes)) == len(hashes) and all(len(h) == 64 for h in hashes)
        assert all((len(row.commit) == 40 or row.repo == prepare.DEBIAN_PACKAGE) and row.path for row in rows)
    hashes = [row.sha256 for rows in (third, fourth, fifth) for row in rows]
    assert len(set(hashes)) == len(hashes)
    assert {row.side for row in fourth + fifth} == {"test"}
    assert {row.action for row in fourth} == {row.action for row in third if row.action}
    assert not {row.action for row in fifth} & {row.action for row in third}


def test_a_test_only_set_is_split_with_every_owner_on_one_side_and_the_same_seed_repeats(tmp_path, capsys):
    for action in ("curl", "squat", "pushup"):
        for owner in ("ann", "bob", "cat", "dan", "eve", "fay"):
            folder = tmp_path / "set" / "test" / action
            folder.mkdir(parents=True, exist_ok=True)
            for clip in range(2):
                (folder / f"{owner}_{action}_c{clip:02d}.mp4").write_bytes(b"clip")
    layout = []
    for run in ("a", "b"):
        resplit.main([str(tmp_path / "set"), "--out", str(tmp_path / run), "--seed", "3"])
        layout.append(sorted(str(p.relative_to(tmp_path / run)) for p in (tmp_path / run).rglob("*.mp4")))
    assert layout[0] == layout[1]
    sides = {}
    for path in layout[0]:
        _, side, action, name = Path(path).parts
        sides.setdefault(name.split("_")[0], set()).add(side)
    assert all(len(s) == 1 for s in sides.values())          # no owner on both sides
    root = tmp_path / "a" / "real_actions"
    for action in ("curl", "squat", "pushup"):
        test, train = len(list((root / "test" / action).iterdir())), len(list((root / "train" / action).iterdir()))
        assert test >= 2 and train >= 4 and 0.2 <= test / (test + train) <= 0.45
    assert "test owners:" in capsys.readouterr().out
