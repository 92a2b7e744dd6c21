"""Peak memory and wall time of the user's commands, each in a fresh process.

    python -m benchmarks.memory                                   # every command below, in order
    python -m benchmarks.memory --only dcgan-fashion-dry reproduce-quick
    python -m benchmarks.memory --markdown                        # the table for docs/performance.md

Each command's peak is the `ru_maxrss` that `os.wait4` reports for it alone (what `/usr/bin/time -v` calls "Maximum
resident set size"), read by a small launcher that forks it: Linux starts a child's peak at the resident size of the
process it was forked from, so a command forked straight from a large process (pytest with torch loaded) would read
that size. Wall times depend on the load: the load average is printed beside each row, and the CPU time (user +
system) too. Commands that need a run folder (evaluate) use the one an earlier command trained, so
`--only evaluate-*` trains it first.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from impl.core import cli
from impl.core.errors import boundary


@dataclass(frozen=True)
class Command:
    name: str
    args: tuple[str, ...]  # after `python`; {work} is the scratch folder
    needs: str | None = None  # the command whose run folder this one reads


COMMANDS = (
    Command("mlp-synthetic-dry", ("-m", "impl.train", "r004-mlp", "--data", "synthetic", "--dry-run")),
    Command("mlp-fashion-dry", ("-m", "impl.train", "r004-mlp", "--dry-run")),
    Command("dcgan-fashion-dry", ("-m", "impl.train", "r000-dcgan", "--data", "fashion-mnist", "--dry-run")),
    Command("mlp-train", ("-m", "impl.train", "r004-mlp", "--steps", "100", "--out", "{work}/mlp", "--quiet")),
    Command("dcgan-fashion-train", ("-m", "impl.train", "r000-dcgan", "--data", "fashion-mnist", "--steps", "2",
                                    "--batch-size", "8", "--out", "{work}/dcgan", "--quiet")),
    Command("evaluate-mlp", ("-m", "impl.evaluate", "{work}/mlp", "--quiet"), needs="mlp-train"),
    Command("evaluate-dcgan", ("-m", "impl.evaluate", "{work}/dcgan", "--n", "2000", "--quiet"),
            needs="dcgan-fashion-train"),
    Command("reproduce-quick", ("-m", "impl.reproduce", "--quick", "--out", "{work}/quick", "--quiet")),
)
NAMES = tuple(c.name for c in COMMANDS)
# forks the command and writes its own rusage to argv[1]: the command's peak starts from this small process's size
LAUNCHER = """
import json, os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    json.dump({"max_rss_kb": usage.ru_maxrss, "cpu_s": usage.ru_utime + usage.ru_stime}, out)
sys.exit(os.waitstatus_to_exitcode(status))
"""


@dataclass
class Peak:
    command: str
    max_rss_mb: float
    wall_s: float
    cpu_s: float  # user + system seconds: less dependent on the load than the wall time
    load: float  # 1-minute load average when it started
    exit_code: int


def measure(command: Command, work: Path, log: Path) -> Peak:
    """Run one command in a fresh process and read its own peak resident memory from wait4."""
    args = [a.replace("{work}", str(work)) for a in command.args]
    load = os.getloadavg()[0]
    t0 = time.perf_counter()
    report = work / "rusage.json"
    report.unlink(missing_ok=True)  # never the last command's figures
    with log.open("ab") as out:
        out.write(f"$ python {' '.join(args)}\n".encode())
        out.flush()
        code = subprocess.run([sys.executable, "-c", LAUNCHER, str(report), *args], stdout=out, stderr=out).returncode
    usage = json.loads(report.read_text())
    shown = "python " + " ".join(command.args).replace("{work}/", "")
    return Peak(shown, usage["max_rss_kb"] / 1024, time.perf_counter() - t0, usage["cpu_s"], load, code)


def table(peaks: list[Peak], markdown: bool) -> str:
    if markdown:
        rows = ["| command | peak memory | wall | CPU (user + system) | load average at start |",
                "| --- | --- | --- | --- | --- |"]
        rows += [f"| `{p.command}` | {p.max_rss_mb / 1024:.2f} GB | {p.wall_s:.0f} s | {p.cpu_s:.0f} s | {p.load:.1f} |"
                 for p in peaks]
        return "\n".join(rows)
    rows = [f"{'command':90} {'peak MB':>8} {'wall s':>7} {'CPU s':>7} {'load':>5} {'exit':>4}"]
    rows += [f"{p.command:90} {p.max_rss_mb:8,.0f} {p.wall_s:7.1f} {p.cpu_s:7.1f} {p.load:5.1f} {p.exit_code:4d}"
             for p in peaks]
    return "\n".join(rows)


def chosen(only: list[str] | None) -> list[Command]:
    """The commands to run, in order, with the ones they read from first."""
    wanted = set(only or NAMES)
    for c in COMMANDS:
        if c.name in wanted and c.needs:
            wanted.add(c.needs)
    return [c for c in COMMANDS if c.name in wanted]


@boundary("benchmarks.memory")
def main(argv: list[str] | None = None) -> int:
    p = cli.parser("python -m benchmarks.memory", __doc__)
    p.add_argument("--only", nargs="+", choices=NAMES, metavar="NAME", help=f"run these only ({', '.join(NAMES)})")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    p.add_argument("--keep", type=Path, help="keep the scratch folder (run folders, the commands' output) here")
    args = p.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="gan-spec-memory-")) if args.keep is None else args.keep
    work.mkdir(parents=True, exist_ok=True)
    log = work / "commands.log"
    peaks = []
    try:
        for command in chosen(args.only):
            peak = measure(command, work, log)
            peaks.append(peak)
            print(f"{command.name}: {peak.max_rss_mb:,.0f} MB peak, {peak.wall_s:.1f} s wall, {peak.cpu_s:.1f} s CPU, "
                  f"load {peak.load:.1f}, exit {peak.exit_code}", file=sys.stderr, flush=True)
            if peak.exit_code:
                tail = log.read_text(errors="replace").strip().splitlines()[-1:]
                print(f"  {command.name} failed: {' '.join(tail)}", file=sys.stderr)
    finally:
        print(table(peaks, args.markdown))
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if any(p.exit_code for p in peaks) else 0


if __name__ == "__main__":
    sys.exit(main())
