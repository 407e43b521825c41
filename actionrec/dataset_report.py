"""`actionrec datasets inspect`: what `--data` holds, before a long extraction.

What was detected (format, source), each class's videos per split and its groups
(recordings), the videos listed but missing and those that cannot be read, and
durations; as a table or as JSON.
"""

from __future__ import annotations

import statistics
import warnings

from .console import Progress, summary_block
from .datasets import DatasetSplit, groups_per_class
from .errors import VideoReadError
from .video_io import probe_video

PARTS = ("train", "val", "test")


def inspect_dataset(data, cfg, progress: bool = True) -> dict:
    """The report of `data` under `cfg` (its `data.*` settings): a JSON-ready dict."""
    from .pipeline import load_split
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        split = load_split(data, cfg)
    report = {"data": str(data), "format": split.layout, "source": split.source,
              "derived": list(split.derived), "classes": class_rows(split),
              "warnings": [str(w.message) for w in caught]}
    report.update(read_durations(split, progress))
    return report


def class_rows(split: DatasetSplit) -> list[dict]:
    groups = groups_per_class(split.train + split.val + split.test, split.class_names)
    rows = []
    for label, name in enumerate(split.class_names):
        counts = {part: sum(i.label == label for i in getattr(split, part)) for part in PARTS}
        rows.append({"class": name, **counts, "groups": groups.get(name, 0)})
    return rows


def read_durations(split: DatasetSplit, progress: bool) -> dict:
    """Each video's duration from its header (a segment: its own length); the unreadable."""
    durations, unreadable = {}, {}
    videos = list(dict.fromkeys(i.path for part in PARTS for i in getattr(split, part)))
    with Progress(len(videos), "reading headers", "video", enabled=progress) as bar:
        for path in videos:
            try:
                durations[path] = probe_video(path)["duration"]
            except VideoReadError as exc:
                unreadable[str(path)] = exc.reason
            bar.update()
    seconds = {}
    for part in PARTS:
        lengths = [(i.end - i.start) if i.start is not None else durations[i.path]
                   for i in getattr(split, part) if i.path in durations]
        seconds[part] = {"total": round(sum(lengths), 1), "min": round(min(lengths), 2) if lengths else None,
                         "median": round(statistics.median(lengths), 2) if lengths else None,
                         "max": round(max(lengths), 2) if lengths else None}
    return {"videos": len(videos), "unreadable": unreadable, "seconds": seconds}


def readable(seconds: float) -> str:
    """`2.35 h`, `12.4 min` or `45.0 s`."""
    if seconds >= 3600:
        return f"{seconds / 3600:.2f} h"
    return f"{seconds / 60:.1f} min" if seconds >= 60 else f"{seconds:.1f} s"


def format_report(report: dict) -> str:
    """The report as a table and a summary block."""
    width = max([len("class")] + [len(r["class"]) for r in report["classes"]])
    lines = [f"{'class':<{width}}  {'train':>6} {'val':>6} {'test':>6} {'groups':>7}"]
    for r in report["classes"]:
        flag = "  (fewer than 3 groups)" if r["groups"] < 3 else ""
        lines.append(f"{r['class']:<{width}}  {r['train']:>6} {r['val']:>6} {r['test']:>6} {r['groups']:>7}{flag}")
    totals = {part: sum(r[part] for r in report["classes"]) for part in PARTS}
    lines.append(f"{'total':<{width}}  {totals['train']:>6} {totals['val']:>6} {totals['test']:>6}")
    s = report["seconds"]
    duration = "; ".join(f"{part} {readable(s[part]['total'])} (median {s[part]['median']} s)"
                         for part in PARTS if s[part]["median"] is not None)
    notes = [line for w in report["warnings"] for line in f"warning: {w}".splitlines()]
    notes += [f"unreadable: {path}: {why}" for path, why in report["unreadable"].items()]
    derived = ", ".join(report["derived"])
    block = summary_block("datasets inspect", [
        ("data", report["data"]), ("format", f"{report['format']} ({report['source']})"),
        ("classes", len(report["classes"])), ("videos", f"{report['videos']} files, "
                                                        f"{len(report['unreadable'])} unreadable"),
        ("split here", f"{derived} (by group)" if derived else None),
        ("duration", duration or None)],
        f"actionrec train --data {report['data']} --out weights/mine.safetensors", notes=notes)
    return "\n".join(lines) + "\n\n" + block
