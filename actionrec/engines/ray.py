"""The Ray engine: feature extraction and batch labelling on a Ray cluster (Ray Data).

The engine decides where a video is processed, not how: the per-video functions are
the local path's own.

- `extract`: each video's timeline is decoded, resized and its flow computed in a
  CPU task (`FeatureExtractor.decode_chunks`, chunk by chunk); the backbone runs in a
  pool of actors, one encoder each (`features.make_encoder`: an ONNX Runtime session on
  a CPU node, the CUDA model on a GPU node). The driver gathers each video's chunks
  and writes its cache entry with the same atomic code (`FeatureExtractor.finish_video`),
  so `--engine ray` gives the entries `--engine local` gives.
- `label`: a pool of actors, one `StreamingRecognizer` each, runs `batch.label_video`
  on one video at a time; the driver appends the rows (`ResultsFile.append`).

Faults: Ray Data retries a task, and restarts an actor, whose worker died; the driver
writes each video's entry or row once, when it arrives, so a killed worker loses and
duplicates nothing, and an interrupted run resumes from what was written. Ray is
imported only here, and only when `--engine ray` asks for it.
"""

from __future__ import annotations

import copy
import json
import logging
import os
from pathlib import Path
from typing import Iterator

import numpy as np

from ..console import verbose_requested
from ..errors import ConfigError, failure_reason

log = logging.getLogger(__name__)

INSTALL = "pip install 'actionrec[ray]'"
VIDEOS_PER_TASK = 8          # videos per Ray task, at most (see `ray_tasks`)
# CPUs each decode task and each CPU encoder actor asks for. Ray Data fuses a map of
# tasks into the actor map after it when both ask for the same resources, which would
# run the decoding inside the few encoder actors and leave the other cores idle; the
# encoder asking a hair less keeps the two stages apart.
DECODE_CPUS, ENCODER_CPUS = 1.0, 0.99


def import_ray():
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise ConfigError(f"--engine ray needs Ray, which is not installed: {INSTALL}") from None
    return ray


def check_shared_paths(address: str | None, paths: dict[str, str | Path | None]) -> None:
    """Joining a running cluster, every path a worker or the driver writes must be one that
    every node sees: refuse a relative one, naming it."""
    if not address:
        return
    for what, path in paths.items():
        if path is not None and not Path(path).is_absolute():
            raise ConfigError(f"{what}={path}: joining a Ray cluster, give an absolute path on storage "
                              f"that every node sees (a relative path means another folder on each node)")


def connect(address: str | None):
    """Ray, started on this machine (no `address`), or joined to a running cluster
    (`auto`: the `RAY_ADDRESS` variable, or the cluster started on this machine)."""
    ray = import_ray()
    if not verbose_requested() and logging.getLogger("actionrec").level > logging.DEBUG:
        quiet_ray_loggers()
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 logging_level=logging.ERROR, configure_logging=False)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False            # our own bar, over videos
    context.enable_operator_progress_bars = False
    context.print_on_execution_start = False
    context.verbose_stats_logs = False
    return ray


def quiet_ray_loggers() -> None:
    """Ray's own notices (token authentication, progress bars off, execution finished)
    go to loggers that Ray Data configures itself: warnings and below off, unless
    `--verbose`."""
    for name in ["ray", *[n for n in logging.root.manager.loggerDict if n.startswith("ray.")]]:
        logging.getLogger(name).setLevel(logging.ERROR)


