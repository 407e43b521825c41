"""Execution engines: where videos are processed. `local` (this process, or `--workers`
local processes) is the code in `features.py` and `batch.py`; `ray` runs the same
per-video functions on a Ray cluster (`engines/ray.py`, imported only when asked for)."""
