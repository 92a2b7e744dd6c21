"""Planted harms of the kinds the claims name, on real generators, and which measures find them (tools/calibrate.py).

No run is trained again. For replicate set j, pool runs 6j..6j+2 are harmed and runs 6j+3..6j+5 stay clean:
- mode dropping: the run's generated images that the shipped FashionMNIST classifier puts in classes 5-9 (sandal,
  shirt, sneaker, bag, ankle boot) are dropped, the set filled to n from more of the same generator's images;
- blur: a Gaussian blur (sigma 1 pixel) of the generated images;
- deformation: a smooth random elastic warp of each image (displacements of 2 pixels' spread, smoothed over 3);
- divergence: the set's first harmed run marked diverged by impl's own record (outcome.json); the other two clean;
- early loss peak: D's loss set to 100 at the logged step nearest 5 % of the run (report 002: "near 100"), in
  metrics.jsonl, every other row as logged.
The harmed images are measured as impl.evaluate measures a run (the same scores, the same real side) into a copy
folder holding the run's config.json and training log. Each measure column is decided by a real claim's own rule
with the harmed runs as the arm that claim calls worse (one-arm rules: the harmed runs, and the clean runs beside).
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torchvision.transforms.functional import gaussian_blur

from impl.core.errors import DataError, say
from impl.measure import metrics, reference
from impl.measure.domain_classifier import load_classifier
from impl.measure.evaluation import check_finite, run_images
from impl.runs.folder import RunFolder
from impl.verdicts.measuring import ScoreSettings
from impl.verdicts.verdict import HOLDS
from spec.claim import ClaimSpec, MeasureSpec
from tools.calibration_cases import SEEDS, decide_set, outcome

IMAGE_HARMS = ("mode dropping", "blur", "deformation")
HARMS = (*IMAGE_HARMS, "divergence", "early loss peak")
DROPPED = range(5, 10)  # FashionMNIST classes removed by the mode-dropping harm
PEAK = 100.0  # the planted early D loss
MEANS = ("domain_fid", "precision", "recall", "coverage", "structure_ms_ssim", "sharpness", "duplicate_share",
         "classes_covered", "kl_to_uniform")  # metrics.json scores shown for each image harm
# (column, claim whose rule decides it, the arm that claim calls worse: the harmed runs go there)
COLUMNS = (("FID", "c001-dcgan-better", "wgan"), ("precision", "c003-wgan-fewer-deformed", "dcgan"),
           ("recall", "c003-collapse-modes", "collapse"), ("coverage", "c003-collapse-modes", "collapse"),
           ("MS-SSIM", "c003-collapse-alike", "collapse"), ("sharpness", "c002-deeper-blurrier", "deeper"),
           ("duplicate share (event)", "c002-training-often-collapses", "original"),
           ("D early peak (event)", "c002-deeper-d-peak-near-100", "deeper"),
           ("G early peak ratio", "c002-deeper-g-high-then-down", "deeper"),
           ("D volatility ratio", "c002-original-d-steadier-than-g", "original"),
           ("D late level", "c002-deeper-d-settles-low", "deeper"))


def drop_modes(run: Path, n: int, quick: bool = False) -> torch.Tensor:
    """n of the run's images outside the dropped classes (--quick's untrained generators may make too few: their
    kept images repeated, or the images as they are when none is kept; it means nothing there)."""
    classifier, _ = load_classifier()
    images, _ = run_images(run, 4 * n)
    with torch.no_grad():
        label = torch.cat([classifier(part).argmax(1) for part in images.split(1000)])  # type: ignore[no-untyped-call]
    kept = images[~torch.isin(label, torch.tensor(list(DROPPED)))]
    if len(kept) < n and quick:
        return kept.repeat(n // max(len(kept), 1) + 1, 1, 1, 1)[:n] if len(kept) else images[:n]
    if len(kept) < n:
        raise DataError(f"{run}: only {len(kept)} of {4 * n} images lie outside the dropped classes; "
                        "pass a smaller --n")
    return kept[:n]


def deform(images: torch.Tensor, spread: float = 2.0, smooth: float = 3.0, seed: int = 0) -> torch.Tensor:
    n, _, h, w = images.shape
    gen = torch.Generator().manual_seed(seed)
    field = gaussian_blur(torch.randn(n, 2, h, w, generator=gen), [int(4 * smooth) | 1] * 2, [smooth] * 2)
    field = field / field.flatten(1).std(1).clamp_min(1e-8).view(n, 1, 1, 1) * spread  # pixels
    base = F.affine_grid(torch.eye(2, 3).expand(n, 2, 3), [n, 1, h, w], align_corners=False)
    grid = base + field.permute(0, 2, 3, 1) * torch.tensor([2.0 / w, 2.0 / h])
    return F.grid_sample(images, grid, padding_mode="border", align_corners=False).clamp(-1, 1)


def harmed_images(kind: str, run: Path, n: int, quick: bool = False) -> torch.Tensor:
    if kind == "mode dropping":
        return drop_modes(run, n, quick)
    images, _ = run_images(run, n)
    return gaussian_blur(images, [5, 5], [1.0, 1.0]) if kind == "blur" else deform(images)


def copy_record(run: Path, dst: Path, names: tuple[str, ...]) -> RunFolder:
    dst.mkdir(parents=True, exist_ok=True)
    for name in names:
        shutil.copyfile(run / name, dst / name)
    return RunFolder(dst)


def plant(kind: str, run: Path, dst: Path, score: ScoreSettings) -> Path:
    """The harmed copy of one run in `dst` (kept when it is there already: a resumed calibration)."""
    if kind in IMAGE_HARMS:
        if (RunFolder(dst).evaluation() or {}).get("samples") == score.n:
            return dst
        copy_record(run, dst, (RunFolder.CONFIG, RunFolder.LOG))
        fake = harmed_images(kind, run, score.n, score.quick)
        result: dict[str, Any] = metrics.image_scores(fake) | reference.domain_evaluation(
            fake, score.ref, score.fashion, score.n_real)
        check_finite(result)
        saved = RunFolder(run).evaluation() or {}
        RunFolder(dst).write_evaluation({"experiment": saved.get("experiment"), "step": saved.get("step"),
                                         "samples": score.n, **result})
    elif kind == "divergence":
        folder = copy_record(run, dst, (RunFolder.CONFIG,))
        folder.write_outcome(RunFolder.DIVERGED, "planted by tools.calibrate: the run is marked diverged")
    else:  # early loss peak
        folder = copy_record(run, dst, (RunFolder.CONFIG, RunFolder.EVALUATION))
        rows = [json.loads(line) for line in (run / RunFolder.LOG).read_text(encoding="utf-8").splitlines() if line]
        last = max(int(r["step"]) for r in rows)
        at = min(range(len(rows)), key=lambda i: abs(int(rows[i]["step"]) - 0.05 * last))
        rows[at] = rows[at] | {"d_loss": PEAK}
        folder.root.write_text(RunFolder.LOG, "".join(json.dumps(r) + "\n" for r in rows))
    return dst


def plant_all(runs: list[Path], sets: int, out: Path, score: ScoreSettings, quiet: bool
              ) -> dict[str, list[tuple[list[Path], list[Path]]]]:
    """{harm: [(harmed runs, clean runs) per replicate set]}."""
    planted: dict[str, list[tuple[list[Path], list[Path]]]] = {}
    for kind in HARMS:
        planted[kind] = []
        for j in range(sets):
            sources, clean = runs[6 * j:6 * j + SEEDS], runs[6 * j + SEEDS:6 * j + 2 * SEEDS]
            if not quiet:
                say(f"harm: {kind}, replicate set {j + 1} of {sets}")
            chosen = sources[:1] if kind == "divergence" else sources
            harmed = [plant(kind, r, out / kind.replace(" ", "-") / r.name, score) for r in chosen]
            planted[kind].append((harmed + sources[len(chosen):], clean))
    return planted


def column_claim(claims: list[ClaimSpec], column: str, claim_id: str) -> ClaimSpec:
    claim = next(c for c in claims if c.id == claim_id)
    if column == "coverage":  # no claim reads coverage: recall's rule (50 % lower than b) on it, named so
        claim = dataclasses.replace(claim, measure=MeasureSpec("final", "coverage"))
    return claim


def harm_rows(claims: list[ClaimSpec], runs: list[Path], planted: dict[str, list[tuple[list[Path], list[Path]]]]
              ) -> list[dict[str, Any]]:
    """Per harm and column: verdict counts with the harmed runs in the claim's worse arm (one-arm rules: on the
    harmed runs, and on the clean runs for contrast)."""
    rows = []
    for kind, pairs in planted.items():
        row: dict[str, Any] = {"harm": kind, "sets": len(pairs)}
        for column, claim_id, worse in COLUMNS:
            claim = column_claim(claims, column, claim_id)
            harmed_tally: Counter[str] = Counter()
            clean_tally: Counter[str] = Counter()
            for harmed, clean in pairs:
                if claim.rule.kind in ("threshold", "event"):
                    harmed_tally[outcome(decide_set(claim, harmed, 0.0, None, None))] += 1
                    clean_tally[outcome(decide_set(claim, clean, 0.0, None, None))] += 1
                else:
                    a, b = (harmed, clean) if worse == claim.rule.a else (clean, harmed)
                    harmed_tally[outcome(decide_set(claim, a + b, 0.0, None, None))] += 1
            row[column] = {"harmed": dict(harmed_tally), "clean": dict(clean_tally) if clean_tally else None}
        rows.append(row)
    return rows


def harm_means(planted: dict[str, list[tuple[list[Path], list[Path]]]]) -> list[dict[str, Any]]:
    """The mean of each image score over the harmed runs of each image harm, and over their clean partners."""
    def mean(paths: list[Path]) -> dict[str, float]:
        saved = [RunFolder(p).evaluation() or {} for p in paths]
        return {k: statistics.fmean(float(e[k]) for e in saved) for k in MEANS if all(k in e for e in saved)}

    rows = [{"harm": "none (the clean partners)", **mean([r for _, clean in planted[IMAGE_HARMS[0]] for r in clean])}]
    return rows + [{"harm": kind, **mean([r for harmed, _ in planted[kind] for r in harmed])} for kind in IMAGE_HARMS]


def means_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["Mean scores of the harmed images (metrics.json of the harmed copies) beside their clean partners.", "",
           "| harm | " + " | ".join(MEANS) + " |", "| --- | " + " | ".join("---" for _ in MEANS) + " |"]
    return out + [f"| {r['harm']} | " + " | ".join(f"{r[k]:.4g}" if k in r else "-" for k in MEANS) + " |"
                  for r in rows]


def harm_table(rows: list[dict[str, Any]]) -> list[str]:
    out = ["Planted harms: replicate sets (3 harmed seeds against 3 clean ones) where each measure's claim rule, with "
           "the harmed runs as the arm the claim calls worse, holds; for one-arm rules (events, thresholds) 'holds' "
           "on the harmed runs, and in brackets on the clean runs.", "",
           "| harm | sets | " + " | ".join(f"{c} (`{i}`)" for c, i, _ in COLUMNS) + " |",
           "| --- | --- | " + " | ".join("---" for _ in COLUMNS) + " |"]
    for row in rows:
        cells = []
        for column, _, _ in COLUMNS:
            got = row[column]
            text = f"{got['harmed'].get(HOLDS, 0)}/{row['sets']}"
            if got["clean"] is not None:
                text += f" ({got['clean'].get(HOLDS, 0)}/{row['sets']})"
            cells.append(text)
        out.append(f"| {row['harm']} | {row['sets']} | " + " | ".join(cells) + " |")
    return out