def cpus(ray) -> int:
    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def ray_tasks(ray, videos: int) -> int:
    """Ray tasks (blocks) for `videos`: a few videos per task (a task's start-up and the
    object store cost about as much as a short video's work), and at least two tasks
    per CPU, so every core is busy and a failed task redoes little."""
    return min(videos, max(2 * cpus(ray), videos // VIDEOS_PER_TASK))


def encoder_actors(ray) -> int:
    """Backbone actors for extraction on CPUs: one per node, or a third of the cluster's
    CPUs if that is more (spread over the nodes). The rest decode: on real footage
    decoding, not the network, is most of the cost. (A cluster with GPUs gets one actor
    per GPU instead.)"""
    nodes = sum(1 for node in ray.nodes() if node.get("Alive"))
    return max(1, nodes, cpus(ray) // 3)


# ---------------------------------------------------------------- extraction

def _decode(row: dict, extractor) -> list[dict]:
    """The CPU task: one video -> rows of resized frames (and flow), chunk by chunk."""
    import ray
    node = ray.get_runtime_context().get_node_id()
    video = row["video"]
    try:
        chunks = list(extractor.decode_chunks(video))
    except Exception as exc:      # a bad file is one error row naming it, as on the local path
        return [{"video": video, "index": 0, "count": 1, "frames": None, "motion": None,
                 "error": failure_reason(exc), "node": node}]
    return [{"video": video, "index": i, "count": len(chunks), "frames": c.frames, "motion": c.motion,
             "error": None, "node": node} for i, c in enumerate(chunks)]


class _Encode:
    """The actor: one backbone encoder; frames -> features (and flow joined on)."""

    def __init__(self, name: str, pooling: str, grid: int, runtime: str, batch_size: int):
        import torch

        from ..backbone import Backbone
        from ..features import make_encoder
        torch.set_num_threads(1)
        self.encoder = make_encoder(Backbone(name, pooling, grid), runtime)
        self.batch_size = batch_size

    def __call__(self, row: dict) -> dict:
        import ray

        from ..features import join_streams
        out = {k: row[k] for k in ("video", "index", "count", "error")}
        out["node"], out["features"] = row["node"], None
        out["encoder_node"] = ray.get_runtime_context().get_node_id()
        if row["error"] is None:
            frames = row["frames"]
            parts = [self.encoder(frames[i:i + self.batch_size]) for i in range(0, len(frames), self.batch_size)]
            out["features"] = join_streams(np.concatenate(parts), row["motion"])
        return out


def extract(source, videos: list[str], progress, address: str | None = None):
    """Extract every video of `videos` not yet in `source.cache` on Ray; the
    `ExtractionReport`, its `nodes` the Ray nodes that decoded or encoded."""
    import time

    from ..features import Chunk, ExtractionReport
    report = ExtractionReport()
    todo = source.extractor.plan(videos, source.cache, report)
    if progress and (report.reused or report.failed):
        progress(len(report.reused) + len(report.failed))
    if not todo:
        return report
    ray = connect(address)
    decoder = copy.copy(source.extractor)
    decoder.encoder, decoder._lanes = None, []     # the backbone lives in the actors
    b = source.backbone
    gpus = int(ray.cluster_resources().get("GPU", 0))
    start = time.perf_counter()
    rows = (ray.data.from_items([{"video": v} for v in todo], override_num_blocks=ray_tasks(ray, len(todo)))
            .flat_map(_decode, fn_kwargs={"extractor": decoder}, num_cpus=DECODE_CPUS,
                      scheduling_strategy="SPREAD")
            .map(_Encode, fn_constructor_args=(b.name, b.pooling, b.grid, source.runtime,
                                               source.extractor.batch_size),
                 compute=ray.data.ActorPoolStrategy(size=gpus or encoder_actors(ray)), num_cpus=ENCODER_CPUS,
                 num_gpus=1 if gpus else 0, scheduling_strategy="SPREAD"))
    parts: dict[str, dict[int, np.ndarray]] = {}
    for row in rows.iter_rows():
        report.nodes.update({row["node"], row["encoder_node"]})
        video = row["video"]
        if row["error"] is not None:
            source.extractor.finish_video(Chunk(video, None, True, row["error"]), [], source.cache, report)
        else:
            got = parts.setdefault(video, {})
            got[row["index"]] = row["features"]
            report.frames += len(row["features"])
            if len(got) < row["count"]:
                continue
            source.extractor.finish_video(Chunk(video, None, True), [got[i] for i in sorted(got)],
                                          source.cache, report)
            del parts[video]
        if progress:
            progress(1)
    report.seconds = time.perf_counter() - start
    return report


# ---------------------------------------------------------------- labelling

class _Label:
    """The actor: one bundle's `StreamingRecognizer`; a video -> its row (as JSON)."""

    def __init__(self, bundle_path: str, cfg, options: dict):
        import torch

        from ..bundle import load_bundle
        from ..streaming import build_recognizer
        torch.set_num_threads(1)
        self.recognizer = build_recognizer(load_bundle(bundle_path), cfg)
        self.options = options

    def __call__(self, row: dict) -> dict:
        from ..batch import label_video
        result = label_video(row["video"], self.recognizer, annotate_to=row["copy"] or None, **self.options)
        return {"row": json.dumps(result)}


def label(bundle_path: str | Path, cfg, jobs: list[tuple[Path, Path | None]], options: dict,
          address: str | None = None) -> Iterator[dict]:
    """Rows of `jobs` (video, where its annotated copy goes or None), labelled on Ray, as
    they arrive."""
    if not jobs:
        return
    ray = connect(address)
    rows = (ray.data.from_items([{"video": str(v), "copy": str(c) if c else ""} for v, c in jobs],
                                override_num_blocks=ray_tasks(ray, len(jobs)))
            .map(_Label, fn_constructor_args=(os.path.abspath(bundle_path), cfg, options),
                 compute=ray.data.ActorPoolStrategy(size=min(cpus(ray), len(jobs))), num_cpus=1,
                 scheduling_strategy="SPREAD"))
    for row in rows.iter_rows():
        yield json.loads(row["row"])
