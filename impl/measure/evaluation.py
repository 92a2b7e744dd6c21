"""Measuring a trained run into RUN/metrics.json: diversity and sharpness for every run; for FashionMNIST runs the
domain scores of the shipped classifier (FID/KID with their real-vs-real floor, precision/recall, density/coverage,
class coverage, confidence); with Inception weights the standard Inception FID/KID/IS. docs/metrics.md says what
each number means, its direction and what it can be compared with."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import torch

from impl.core.errors import DataError, NonFinite
from impl.core.progress import duration, tracked
from impl.data.load import to_unit
from impl.measure import metrics, reference
from impl.measure.sampling import batch_count, generate
from impl.runs.checkpoint import load_generator
from impl.runs.folder import RunFolder
from impl.training.tensorboard import write_evaluation


def run_images(run: Path, n: int, seed: int = 0, checkpoint: str | None = None, progress: bool = False
               ) -> tuple[torch.Tensor, dict[str, Any]]:
    """n images in [-1, 1] from the run's last checkpoint (or the one named), noise from `seed`, and the checkpoint;
    refused when the generator makes non-finite pixels. `progress`: batches counted on stderr, with elapsed and ETA."""
    g, state = load_generator(run, checkpoint)
    images = torch.cat(list(tracked(generate(g, n, seed=seed), batch_count(n), f"evaluate: generating {n:,} images",
                                    "batch", not progress)))
    bad = int((~torch.isfinite(images.flatten(1))).any(1).sum())
    if bad:
        raise NonFinite(f"{run}: the generator made {bad} of {n} images with NaN or infinite pixels; the checkpoint "
                       "is broken (evaluate an earlier one)")
    return images, state


def check_finite(result: dict[str, Any]) -> None:
    """metrics.json never holds NaN or infinity: a metric that is not finite stops the evaluation, named."""
    bad = [k for k, v in result.items() if isinstance(v, float) and not math.isfinite(v)]
    if bad:
        raise DataError(f"{', '.join(bad)}: not finite for this set of images; {RunFolder.EVALUATION} is not written; "
                        "evaluate more images, or report the run")


def evaluate(run: Path, n: int = 10000, inception_weights: Path | None = None, real_folder: Path | None = None,
             fashion_folder: Path | None = None, progress: bool = True, *, n_real: int = reference.N_REAL,
             checkpoint: str | None = None, ref: reference.Reference | None = None) -> dict[str, Any]:
    """Generate n images from the run, score them and write RUN/metrics.json; the scores as a dict. `ref` keeps the
    real side in memory for the next evaluation (a study's or scorecard's)."""
    start = time.monotonic()
    ref = ref or reference.Reference()
    say = reference.say_on_stderr if progress else None
    fashion = RunFolder(run).on_fashion()
    if inception_weights and not (real_folder or fashion):
        raise DataError("Inception FID needs real images: pass --real FOLDER (or evaluate a FashionMNIST run)")
    if fashion or inception_weights:
        metrics.check_count("--n", n)
        metrics.check_count("--n-real", n_real, 2 * metrics.MIN_SAMPLES)  # the floor takes two halves
        if say and n < 2000:
            say(f"note: FID grows as the sample count shrinks; compare FIDs only at the same --n ({n:,} here)")
    inception = reference.inception_net(inception_weights, say) if inception_weights else None  # a bad file: now
    fake, state = run_images(run, n, checkpoint=checkpoint, progress=progress)
    if say:
        say(f"sharpness and MS-SSIM diversity of the generated images ({duration(time.monotonic() - start)} elapsed)")
    result: dict[str, Any] = metrics.image_scores(fake)
    shape = tuple(fake.shape[1:])
    if fashion:
        result |= reference.domain_evaluation(fake, ref, fashion_folder, n_real, say)
    real = ref.folder_real(real_folder, n_real, shape, progress) if real_folder and not fashion else None
    if inception is not None:
        result |= reference.inception_evaluation(fake, inception, real or ref.fashion_real(fashion_folder, n_real,
                                                                                              shape), ref, say)
    if real is not None:  # the real faces' own sharpness and diversity, and the anime-face detector's metrics
        unit = to_unit(real.load())
        result |= {"real_set": real.description, "real_samples": real.count, **metrics.image_scores(unit, "real_")}
        result |= ref.face_scores(fake, real, say)
    check_finite(result)
    result = {"experiment": state["experiment"], "step": state["step"], "checkpoint": checkpoint or "last.pt",
              "samples": n, "evaluated": time.strftime("%Y-%m-%d %H:%M:%S"),
              "evaluation_seconds": round(time.monotonic() - start, 2), **result}
    folder = RunFolder(run)
    folder.write_evaluation(result)
    write_evaluation(folder, int(state["step"]), result)
    return result
