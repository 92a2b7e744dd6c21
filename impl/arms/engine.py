"""Do the reports' results hold? Train the arms their claims compare, over several seeds, measure them, and decide
every claim: holds, does not hold, inconclusive (the effect is within seed-to-seed noise), or not measurable here.

    python -m impl.reproduce 004 --seeds 3              # report 004's claims on FashionMNIST, at the report's length
    python -m impl.reproduce --steps 3000               # every report; arms cut to 3,000 steps (the scorecard says so)
    python -m impl.reproduce 003 --data faces/ --inception-weights pt_inception-2015-12-05.pth
    python -m impl.reproduce --quick                    # every claim end to end on tiny step counts (a smoke test)
    python -m impl.reproduce 004 --out runs/sc --resume # continue an interrupted scorecard

Writes OUT/<arm>/seed-<s>/ (ordinary runs, each evaluated), OUT/scorecard.md, OUT/scorecard.json and
OUT/report.html. An arm several claims share is trained once. Without --data, the anime-face claims are decided on
FashionMNIST-64 (FashionMNIST upscaled to 64x64 RGB), the offline stand-in, and every verdict says so.
"""

from __future__ import annotations

import contextlib
import json
import shlex
import signal
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import spec
from impl import cli
from impl.errors import DataError, Interrupted, RunError, UsageError
from impl.runs import folder as rundir
from impl.training.run import RunRequest, resolve_device, run_experiment
from impl.verdicts import scorecard
from spec.arm import ArmSpec
from spec.claim import ClaimSpec

QUICK_STEPS = 8  # --quick: enough for a generator step at n_critic 5, and for epochs on a tiny data set
QUICK_BATCH = 16  # --quick: the smoke run checks the plumbing, not the recipe; small batches keep it to minutes
RUN_KEYS = ("epochs", "steps", "batch_size")  # arm overrides that are run lengths, not recipe values


@dataclass(frozen=True)
class Planned:
    """One training: an arm (experiment + overrides) at one seed, in its folder."""

    arm: ArmSpec
    seed: int
    folder: Path

    def request(self, args: Any, data: str | None, origin: str) -> RunRequest:
        over = self.arm.overrides_dict()
        steps = over.get("steps") or args.steps
        return RunRequest(experiment=self.arm.experiment, seed=self.seed, out=self.folder, data=data,
                          device=args.device, quiet=args.quiet, origin=origin, steps=steps,
                          epochs=over.get("epochs"), batch_size=over.get("batch_size") or args.batch_size,
                          sets={k: v for k, v in over.items() if k not in RUN_KEYS},
                          extra={"reproduce": {"arm": self.arm.key(), "seed": self.seed}})


def parser() -> cli.Parser:
    p = cli.parser("python -m impl.reproduce", __doc__)
    p.add_argument("reports", nargs="*", help="report numbers (000 ... 004); default: all five")
    p.add_argument("--seeds", type=cli.positive, default=3, help="seeds per arm (default 3; one seed decides nothing)")
    p.add_argument("--steps", type=cli.positive,
                   help="cut every arm to this many steps (default: each recipe's length)")
    p.add_argument("--data", type=cli.nonempty, help="the anime faces (a folder of images) for reports 000-003; "
                   "default: $GAN_SPEC_FACES, ./faces, else FashionMNIST-64 as the stand-in")
    p.add_argument("--fashion", type=Path, help="folder of the FashionMNIST IDX files (default: Debian's)")
    p.add_argument("--inception-weights", type=Path, help="torch-fidelity's Inception weights file: FID/KID/IS "
                   "comparable with published numbers (needed for claims on the real faces)")
    p.add_argument("--n", type=cli.positive, default=5000, help="generated images per run for the metrics (5,000)")
    p.add_argument("--epoch-n", type=cli.positive, default=1000,
                   help="generated images per epoch for per-epoch metrics (claims about training stability)")
    p.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    p.add_argument("--out", type=Path, help="output folder (default runs/scorecard-<timestamp>)")
    p.add_argument("--resume", action="store_true", help="continue the interrupted scorecard in --out")
    p.add_argument("--quick", action="store_true", help=f"{QUICK_STEPS} steps of batch {QUICK_BATCH} per arm, 40 "
                   "images per metric: every claim end to end in minutes (its verdicts mean nothing)")
    p.add_argument("--quiet", action="store_true")
    return p


