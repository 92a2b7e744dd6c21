"""What a scorecard trains: the claims chosen, the arms they need (each shared arm once per seed), the data each
arm trains on, and the scorecard's arguments resolved and checked before any folder is made."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import spec
from impl.arms.engine import MIN_N, Planned
from impl.core.errors import DataError, UsageError
from impl.data.folders import image_files
from impl.measure import features, metrics
from impl.training.request import RunRequest
from impl.training.run import resolve_device
from impl.verdicts.measuring import ScoreSettings, evaluate_run, hooks_for, needs_latent, per_step
from impl.verdicts.readings import arms_needed
from impl.verdicts.reductions import MIN_LOSS_ROWS
from spec.arm import ArmSpec
from spec.claim import ClaimSpec

QUICK_STEPS = MIN_LOSS_ROWS  # --quick: each step logged, so the loss-curve claims get exactly the rows they need
QUICK_BATCH = 4  # --quick: the smoke run checks the plumbing, not the recipe; small batches keep it to minutes
QUICK_IMAGES = QUICK_BATCH * QUICK_STEPS // 2  # --quick: two whole epochs, so each arm's per-epoch metrics get two
# rows and the last step is an epoch end (no extra grid or checkpoint); 20 images are adapted in no time
QUICK_N = MIN_N  # --quick: images per metric (the fewest the metrics accept)
QUICK_SAMPLES = 16  # --quick: each epoch's sample grid (a course DCGAN's grid of 64 cost as much as its 10 steps)
RUN_KEYS = ("epochs", "steps", "batch_size")  # arm overrides that are run lengths, not recipe values


def chosen_claims(reports: list[str]) -> list[ClaimSpec]:
    """The claims of the named reports ('4', '04' and '004' all name report 004), all when none is named."""
    claims = spec.claims()
    known = sorted({c.report for c in claims})
    wanted = []
    for r in reports:
        if not r.strip().isdigit() or len(r.strip()) > 3:
            raise UsageError(f"report {r!r}: name a report by its number ({', '.join(known)})")
        wanted.append(r.strip().zfill(3))
    unknown = [r for r in wanted if r not in known]
    if unknown:
        raise UsageError(f"report {unknown[0]}: no such report; the reports are {', '.join(known)}")
    return [c for c in claims if c.report in (wanted or known)]


def faces_folder(data: str | None) -> str | None:
    """The anime faces to train the face arms on, or None for the FashionMNIST-64 stand-in."""
    if data:
        folder = Path(data).expanduser()
        if not folder.is_dir():
            raise DataError(f"--data {data}: no such folder; pass the anime faces, or drop --data to decide the "
                            "face claims on the FashionMNIST-64 stand-in")
        if not image_files(folder)[0]:
            raise DataError(f"--data {data}: no image files (.jpg, .png, ...) found; pass the folder of anime faces")
        return data
    for place in [os.environ.get("GAN_SPEC_FACES"), "faces", "data/faces"]:
        if place and Path(place).is_dir():
            return place
    return None


def settings_of(args: Any) -> ScoreSettings:
    """The command line resolved (--quick's sizes applied) and checked: every refusal before a folder is made."""
    n, epoch_n = (min(args.n, QUICK_N), min(args.epoch_n, QUICK_N)) if args.quick else (args.n, args.epoch_n)
    if n < MIN_N:
        raise UsageError(f"--n {n}: the metrics need at least {MIN_N} generated images per run")
    metrics.check_at_most("--n", n)
    metrics.check_at_most("--epoch-n", epoch_n)
    if args.fashion is not None and not args.fashion.is_dir():
        raise DataError(f"--fashion {args.fashion}: no such folder; pass the folder holding the FashionMNIST IDX files")
    if args.inception_weights is not None:  # the file and its contents, before the first arm trains, not after
        features.check_inception_file(args.inception_weights)
    reports = tuple(sorted({c.report for c in chosen_claims(args.reports)}))
    return ScoreSettings(reports=reports, seeds=args.seeds, n=n, epoch_n=epoch_n, fashion=args.fashion,
                         faces=faces_folder(args.data), inception_weights=args.inception_weights,
                         device=resolve_device(args.device), steps=args.steps or (QUICK_STEPS if args.quick else None),
                         batch_size=QUICK_BATCH if args.quick else None, quick=args.quick, quiet=args.quiet)


def data_for(arm: ArmSpec, score: ScoreSettings) -> str | None:
    """The --data of an arm's runs: the faces (or the FashionMNIST-64 stand-in) for a face experiment, FashionMNIST
    (--fashion or Debian's) for a FashionMNIST one."""
    dataset = spec.registry().experiments[arm.experiment].dataset.value
    fashion = str(score.fashion) if score.fashion else None
    return (score.faces or fashion or "fashion-mnist") if dataset == "anime-faces" else fashion


def quick_sets(arm: ArmSpec, score: ScoreSettings) -> dict[str, int]:
    """A smoke run's smaller sample grid, where the grid is not also a latent study's (report 004's grid is its
    positions x values)."""
    if not score.quick:
        return {}
    exp = spec.load(arm.experiment)
    assert isinstance(exp, spec.ExperimentSpec)  # an arm names an experiment (spec/claim.py checks it)
    return {"samples": QUICK_SAMPLES} if exp.latent is None else {}


def request(arm: ArmSpec, seed: int, folder: Path, score: ScoreSettings, claims: list[ClaimSpec]) -> RunRequest:
    over = arm.overrides_dict()
    return RunRequest(experiment=arm.experiment, seed=seed, out=folder, data=data_for(arm, score),
                      device=score.device, quiet=score.quiet, origin="reproduce",
                      steps=score.steps or over.get("steps"), epochs=None if score.steps else over.get("epochs"),
                      batch_size=score.batch_size or over.get("batch_size"),
                      sets=quick_sets(arm, score) | {k: v for k, v in over.items() if k not in RUN_KEYS},
                      extra={"reproduce": {"arm": arm.key(), "seed": seed}}, epoch_hook=hooks_for(arm, claims, score),
                      log_every=1 if score.quick or per_step(arm, claims) else None,
                      data_limit=QUICK_IMAGES if score.quick else None)


def plan(claims: list[ClaimSpec], score: ScoreSettings, out: Path) -> list[tuple[ArmSpec, Planned]]:
    """Every training the claims need: each arm (by canonical key) once per seed, in OUT/<arm>/seed-<s>/."""
    # a diverged run is an outcome the claims read, never a reason to stop; a smoke run keeps its numbers, not its
    # weights (109 MB per course-DCGAN run)
    return [(arm, Planned(f"{arm.key()} seed {seed}", request(arm, seed, out / arm.folder() / f"seed-{seed}", score,
                                                               claims),
                          divergence_is_outcome=True, keep_weights=not score.quick))
            for arm in arms_needed(claims).values() for seed in range(score.seeds)]


def finisher(items: list[tuple[ArmSpec, Planned]], claims: list[ClaimSpec], score: ScoreSettings
             ) -> Callable[[Planned], None]:
    """What finishes each planned run of a scorecard: its evaluation, and the latent probe where a claim reads it."""
    probed = {item.folder for arm, item in items if needs_latent(arm, claims)}

    def finish(item: Planned) -> None:
        evaluate_run(item.folder, score, latent_probe=item.folder in probed)

    return finish
