"""Where the runs of a scorecard or study train: in this process (the default), as jobs on this machine's CPUs and
GPUs (`--launcher local`), or as jobs on a Slurm cluster (`--launcher slurm`), both through submitit.

The options are added once, here, to impl.reproduce, impl.collapse and impl.compare. A site file holds a cluster's
defaults (partition, account, ...): `--site FILE`, else $GAN_SPEC_SITE, else ~/.config/gan-spec/site.toml when it
exists; the command line wins over it. Everything is checked before any folder is made: a launcher that cannot
work here (no sbatch on the PATH, a partition the cluster does not have, a time limit that is not one) is one line
and exit 2. The jobs themselves are run by impl/arms/jobs.py.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from impl.core import cli
from impl.core.errors import UsageError

LAUNCHERS = ("inproc", "local", "slurm")
SITE_ENV = "GAN_SPEC_SITE"
SITE_DEFAULT = Path("~/.config/gan-spec/site.toml")
SLURM_TIMEOUT_S = 30  # sinfo on a busy controller


@dataclass(frozen=True)
class Launcher:
    """How and where the runs train. Slurm's values are None where the cluster's defaults apply."""

    kind: str = "inproc"
    jobs: int = 1  # runs at the same time
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    gpus_per_run: int = 0
    cpus_per_run: int = 1
    mem_per_run_gb: float | None = None
    time_limit_min: int = 240
    sbatch: dict[str, str] = field(default_factory=dict)  # any other sbatch option, --slurm-opt KEY=VALUE

    @property
    def in_process(self) -> bool:
        return self.kind == "inproc"


def time_limit(text: str) -> int:
    """Minutes from a Slurm time: MM, MM:SS, HH:MM:SS, D-HH, D-HH:MM or D-HH:MM:SS (rounded up to a minute)."""
    match = re.fullmatch(r"(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?", text.strip())
    if match is None:
        raise argparse.ArgumentTypeError(f"expected minutes or a Slurm time (HH:MM:SS, D-HH:MM), got {text!r}")
    days, first, second, third = (int(g) if g else None for g in match.groups())
    a, b, c = first or 0, second or 0, third or 0
    if days is not None:  # D-HH[:MM[:SS]]
        seconds = ((days * 24 + a) * 60 + b) * 60 + c
    elif third is not None:  # HH:MM:SS
        seconds = (a * 60 + b) * 60 + c
    elif second is not None:  # MM:SS
        seconds = a * 60 + b
    else:  # MM
        seconds = a * 60
    if seconds <= 0:
        raise argparse.ArgumentTypeError(f"expected a time limit above zero, got {text!r}")
    return math.ceil(seconds / 60)


def memory(text: str) -> float:
    """Gigabytes from 16, 16G, 16GB, 512M or 1T."""
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([MGT]?)B?", text.strip(), re.IGNORECASE)
    if match is None or float(match.group(1)) <= 0:
        raise argparse.ArgumentTypeError(f"expected an amount of memory such as 16G or 512M, got {text!r}")
    return float(match.group(1)) * {"M": 1 / 1024, "": 1.0, "G": 1.0, "T": 1024.0}[match.group(2).upper()]


def sbatch_option(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    key = key.strip().removeprefix("--")
    if not re.fullmatch(r"[a-z][a-z0-9_-]*", key):
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE with an sbatch option as KEY (e.g. constraint=a100), "
                                         f"got {text!r}")
    return key, value if sep else "True"  # a flag without a value (exclusive)


def add_arguments(p: argparse.ArgumentParser) -> None:
    """The launcher's options, one group in --help."""
    g = p.add_argument_group("where the runs train (docs/distributed.md)")
    g.add_argument("--launcher", choices=LAUNCHERS, help="inproc: one after another in this process (default); "
                   "local: jobs on this machine, placed on its GPUs; slurm: jobs on a Slurm cluster")
    g.add_argument("--jobs", type=cli.count("jobs"), help="runs at the same time (default 1; local places them on the "
                   "visible GPUs round robin, several to a GPU)")
    g.add_argument("--partition", help="Slurm partition (default: the site file's, else the cluster's default)")
    g.add_argument("--account", help="Slurm account to charge")
    g.add_argument("--qos", help="Slurm quality of service")
    g.add_argument("--gpus-per-run", type=_count, help="GPUs per run (default 0; a run uses one)")
    g.add_argument("--cpus-per-run", type=_positive, help="CPUs per run (default 1)")
    g.add_argument("--mem-per-run", type=memory, metavar="SIZE", help="memory per run, e.g. 16G (default: the "
                   "cluster's)")
    g.add_argument("--time-limit", type=time_limit, metavar="TIME", help="per job, minutes or D-HH:MM:SS "
                   "(default 4 h); a job at its limit saves, is requeued and resumes")
    g.add_argument("--slurm-opt", type=sbatch_option, action="append", default=[], metavar="KEY=VALUE",
                   help="any other sbatch option, e.g. constraint=a100 (repeatable)")
    g.add_argument("--site", type=Path, metavar="FILE", help=f"site defaults (TOML; default ${SITE_ENV}, else "
                   f"{SITE_DEFAULT} when it exists)")