def chosen_claims(reports: list[str]) -> list[ClaimSpec]:
    claims = spec.claims()
    known = sorted({c.report for c in claims})
    wanted = [r.zfill(3) for r in reports] or known
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise UsageError(f"report {unknown[0]}: no such report; the reports are {', '.join(known)}")
    return [c for c in claims if c.report in wanted]


def faces_folder(args: Any) -> str | None:
    """The anime faces to train the face arms on, or None for the FashionMNIST-64 stand-in."""
    import os

    if args.data:
        folder = Path(args.data).expanduser()
        if not folder.is_dir():
            raise DataError(f"--data {args.data}: no such folder; pass the anime faces, or drop --data to decide the "
                            "face claims on the FashionMNIST-64 stand-in")
        from impl.data.files import image_files

        if not image_files(folder)[0]:
            raise DataError(f"--data {args.data}: no image files (.jpg, .png, ...) found; pass the folder of anime "
                            "faces")
        return args.data
    for place in [os.environ.get("GAN_SPEC_FACES"), "faces", "data/faces"]:
        if place and Path(place).is_dir():
            return place
    return None


def data_for(arm: ArmSpec, args: Any, faces: str | None) -> str | None:
    """The --data of an arm's runs: the faces (or the FashionMNIST-64 stand-in) for a face experiment, FashionMNIST
    (--fashion or Debian's) for a FashionMNIST one."""
    dataset = spec.registry().experiments[arm.experiment].dataset.value
    fashion = str(args.fashion) if args.fashion else "fashion-mnist"
    return (faces or fashion) if dataset == "anime-faces" else (str(args.fashion) if args.fashion else None)


def check(args: Any) -> dict:
    """Everything that can be refused before a folder is made; returns what a resume must match."""
    args.batch_size = QUICK_BATCH if args.quick else None
    if args.quick:
        args.steps, args.n, args.epoch_n = args.steps or QUICK_STEPS, min(args.n, 40), min(args.epoch_n, 40)
    if args.n < scorecard.MIN_N:
        raise UsageError(f"--n {args.n}: the metrics need at least {scorecard.MIN_N} generated images per run")
    if args.fashion is not None and not args.fashion.is_dir():
        raise DataError(f"--fashion {args.fashion}: no such folder; pass the folder holding the FashionMNIST IDX files")
    if args.inception_weights is not None and not args.inception_weights.is_file():
        raise DataError(f"--inception-weights {args.inception_weights}: no such file; pass torch-fidelity's "
                        "weights-inception-2015-12-05-6726825d.pth")
    return {"reports": sorted({c.report for c in chosen_claims(args.reports)}), "seeds": args.seeds,
            "steps": args.steps, "batch_size": args.batch_size, "n": args.n, "epoch_n": args.epoch_n,
            "data": args.data, "faces": faces_folder(args),
            "fashion": str(args.fashion) if args.fashion else None, "device": resolve_device(args.device),
            "inception_weights": str(args.inception_weights) if args.inception_weights else None}


