"""`--engine ray`: extraction and labelling on Ray give what the local path gives, use
every node of a cluster, and survive a worker killed mid-job. Ray runs on this machine
(a local instance, and a two-node cluster simulated with `ray.cluster_utils.Cluster`)."""

from __future__ import annotations

import json
import os
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from actionrec.cli import main
from actionrec.errors import ConfigError
from actionrec.pipeline import extract
from actionrec.synthetic import render_clip, write_video
from conftest import shrunk_config

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    """Class folders: good clips, one shorter than a clip, one of random bytes."""
    root = tmp_path_factory.mktemp("mixed") / "data"
    rng = np.random.default_rng(0)
    for action in ("grow", "shrink"):
        for k in range(3):
            write_video(root / action / f"{action}_{k}.avi", render_clip(action, rng, (64, 64), 30), 25.0)
    write_video(root / "grow" / "short.avi", render_clip("grow", rng, (64, 64), 3), 25.0)
    (root / "shrink" / "junk.avi").write_bytes(rng.integers(0, 256, 3000, dtype=np.uint8).tobytes())
    return root


@pytest.fixture
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


def encoder_workers() -> list[int]:
    """Pids of the processes running a backbone actor (Ray titles them `ray::MapWorker(...)`)."""
    pids = []
    for proc in Path("/proc").iterdir():
        try:
            title = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if title.startswith("ray::") and ("_Encode" in title or "MapWorker" in title):
            pids.append(int(proc.name))
    return pids


def entry_paths(cache_dir: Path) -> list[Path]:
    """The cache's finished entries; not the hidden files being written (`.<name>.<pid>.tmp.npy`),
    which may be half-written, or renamed away between listing and reading."""
    return [p for p in cache_dir.rglob("*.npy") if not p.name.startswith(".")]


def entries(cache_dir: Path) -> dict[str, np.ndarray]:
    return {p.name: np.load(p) for p in entry_paths(cache_dir)}


def config(tmp_path: Path, cache: str):
    return shrunk_config(tmp_path, "backbone.crop_size=64", f"cache.dir={tmp_path / cache}")


def test_ray_gives_the_local_cache_entries_and_label_rows(mixed, random_bundle, tmp_path, local_ray):
    local = extract(mixed, config(tmp_path, "local"), "local", progress=False)
    remote = extract(mixed, config(tmp_path, "ray"), "ray", progress=False)
    assert sorted(remote.extracted) == sorted(local.extracted) and len(local.extracted) == 7
    assert remote.failed == local.failed and list(remote.failed) == [str(mixed / "shrink" / "junk.avi")]
    a, b = entries(tmp_path / "local"), entries(tmp_path / "ray")
    assert sorted(a) == sorted(b)
    for name in a:
        np.testing.assert_allclose(a[name].astype(np.float32), b[name].astype(np.float32), atol=2e-3, rtol=1e-2)
    again = extract(mixed, config(tmp_path, "ray"), "ray", progress=False)
    assert not again.extracted and len(again.reused) == 7                  # a second run reuses the cache

    rows = {}
    for engine in ("local", "ray"):
        out = tmp_path / f"{engine}.jsonl"
        assert main(["label", "--bundle", str(random_bundle), str(mixed), str(mixed / "missing.avi"),
                     "--out", str(out), "--engine", engine, "--quiet"]) == 1
        rows[engine] = {r["path"]: r for r in map(json.loads, out.read_text().splitlines())}
    assert rows["ray"].keys() == rows["local"].keys() and len(rows["ray"]) == 9
    for path, row in rows["local"].items():
        other = rows["ray"][path]
        assert (other["label"], other["error"]) == (row["label"], row["error"])
        assert other["score"] == pytest.approx(row["score"], abs=1e-4) if row["score"] is not None else True


def test_a_two_node_cluster_uses_both_nodes(mixed, tmp_path):
    from ray.cluster_utils import Cluster
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 2})
    cluster.add_node(num_cpus=2)
    try:
        cluster.wait_for_nodes()        # both raylets registered before any task is placed
        ray.init(address=cluster.address, include_dashboard=False, log_to_driver=False)
        report = extract(mixed, config(tmp_path, "cluster"), "ray", address=cluster.address, progress=False)
        assert len(report.extracted) == 7 and len(report.nodes) == 2
    finally:
        ray.shutdown()
        cluster.shutdown()


def test_a_worker_killed_mid_job_loses_and_duplicates_nothing(tmp_path, local_ray):
    root = tmp_path / "data"
    rng = np.random.default_rng(1)
    for k in range(12):    # one long video keeps the job going while the killer waits for two entries
        frames = render_clip("grow", rng, (64, 64), 400 if k == 0 else 60)
        write_video(root / ("grow", "shrink")[k % 2] / f"v{k:02d}.avi", frames, 25.0)
    cfg = config(tmp_path, "cache")
    killed = []

    def kill_a_worker():
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not killed:
            workers = encoder_workers()
            if workers and len(entry_paths(tmp_path / "cache")) >= 2:
                os.kill(workers[0], signal.SIGKILL)
                killed.append(workers[0])
            time.sleep(0.02)

    killer = threading.Thread(target=kill_a_worker, daemon=True)
    killer.start()
    report = extract(root, cfg, "ray", progress=False)
    killer.join(timeout=5)
    assert killed, "no worker was killed: the job ended first"
    assert sorted(report.extracted) == sorted(str(p) for p in root.rglob("*.avi"))   # each once, none lost
    assert len(entries(tmp_path / "cache")) == 12 and not report.failed
    assert not [p for p in (tmp_path / "cache").rglob(".*") if p.is_file()]


def test_joining_a_cluster_refuses_a_relative_path(mixed, tmp_path):
    cfg = shrunk_config(tmp_path, "cache.dir=.cache/features")
    with pytest.raises(ConfigError, match=r"cache.dir=.cache/features: joining a Ray cluster, give an absolute path"):
        extract(mixed, cfg, "ray", address="ray://head:10001", progress=False)


def test_ray_is_imported_only_when_asked_for_and_its_absence_is_explained(tmp_path, monkeypatch):
    import subprocess
    import sys
    code = ("import sys, actionrec.cli, actionrec.pipeline, actionrec.batch, actionrec.features; "
            "sys.exit('ray' in sys.modules)")
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0
    monkeypatch.setitem(sys.modules, "ray", None)                      # as if not installed
    with pytest.raises(ConfigError, match=r"--engine ray needs Ray, which is not installed: pip install 'actionrec\[ray\]'"):
        from actionrec.engines.ray import import_ray
        import_ray()