def _positive(text: str) -> int:
    if not text.strip().isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 1, got {text!r}")
    return int(text)


def _count(text: str) -> int:
    if not text.strip().isdigit():
        raise argparse.ArgumentTypeError(f"expected a whole number of at least 0, got {text!r}")
    return int(text)


SITE_KEYS = {"launcher": str, "jobs": int, "partition": str, "account": str, "qos": str, "gpus_per_run": int,
             "cpus_per_run": int, "mem_per_run": str, "time_limit": str, "sbatch": dict}


def site_defaults(path: Path | None) -> dict[str, Any]:
    """The site file's values, checked: a key it should not have or a value of the wrong type is one line."""
    chosen = path or (Path(os.environ[SITE_ENV]) if os.environ.get(SITE_ENV) else None)
    if chosen is None:
        chosen = SITE_DEFAULT.expanduser()
        if not chosen.is_file():
            return {}
    try:
        data = tomllib.loads(chosen.expanduser().read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"site file {chosen}: cannot be read ({getattr(exc, 'strerror', None) or exc}); fix it, "
                         f"or pass another with --site") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"site file {chosen}: not TOML ({exc}); fix it") from None
    for key, value in data.items():
        wanted = SITE_KEYS.get(key)
        if wanted is None:
            raise UsageError(f"site file {chosen}: unknown key {key!r}; the keys are {', '.join(SITE_KEYS)}")
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise UsageError(f"site file {chosen}: {key} = {value!r} is not a {wanted.__name__}; fix it")
    return data


def from_args(args: argparse.Namespace) -> Launcher:
    """The launcher the command line and the site file ask for, checked against this machine (UsageError, exit 2,
    before any folder is made)."""
    site = site_defaults(getattr(args, "site", None))

    def pick(name: str, site_key: str, convert: Any = None) -> Any:
        given = getattr(args, name, None)
        if given is not None:
            return given
        if site_key in site:
            value = site[site_key]
            try:
                return convert(str(value)) if convert else value
            except argparse.ArgumentTypeError as exc:
                raise UsageError(f"site file: {site_key} = {value!r}: {exc}") from None
        return None

    defaults: dict[str, Any] = {f.name: f.default for f in fields(Launcher) if f.name != "sbatch"}
    chosen = {
        "kind": pick("launcher", "launcher"), "jobs": pick("jobs", "jobs"), "partition": pick("partition", "partition"),
        "account": pick("account", "account"), "qos": pick("qos", "qos"),
        "gpus_per_run": pick("gpus_per_run", "gpus_per_run"), "cpus_per_run": pick("cpus_per_run", "cpus_per_run"),
        "mem_per_run_gb": pick("mem_per_run", "mem_per_run", memory),
        "time_limit_min": pick("time_limit", "time_limit", time_limit)}
    values: dict[str, Any] = {k: defaults[k] if v is None else v for k, v in chosen.items()}
    if values["kind"] not in LAUNCHERS:
        raise UsageError(f"site file: launcher = {values['kind']!r}; choose one of {', '.join(LAUNCHERS)}")
    sbatch = {str(k): str(v) for k, v in site.get("sbatch", {}).items()} | dict(getattr(args, "slurm_opt", []) or [])
    launcher = Launcher(**values, sbatch=sbatch)
    check(launcher)
    return launcher


def check(launcher: Launcher) -> None:
    """What must hold on this machine for the launcher to start a job."""
    if launcher.kind != "slurm":
        return
    if shutil.which("sbatch") is None:
        raise UsageError("--launcher slurm: no sbatch on the PATH; run on the cluster's login node (or load its "
                         "Slurm module), or use --launcher local or inproc")
    if launcher.partition is not None:
        known = partitions()
        if known is not None and launcher.partition not in known:
            raise UsageError(f"--partition {launcher.partition}: this cluster has no such partition (sinfo lists "
                             f"{', '.join(known) or 'none'}); choose one of those")


def partitions() -> list[str] | None:
    """The cluster's partitions as sinfo lists them, None when sinfo cannot say."""
    try:
        done = subprocess.run(["sinfo", "-h", "-o", "%P"], capture_output=True, text=True, timeout=SLURM_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired):
        return None
    if done.returncode != 0:
        return None
    return sorted({line.strip().rstrip("*") for line in done.stdout.splitlines() if line.strip()})
