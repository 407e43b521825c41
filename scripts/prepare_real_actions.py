"""Build the real-footage sets from public source videos named in a manifest.

    python scripts/prepare_real_actions.py --out data --fetch            # clone what is needed (git, apt)
    python scripts/prepare_real_actions.py --out data --sources DIR ...  # or use files you already have
    python scripts/prepare_real_actions.py --out data4 --manifest scripts/real_sources_fourth.csv --fetch
                                                            # the fourth set: 50 recordings, every clip a test clip
    python scripts/prepare_real_actions.py --out data6 --manifest scripts/real_sources_fifth.csv --fetch
                                                            # two more actions: 8 lunge and 6 jumping-jack recordings
    python scripts/prepare_real_tasks.py data/real_src --out data --tasks pan zoom reverse --test-fraction 0.33 --seed 0

The manifest (`scripts/real_sources.csv`) names each source video by repository,
commit, path and SHA-256. A source is taken from the `--sources` folders (any file
with the right SHA-256, whatever its name), or with `--fetch` from a partial clone of
its repository at that commit (`git clone --filter=blob:none`, so only the videos are
downloaded) or, for `debian:opencv-doc`, from that Debian package (`apt-get download`).
The clips are for measuring only: the repositories' licences mostly do not allow
redistribution, so neither the videos nor the clips are in git.

Written under `--out`:
- `real_actions/{train,test}/<action>/<name>_cNN.mp4`: rows with an action are cut into
  up to 6 clips of 2.5 s, evenly spaced over the row's window (`start-end` seconds; an
  empty end is the end of the video), H.264, long side at most 640 px, the source's
  frame rate. A recording's clips are all on its row's side: whole recordings are held out.
- `real_src/<name>`: every source of 3 s or more, as it is, for `prepare_real_tasks.py`.

Each folder is built beside its final place and renamed over it once complete. A source
that cannot be found, or whose SHA-256 differs, is named and left out; the rest is
built, and the exit status is 1. Needs `ffmpeg` and `ffprobe` (Debian: `apt-get install ffmpeg`).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import cv2

from actionrec.datasets import VIDEO_EXTENSIONS
from actionrec.files import atomic_path
from actionrec.weights import sha256_of

CLIP_S = 2.5
MAX_CLIPS = 6
MIN_SOURCE_S = 3.0
MIN_CLIP_FRAMES = 20
MAX_SIDE = 640
DEBIAN_PACKAGE = "debian:opencv-doc"


@dataclass(frozen=True)
class SourceRow:
    """One manifest row: the file name it gets, what it shows, and where it comes from."""
    name: str
    action: str
    side: str
    window_s: str
    repo: str
    commit: str
    path: str
    sha256: str
    licence: str

    @property
    def stem(self) -> str:
        return Path(self.name).stem

    def window(self, duration: float) -> tuple[float, float]:
        """`(start, end)` in seconds, the end no later than 0.05 s before `duration`."""
        start, _, end = self.window_s.partition("-")
        return float(start), min(float(end) if end else duration, duration - 0.05)


def read_manifest(path: Path) -> list[SourceRow]:
    with open(path, newline="") as fh:
        rows = [SourceRow(**row) for row in csv.DictReader(fh)]
    names = [row.name for row in rows]
    if twice := sorted({name for name in names if names.count(name) > 1}):
        raise SystemExit(f"{path}: names used by more than one row: {', '.join(twice)}")
    for row in rows:
        if bool(row.action) != bool(row.side) or row.side not in ("", "train", "test"):
            raise SystemExit(f"{path}: {row.name}: an action needs a side of train or test, "
                             f"got action={row.action!r} side={row.side!r}")
    return rows


def index_folders(folders: list[Path]) -> dict[str, Path]:
    """SHA-256 -> a video file under `folders` (searched recursively)."""
    found = {}
    for folder in folders:
        if not folder.is_dir():
            raise SystemExit(f"--sources {folder}: not a folder")
        for path in sorted(folder.rglob("*")):
            if path.is_file() and path.suffix.lower() in VIDEO_EXTENSIONS:
                found.setdefault(sha256_of(path), path)
    return found


def fetch_source(row: SourceRow, clones: Path, url: str) -> Path:
    """The row's file from its repository at its commit (or its Debian package), in `clones`.
    Raises CalledProcessError or FileNotFoundError when it cannot be had."""
    out = clones / "files" / row.name
    if out.is_file():
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    if row.repo == DEBIAN_PACKAGE:
        package = clones / "debian"
        package.mkdir(parents=True, exist_ok=True)
        subprocess.run(["apt-get", "download", "opencv-doc"], cwd=package, check=True, capture_output=True)
        deb = next(package.glob("opencv-doc_*.deb"))
        subprocess.run(["dpkg", "-x", str(deb), str(package / "root")], check=True, capture_output=True)
        shutil.copyfile(package / "root" / row.path, out)
        return out
    owner, name = row.repo.split("/")
    repo = clones / f"{owner}+{name}"
    if not repo.exists():
        subprocess.run(["git", "clone", "--quiet", "--filter=blob:none", "--no-checkout",
                        url.format(owner=owner, name=name), str(repo)], check=True, capture_output=True)
    with atomic_path(out) as tmp, open(tmp, "wb") as fh:
        subprocess.run(["git", "-C", str(repo), "show", f"{row.commit}:{row.path}"], stdout=fh,
                       stderr=subprocess.PIPE, check=True)
    return out


def locate(rows: list[SourceRow], folders: list[Path], clones: Path | None,
           url: str) -> tuple[dict[str, Path], dict[str, str]]:
    """(name -> verified file, name -> why it is missing) for every row."""
    by_hash = index_folders(folders)
    found, missing = {}, {}
    for row in rows:
        if row.sha256 in by_hash:
            found[row.name] = by_hash[row.sha256]
            continue
        if clones is None:
            missing[row.name] = f"{row.repo}:{row.path}: no file with its SHA-256 under --sources"
            continue
        try:
            path = fetch_source(row, clones, url)
        except (subprocess.CalledProcessError, OSError, StopIteration) as exc:
            why = (getattr(exc, "stderr", None) or b"").decode(errors="replace").strip() or str(exc)
            missing[row.name] = f"{row.repo}:{row.path}: not fetched ({why})"
            continue
        if sha256_of(path) != row.sha256:
            missing[row.name] = f"{row.repo}:{row.path}: fetched, but its SHA-256 differs from the manifest's"
        else:
            found[row.name] = path
    return found, missing


def duration_of(path: Path) -> float:
    out = subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                          str(path)], capture_output=True, text=True, check=True).stdout
    return float(out.strip())


def clip_starts(start: float, end: float) -> list[float]:
    """Up to `MAX_CLIPS` clip starts of `CLIP_S` seconds, evenly spaced over `[start, end]`."""
    count = min(MAX_CLIPS, int((end - start) // CLIP_S))
    if count <= 1:
        return [start] * count
    return [start + i * (end - start - CLIP_S) / (count - 1) for i in range(count)]


def cut_clip(source: Path, start: float, out: Path) -> None:
    scale = (f"scale='if(gt(iw,ih),min({MAX_SIDE},iw),-2)':'if(gt(iw,ih),-2,min({MAX_SIDE},ih))'")
    subprocess.run(["ffmpeg", "-y", "-v", "error", "-ss", f"{start:.3f}", "-i", str(source), "-t", str(CLIP_S),
                    "-an", "-vf", scale, "-c:v", "libx264", "-pix_fmt", "yuv420p", "-crf", "20",
                    "-preset", "medium", "-movflags", "+faststart", str(out)], check=True)


def frame_count(path: Path) -> int:
    capture = cv2.VideoCapture(str(path))
    count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
    capture.release()
    return count


def build_actions(rows: list[SourceRow], found: dict[str, Path], seconds: dict[str, float],
                  out: Path) -> dict[tuple[str, str], int]:
    """Cut every found action row into `out/{train,test}/<action>/`; clips per (action, side).
    `seconds`: each found source's duration."""
    counts: dict[tuple[str, str], int] = {}
    for row in rows:
        if not row.action or row.name not in found:
            continue
        start, end = row.window(seconds[row.name])
        folder = out / row.side / row.action
        folder.mkdir(parents=True, exist_ok=True)
        for i, clip_start in enumerate(clip_starts(start, end)):
            clip = folder / f"{row.stem}_c{i:02d}.mp4"
            cut_clip(found[row.name], clip_start, clip)
            if frame_count(clip) < MIN_CLIP_FRAMES:      # a cut past the last decodable frame
                clip.unlink()
                continue
            counts[row.action, row.side] = counts.get((row.action, row.side), 0) + 1
    return counts


