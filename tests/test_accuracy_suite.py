"""The accuracy suite's small version: it runs end to end, writes its JSON and tables,
and the default recipe still reads frame order on the demo generator where the
order-blind references cannot."""

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "scripts"))
import accuracy_suite  # noqa: E402

pytestmark = pytest.mark.slow


def test_smoke_suite_writes_its_table_and_the_default_reads_frame_order(tmp_path):
    out, md = tmp_path / "accuracy.json", tmp_path / "accuracy.md"
    accuracy_suite.main(["--smoke", "--sources", "demo", "--recipes", "default", "--seeds", "0",
                         "--work", str(tmp_path / "work"), "--json", str(out), "--md", str(md)])
    run = json.loads(out.read_text())["results"]["demo"]["default"]["runs"][0]
    assert run["test_videos"] == 24
    assert run["top1"] >= 0.75, run
    assert run["top1"] > max(run["baseline_top1"], run["probe_top1"]) + 0.15, run
    table = md.read_text()
    assert "### demo" in table and "| default |" in table
