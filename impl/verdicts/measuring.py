"""Measuring the runs a scorecard trains: each finished run evaluated once (metrics.json), report 004's latent probe
where a claim reads it, and per-epoch metrics (epoch_metrics.jsonl) for the claims about training stability."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch

import spec
from impl.measure import evaluation, probe
from impl.measure.reference import Reference, domain_scores
from impl.runs.folder import RunFolder
from spec.arm import ArmSpec
from spec.claim import ClaimSpec

if TYPE_CHECKING:
    from impl.training.trainer import Trainer

LATENT_SEED = 0


@dataclass(frozen=True)
class ScoreSettings:
    """A scorecard's resolved arguments: what it trains and how it measures (impl.reproduce's command line)."""

    reports: tuple[str, ...]
    seeds: int
    n: int  # generated images per run for metrics.json
    epoch_n: int  # generated images per epoch for epoch_metrics.jsonl
    fashion: Path | None  # the FashionMNIST IDX folder (None: Debian's)
    faces: str | None  # the anime faces, when the face arms train on them (None: the FashionMNIST-64 stand-in)
    inception_weights: Path | None
    device: str = "cpu"
    steps: int | None = None  # every arm cut to this many steps (None: each recipe's length)
    batch_size: int | None = None
    quick: bool = False  # a smoke run: its verdicts mean nothing, and say so
    n_real: int = 10000  # real images the metrics compare with (the FashionMNIST test split has 10,000)
    quiet: bool = False
    ref: Reference = field(default_factory=Reference, compare=False, repr=False)  # the real side, kept in memory

    def saved(self) -> dict[str, Any]:
        """What a --resume must match, as OUT/reproduce-args.json keeps it."""
        return {"reports": list(self.reports), "seeds": self.seeds, "steps": self.steps, "batch_size": self.batch_size,
                "n": self.n, "epoch_n": self.epoch_n, "faces": self.faces, "quick": self.quick,
                "fashion": str(self.fashion) if self.fashion else None, "device": self.device,
                "inception_weights": str(self.inception_weights) if self.inception_weights else None}


def claims_on(arm: ArmSpec, claims: list[ClaimSpec]) -> list[ClaimSpec]:
    return [c for c in claims if c.measurable and arm.key() in c.arm_keys().values()]


def needs_latent(arm: ArmSpec, claims: list[ClaimSpec]) -> bool:
    return any(c.measure is not None and c.measure.kind == "latent" for c in claims_on(arm, claims))


def per_step(arm: ArmSpec, claims: list[ClaimSpec]) -> bool:
    """Whether a claim reads a peak of the loss: such an arm logs every step (a 50-step mean dilutes a spike)."""
    return any(c.measure is not None and c.measure.reduce == "early_peak" for c in claims_on(arm, claims))


def epoch_keys(arm: ArmSpec, claims: list[ClaimSpec]) -> set[str]:
    return {c.measure.key for c in claims_on(arm, claims) if c.measure is not None and c.measure.kind == "epoch_series"}


def hooks_for(arm: ArmSpec, claims: list[ClaimSpec], score: ScoreSettings
              ) -> Callable[[Trainer, RunFolder], None] | None:
    """The epoch hook of an arm whose claims read per-epoch metrics, else None (no cost)."""
    if not epoch_keys(arm, claims):
        return None

    def hook(trainer: Trainer, run: RunFolder) -> None:
        fashion = run.on_fashion()
        if not fashion and not (score.faces and score.inception_weights):
            return  # a face run's per-epoch metrics need Inception weights: the claim says so (not measurable)
        gen = torch.Generator().manual_seed(LATENT_SEED)
        noise = torch.randn(score.epoch_n, *trainer.G.spec.input, generator=gen)
        parts = noise.split(500)  # type: ignore[no-untyped-call]  # torch leaves Tensor.split unannotated
        images = torch.cat([trainer.samples(part) for part in parts]).clamp(-1, 1)
        if fashion:
            scores = domain_scores(images, score.ref, fashion_folder=score.fashion, n_real=score.n_real)
        else:  # the anime faces: Inception FID/KID against the real faces, the network and real side kept
            assert score.faces and score.inception_weights  # a face run without them returned above
            scores = score.ref.inception_scores(images, Path(score.faces), score.inception_weights, score.n_real)
        row = {"epoch": trainer.epoch, "step": trainer.step, "samples": score.epoch_n,
               **{k: v for k, v in scores.items() if isinstance(v, int | float)}}
        run.append_row(RunFolder.EPOCH_LOG, row)

    return hook


def evaluated(run: Path, n: int) -> bool:
    saved = RunFolder(run).evaluation()
    return saved is not None and saved.get("samples") == n


def evaluate_run(run: Path, score: ScoreSettings, latent_probe: bool = False) -> None:
    """metrics.json on score.n images (kept when it is there already), and the latent probe when a claim reads it."""
    if not evaluated(run, score.n):
        real = Path(score.faces) if score.faces and not RunFolder(run).on_fashion() else None
        evaluation.evaluate(run, score.n, inception_weights=score.inception_weights, real_folder=real,
                            fashion_folder=score.fashion, progress=not score.quiet, n_real=score.n_real,
                            ref=score.ref)
    if latent_probe and RunFolder(run).latent() is None:
        exp = spec.load(RunFolder(run).config()["experiment"])
        assert isinstance(exp, spec.ExperimentSpec)  # a run's config.json names the experiment it trained
        study = exp.latent
        if study is None:  # the claim's own experiment has no study: read it as report 004's (impl.latent's default)
            r004 = spec.load("r004-mlp")
            assert isinstance(r004, spec.ExperimentSpec) and r004.latent is not None  # spec/ states report 004's study
            study = r004.latent
        probe.probe(run, list(study.positions.value), [float(v) for v in study.values.value], seed=LATENT_SEED,
                     progress=not score.quiet)
