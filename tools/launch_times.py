"""Where a launched scorecard's or study's time went, and what N nodes would give, from its own run folders.

    python -m tools.launch_times runs/sc-004-slurm              # per run: training and evaluation seconds
    python -m tools.launch_times runs/sc-004-slurm --nodes 1,2,6,12

For each run folder under OUT (a folder with config.json): its training seconds (config.json's start to the last
metrics.jsonl write) and its evaluation seconds (metrics.json's evaluation_seconds). For a launched one, each job in
OUT/jobs/: its queue wait (its _submitted.pkl written to the first line of its log) and its start-up (the log's first
line to the work: for a training job config.json's start, for an evaluation job its end less the evaluation
seconds). The model: every run is its training job and then its evaluation job, each paying the median overhead
(wait + start-up) measured here; runs are placed on N nodes (one run at a time each) longest first, and the
makespan is the latest node's end.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
import time
from pathlib import Path

from impl.core import cli

STAMP = re.compile(r"\((\d{4}-\d\d-\d\d \d\d:\d\d:\d\d),(\d+)\)")  # submitit's log lines: (2026-12-05 12:09:03,123)


def stamps(log: Path) -> list[float]:
    try:
        text = log.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    return [time.mktime(time.strptime(m.group(1), "%Y-%m-%d %H:%M:%S")) + int(m.group(2)) / 1000
            for m in STAMP.finditer(text)]


def run_times(run: Path) -> tuple[float, float, float]:
    """(started, training seconds, evaluation seconds) of one run folder."""
    config = json.loads((run / "config.json").read_text(encoding="utf-8"))
    started = time.mktime(time.strptime(str(config["started"]), "%Y-%m-%d %H:%M:%S"))
    trained = (run / "metrics.jsonl").stat().st_mtime - started
    try:
        evaluated = float(json.loads((run / "metrics.json").read_text(encoding="utf-8"))["evaluation_seconds"])
    except (OSError, ValueError, KeyError):
        evaluated = 0.0
    return started, trained, evaluated


def overheads(out: Path, runs: dict[str, tuple[float, float, float]]) -> list[tuple[str, str, float, float]]:
    """(run, phase, queue wait s, start-up s) of every job whose log has its first and last lines."""
    found = []
    for record in sorted((out / "jobs").glob("*.json")):
        data = json.loads(record.read_text(encoding="utf-8"))
        folder = runs.get(str(data.get("folder")))
        if folder is None:  # a record written before it named the run's folder
            continue
        for entry in data.get("history", []):
            job = entry["job_id"]
            submitted = out / "jobs" / f"{job}_submitted.pkl"
            lines = stamps(out / "jobs" / f"{job}_0_log.err") + stamps(out / "jobs" / f"{job}_0_log.out")
            if not lines or not submitted.exists():
                continue
            first, last = min(lines), max(lines)
            wait = first - submitted.stat().st_mtime
            started, _, evaluated = folder
            work_start = started if entry["phase"] == "train" else last - evaluated
            found.append((data["label"], entry["phase"], max(0.0, wait), max(0.0, work_start - first)))
    return found


def makespan(lengths: list[float], nodes: int) -> float:
    ends = [0.0] * nodes
    for length in sorted(lengths, reverse=True):
        ends[ends.index(min(ends))] += length
    return max(ends)


def node_counts(text: str) -> list[int]:
    """argparse type: a comma list of node counts, each within cli.BOUNDS['nodes']."""
    return [cli.count("nodes")(part) for part in text.split(",")]


def parser() -> argparse.ArgumentParser:
    p = cli.parser("python -m tools.launch_times", __doc__)
    p.add_argument("out", type=Path, help="a scorecard's or study's --out")
    p.add_argument("--nodes", type=node_counts, default=[1, 2, 3, 6], help="node counts to model (default 1,2,3,6)")
    return p


def main(argv: list[str] | None = None) -> int:
    p = parser()
    args = p.parse_args(argv)
    runs = {str(c.parent.relative_to(args.out)): run_times(c.parent) for c in sorted(args.out.rglob("config.json"))}
    if not runs:
        p.error(f"{args.out}: no run folders (config.json) under it; pass a scorecard's or study's --out")
    print("| run | training s | evaluation s |\n| --- | --- | --- |")
    for name, (_, trained, evaluated) in runs.items():
        print(f"| {name} | {trained:.1f} | {evaluated:.1f} |")
    jobs = overheads(args.out, runs) if (args.out / "jobs").is_dir() else []
    per_job = statistics.median(w + s for _, _, w, s in jobs) if jobs else 0.0
    if jobs:
        waits, starts = [w for _, _, w, _ in jobs], [s for _, _, _, s in jobs]
        print(f"\n{len(jobs)} jobs: queue wait median {statistics.median(waits):.1f} s (max {max(waits):.1f}), "
              f"start-up median {statistics.median(starts):.1f} s (max {max(starts):.1f})")
    lengths = [t + e + 2 * per_job for _, t, e in runs.values()]
    print(f"\nmodel: {len(lengths)} runs of training + evaluation + 2 x {per_job:.1f} s job overhead each")
    for nodes in args.nodes:
        print(f"  {nodes:>3} node(s): {makespan(lengths, nodes):.0f} s "
              f"({math.ceil(len(lengths) / nodes)} round(s) of at most {max(lengths):.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
