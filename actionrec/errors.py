"""Errors a user can act on. Each names the file or value at fault."""

from __future__ import annotations

import os
from pathlib import Path


class ActionRecError(Exception):
    """Base class for every error actionrec raises on purpose."""


class ConfigError(ActionRecError, ValueError):
    """A config key or value is unknown or out of range."""


class DatasetError(ActionRecError, ValueError):
    """A dataset layout, split file or list file is malformed."""


class WeightsError(ActionRecError, FileNotFoundError):
    """Pretrained backbone weights are missing or do not match their hash."""


class BundleError(ActionRecError, ValueError):
    """An inference bundle is unreadable or does not fit the model asked for."""


class VideoReadError(ActionRecError, OSError):
    """A video cannot be opened or decoded. `path` names the file."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def check_bundle_path(path: str | Path) -> Path:
    """`path` as a bundle file that exists, or a BundleError naming it. Needs nothing but
    the file system, so the command line is checked before any model loads."""
    path = Path(path)
    if not path.is_file():
        raise BundleError(f"{path}: no such bundle file")
    return path


RESULT_SUFFIXES = (".csv", ".jsonl")   # the results files `label` writes


class ResultsFileError(ActionRecError, ValueError):
    """`label`'s results file has an unsupported extension or does not fit this run."""


def check_results_path(path: str | Path) -> Path:
    """`path` as a results file that `label` can write, or a ResultsFileError naming it.
    Needs nothing but the file system, so the command line is checked before any model loads."""
    path = Path(path)
    if path.suffix.lower() not in RESULT_SUFFIXES:
        raise ResultsFileError(f"{path}: unsupported results file extension {path.suffix or '(none)'!r}; "
                               f"use one of {', '.join(RESULT_SUFFIXES)}")
    if path.is_dir():
        raise ResultsFileError(f"{path}: is a folder; the results file needs a file name")
    existing = next(p for p in path.absolute().parents if p.exists())
    if not existing.is_dir():
        raise ResultsFileError(f"{path}: cannot be written, {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK) or (path.exists() and not os.access(path, os.W_OK)):
        raise ResultsFileError(f"{path}: cannot be written here (permission denied)")
    return path


def failure_reason(exc: BaseException) -> str:
    """What a result row or warning says about a video that failed: a `VideoReadError`'s
    own reason, else the exception's type and message."""
    return exc.reason if isinstance(exc, VideoReadError) else f"{type(exc).__name__}: {exc}"