def open_out(args: Any, wanted: dict) -> Path:
    out = args.out or Path("runs") / f"scorecard-{time.strftime('%Y%m%d-%H%M%S')}"
    blocker = rundir.file_in_the_way(out)
    if blocker is not None:
        raise RunError(f"--out {out}: {blocker} is a file, not a folder; choose another --out")
    saved_path = out / "reproduce-args.json"
    if args.resume:
        if args.out is None:
            raise UsageError("--resume needs --out: the folder of the scorecard to continue")
        try:
            saved = json.loads(saved_path.read_text())
        except (OSError, ValueError):
            raise RunError(f"{out}: no scorecard to continue ({saved_path.name} missing or damaged); check --out, "
                           "or drop --resume") from None
        changed = [f"{k} {saved.get(k)} (now {v})" for k, v in wanted.items() if saved.get(k) != v]
        if changed:
            raise RunError(f"{out}: the scorecard was started with " + ", ".join(changed)
                           + "; resume it with those arguments, or start a new one in another --out")
    elif out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out}: already holds files; continue that scorecard with --resume, or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    if not saved_path.exists():
        rundir.write_json(saved_path, wanted)
    return out


def finished(run: Path) -> bool:
    """Trained to its last step (its metrics end at the total its config.json plans)."""
    try:
        total = rundir.read_config(run)["total_steps"]
    except RunError:
        return False
    rows = rundir.read_metrics(run)
    return bool(rows) and rows[-1].get("step") == total and (run / "checkpoints/last.pt").is_file()


def train(item: Planned, args: Any, data: str | None, hook: Any, resume_hint: str) -> None:
    """Train one planned run, or continue it from its checkpoint; a finished one is left as it is."""
    if finished(item.folder):
        return
    request = item.request(args, data, "reproduce")
    request.epoch_hook = hook
    if (item.folder / "checkpoints").is_dir() and any((item.folder / "checkpoints").glob("*.pt")):
        request = RunRequest(resume=item.folder, device=args.device, quiet=args.quiet, steps=request.steps,
                             epoch_hook=hook)
    elif item.folder.exists():
        import shutil

        shutil.rmtree(item.folder)  # stopped before its first checkpoint: nothing worth keeping
    try:
        run_experiment(request)
    except Interrupted as exc:
        raise Interrupted(f"{str(exc).split('; continue with')[0]}; continue the scorecard with: {resume_hint}",
                          exc.exit_code - 128) from None


def resume_command(argv: list[str], out: Path) -> str:
    """The command that continues this scorecard: the same arguments, --out made explicit, and --resume."""
    kept, skip = [], False
    for arg in argv:
        if skip or arg == "--resume":
            skip = False
            continue
        if arg == "--out":
            skip = True
            continue
        if not arg.startswith("--out="):
            kept.append(shlex.quote(arg))
    return " ".join(["python -m impl.reproduce", *kept, "--out", shlex.quote(str(out)), "--resume"])


@contextlib.contextmanager
def spent_time(out: Path) -> Iterator[Callable[[], float]]:
    """Wall time spent on the scorecard over all its calls (an interrupted one included), kept in
    OUT/reproduce-time.json; yields a function giving the total so far."""
    ledger, start = out / "reproduce-time.json", time.time()
    try:
        before = float(json.loads(ledger.read_text())["seconds"])
    except (OSError, ValueError, KeyError, TypeError):
        before = 0.0

    def total() -> float:
        return round(before + time.time() - start, 1)

    try:
        yield total
    finally:
        rundir.write_json(ledger, {"seconds": total()})


@contextlib.contextmanager
def signals_name(hint: str) -> Iterator[None]:
    """Outside training (evaluating, probing, writing) SIGINT, SIGTERM and SIGHUP stop with the command that
    continues the scorecard, like an interruption inside training; the handlers before are restored after."""
    def stop(signum: int, _frame: object) -> None:
        raise Interrupted(f"interrupted ({signal.Signals(signum).name}) between trainings; finished runs are kept; "
                          f"continue the scorecard with: {hint}", signum)

    wanted = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    before = {name: signal.signal(getattr(signal, name), stop) for name in wanted}
    try:
        yield
    finally:
        for name, handler in before.items():
            signal.signal(getattr(signal, name), handler)


def plan(claims: list[ClaimSpec], args: Any, out: Path) -> list[Planned]:
    from impl.verdicts.readings import arms_needed

    return [Planned(arm, seed, out / arm.folder() / f"seed-{seed}")
            for arm in arms_needed(claims).values() for seed in range(args.seeds)]
