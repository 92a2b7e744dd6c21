"""A sweep: `impl.train EXP --set optimizer.lr=1e-4,2e-4 --seeds 0,1` trains every combination of the listed values
and seeds into one study folder, one run folder each (`optimizer.lr=0.0001_seed-0/`), then writes the page comparing
them (OUT/report.html, whose first columns are the values that differ) and OUT/sweep.json naming every run.

A value list is written with commas outside brackets (`1e-4,2e-4`); a TOML array (`optimizer.betas=[0.5, 0.9]`) is
one value. Every value is checked by the spec's reader before the first run starts.
"""

from __future__ import annotations

import argparse
import itertools
import re
import time
from pathlib import Path
from typing import Any

from impl.core.cli import seed
from impl.core.errors import RunError, UsageError
from impl.core.files import Root
from impl.pages import html
from impl.training import overrides
from impl.training.request import RunRequest, experiment_named
from impl.training.run import run_experiment

SAFE = re.compile(r"[^A-Za-z0-9._=+-]")  # what a run folder's name keeps of a value


def seeds(text: str) -> list[int]:
    """'0,1,2' -> [0, 1, 2]; argparse type of --seeds."""
    out = [seed(part.strip()) for part in text.split(",") if part.strip()]
    if not out or len(set(out)) != len(out):
        raise argparse.ArgumentTypeError(f"expected distinct seeds separated by commas (0,1,2), got {text!r}")
    return out


def listed(text: str) -> tuple[str, list[str]]:
    """'optimizer.lr=1e-4,2e-4' -> ('optimizer.lr', ['1e-4', '2e-4']); one value when there is no comma outside
    brackets."""
    key, sep, raw = text.partition("=")
    if not sep or raw.strip().startswith("["):
        return key.strip(), [raw.strip()]
    return key.strip(), [v.strip() for v in raw.split(",")]


def is_sweep(set_values: list[str], seeds_given: list[int] | None) -> bool:
    return seeds_given is not None or any(len(listed(t)[1]) > 1 for t in set_values)


def grid(set_values: list[str], seed_list: list[int]) -> list[tuple[dict[str, Any], int]]:
    """Every combination of the listed values, then of the seeds, as (the --set values, seed); a value that the
    spec cannot read is refused here, before any run."""
    keys, choices = [], []
    for text in set_values:
        key, values = listed(text)
        if key in keys:
            raise UsageError(f"--set {key}: given twice; list its values in one --set ({key}=a,b)")
        if any(not v for v in values):
            raise UsageError(f"--set {text!r}: an empty value in the list; write {key}=a,b")
        keys.append(key)
        choices.append([overrides.parse_set(f"{key}={v}")[1] for v in values])
    return [(dict(zip(keys, combo)), s) for combo in itertools.product(*choices) for s in seed_list]


def folder_name(sets: dict[str, Any], seed: int, varied: set[str]) -> str:
    """The run's folder: the values that vary, then its seed ('optimizer.lr=0.0001_seed-1')."""
    parts = [SAFE.sub("_", f"{k}={v}") for k, v in sets.items() if k in varied]
    return "_".join([*parts, f"seed-{seed}"])


def run(base: RunRequest, set_values: list[str], seed_list: list[int] | None, out: Path | None) -> int:
    """Train the grid into one folder and write its comparison page; RunError before any run when the folder is
    not empty, UsageError for --resume or --dry-run (a sweep trains fresh runs)."""
    if base.resume is not None or base.dry_run:
        raise UsageError("a sweep (value lists in --set, or --seeds) trains fresh runs; drop --resume/--dry-run, or "
                         "resume one of its runs by its folder")
    combos = grid(set_values, seed_list if seed_list is not None else [base.seed or 0])
    out = out or Path("runs") / f"{base.experiment}-sweep-{time.strftime('%Y%m%d-%H%M%S')}"
    if out.is_file() or (out.is_dir() and any(out.iterdir())):
        raise RunError(f"--out {out}: already holds files; choose another --out for the sweep")
    for sets, _ in combos:  # every combination through the spec's reader before the first run
        overrides.apply(experiment_named(str(base.experiment)), sets, "--set")
    varied = {k for k in combos[0][0] if len({repr(sets[k]) for sets, _ in combos}) > 1}
    names = [folder_name(sets, s, varied) for sets, s in combos]
    for i, ((sets, s), name) in enumerate(zip(combos, names)):
        if not base.quiet:
            print(f"[{i + 1}/{len(combos)}] {name}", flush=True)
        run_experiment(base.replace(sets=sets, seed=s, out=out / name, origin="sweep"))
    root = Root(out)
    root.write_json("sweep.json", {"experiment": base.experiment, "runs": [
        {"folder": name, "seed": s, "set": sets} for (sets, s), name in zip(combos, names)]})
    page = html.build([out / name for name in names], title=f"gan-spec sweep: {base.experiment}, {len(names)} runs",
                      warn=True)
    root.write_text("report.html", page)
    print(f"sweep: {len(names)} runs in {out}/; compared in {out / 'report.html'}")
    return 0