def build_sources(rows: list[SourceRow], found: dict[str, Path], seconds: dict[str, float], out: Path) -> int:
    """Copy every found source of `MIN_SOURCE_S` or more into `out`; how many."""
    out.mkdir(parents=True, exist_ok=True)
    copied = 0
    for row in rows:
        if row.name in found and seconds[row.name] >= MIN_SOURCE_S:
            shutil.copyfile(found[row.name], out / row.name)
            copied += 1
    return copied


@contextmanager
def folder_built_whole(final: Path) -> Iterator[Path]:
    """Yields an empty hidden folder beside `final` to build in; on success it takes
    `final`'s place (an earlier `final` is removed), on any exception it is removed: the
    folder's twin of `actionrec.files.atomic_path`."""
    final.parent.mkdir(parents=True, exist_ok=True)
    built = Path(tempfile.mkdtemp(prefix=f".{final.name}.", dir=final.parent))
    try:
        yield built
    except BaseException:
        shutil.rmtree(built, ignore_errors=True)
        raise
    old = final.with_name(f".{final.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if final.exists():
        final.rename(old)
    built.rename(final)
    shutil.rmtree(old, ignore_errors=True)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--out", type=Path, required=True, help="writes OUT/real_actions and OUT/real_src")
    p.add_argument("--manifest", type=Path, default=Path(__file__).with_name("real_sources.csv"))
    p.add_argument("--sources", type=Path, nargs="*", default=[], help="folders holding source videos")
    p.add_argument("--fetch", action="store_true", help="fetch the sources not found under --sources")
    p.add_argument("--clones", type=Path, default=Path(".cache/real_sources"), help="where --fetch keeps them")
    p.add_argument("--url", default="https://github.com/{owner}/{name}.git", help="repository URL template")
    args = p.parse_args(argv)
    for tool in ("ffmpeg", "ffprobe"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: install FFmpeg (Debian: apt-get install ffmpeg)")
    rows = read_manifest(args.manifest)
    found, missing = locate(rows, args.sources, args.clones if args.fetch else None, args.url)
    # both folders take their places only once both are complete
    with folder_built_whole(args.out / "real_actions") as actions, folder_built_whole(args.out / "real_src") as sources:
        seconds = {name: duration_of(path) for name, path in found.items()}
        counts = build_actions(rows, found, seconds, actions)
        copied = build_sources(rows, found, seconds, sources)
    for (action, side), n in sorted(counts.items()):
        print(f"real_actions {side:5s} {action:10s} {n:3d} clips")
    print(f"real_src: {copied} videos of {MIN_SOURCE_S:g} s or more in {args.out / 'real_src'}")
    for name, why in missing.items():
        print(f"missing {name}: {why}", file=sys.stderr)
    if missing:
        print(f"{len(missing)} of {len(rows)} sources missing: built without them", file=sys.stderr)
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
