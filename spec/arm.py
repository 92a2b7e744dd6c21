"""An arm of a claim: an experiment and the recipe values changed from its spec (the overrides), with the rules
that say which override keys exist, which values they take and which experiments they apply to. `--set` on
impl.train checks its values with the same `check_override`."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from spec.experiment import OPTIMIZERS, ExperimentSpec
from spec.fields import SpecError, check_type, closest

OVERRIDE_KEYS = ("epochs", "steps", "batch_size", "n_critic", "clip_value", "gp_weight", "d_loss", "samples",
                 "optimizer.lr", "optimizer.betas", "optimizer.momentum", "optimizer.alpha", "optimizer.eps",
                 "optimizer.weight_decay")
def finite_positive(value: Any, where: str) -> float:
    check_type(value, float, where)
    if not math.isfinite(value) or value <= 0:
        raise SpecError(f"{where}: must be a positive finite number, got {value!r}")
    return value


def check_override(key: str, value: Any, where: str) -> Any:
    """`value` if it is a valid value for recipe override `key`, else a one-line SpecError naming `where`."""
    if key not in OVERRIDE_KEYS:
        hint = (f" (did you mean 'optimizer.{key}'?)" if f"optimizer.{key}" in OVERRIDE_KEYS
                else closest(key, OVERRIDE_KEYS))
        raise SpecError(f"{where}: {key!r} is not an override key{hint}; "
                        f"allowed: {', '.join(OVERRIDE_KEYS)}")
    if key in ("epochs", "steps", "batch_size", "n_critic", "samples"):
        check_type(value, int, where)
        if value <= 0:
            raise SpecError(f"{where}: must be a positive integer, got {value!r}")
    elif key in ("clip_value", "gp_weight", "optimizer.lr", "optimizer.eps"):
        finite_positive(value, where)
    elif key == "d_loss":
        if value not in ("mean", "sum"):
            raise SpecError(f"{where}: must be \"mean\" or \"sum\", got {value!r}")
    elif key == "optimizer.betas":
        if not (isinstance(value, list) and len(value) == 2):
            raise SpecError(f"{where}: must be a pair [beta1, beta2], got {value!r}")
        for i, beta in enumerate(value):
            check_type(beta, float, f"{where}[{i}]")
            if not 0 <= beta < 1:
                raise SpecError(f"{where}[{i}]: must be in [0, 1), got {beta!r}")
    else:  # momentum, alpha, weight_decay
        check_type(value, float, where)
        upper = math.inf if key == "optimizer.weight_decay" else 1
        if not (math.isfinite(value) and 0 <= value < upper):
            raise SpecError(f"{where}: must be {'>= 0 and finite' if upper == math.inf else 'in [0, 1)'}, "
                            f"got {value!r}")
    return value


@dataclass(frozen=True)
class ArmSpec:
    """One trained configuration: an experiment and the recipe values changed from its spec."""

    experiment: str
    overrides: tuple[tuple[str, Any], ...] = ()  # (key, value) sorted by key; a pair value is a tuple

    def key(self) -> str:
        """Canonical identity: two claims needing the same training give the same key, e.g.
        'r003-wgan' or 'r003-collapse{clip_value=0.01,epochs=20}'."""
        if not self.overrides:
            return self.experiment
        return self.experiment + "{" + ",".join(f"{k}={json.dumps(v)}" for k, v in self.overrides) + "}"

    def folder(self) -> str:
        """The key as a folder name of letters, digits, '.', '-' and '_': 'r003-wgan__clip_value-0.1__epochs-20'."""
        def safe(text: str) -> str:
            return "".join(c if c.isascii() and (c.isalnum() or c in ".-_") else "_" for c in text)

        parts = [f"{k}-{'-'.join(map(str, v)) if isinstance(v, tuple) else v}" for k, v in self.overrides]
        return "__".join([self.experiment, *map(safe, parts)])

    def overrides_dict(self) -> dict[str, Any]:
        """The overrides as --set would take them (a pair such as betas as a list)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.overrides}


# which loss families use which recipe override (n_critic applies to all: the generator is updated every n-th step)
_LOSS_ONLY = {"clip_value": ("wgan",), "gp_weight": ("wgan-gp",), "d_loss": ("bce",)}


def check_arm(arm: ArmSpec, exp: ExperimentSpec, at: str) -> None:
    """Each override of `arm` applies to `exp`: a loss-family value to that family, an optimizer value to an
    optimizer that takes it; else a one-line SpecError naming `at`."""
    for key, _ in arm.overrides:
        if key in _LOSS_ONLY and exp.loss.value not in _LOSS_ONLY[key]:
            raise SpecError(f"{at}.overrides.{key}: {exp.name} uses the {exp.loss.value} loss, which has no {key}")
        opt = key.removeprefix("optimizer.")
        if key.startswith("optimizer.") and opt != "lr" and opt not in OPTIMIZERS[exp.optimizer["name"].value]:
            raise SpecError(f"{at}.overrides.{key}: {exp.name}'s optimizer {exp.optimizer['name'].value} takes "
                            f"no {opt}")
