"""Errors a user can act on. Each names the file or value at fault."""

from __future__ import annotations

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


def failure_reason(exc: BaseException) -> str:
    """What a result row or warning says about a video that failed: a `VideoReadError`'s
    own reason, else the exception's type and message."""
    return exc.reason if isinstance(exc, VideoReadError) else f"{type(exc).__name__}: {exc}"
