"""An arm of a claim: an experiment and the recipe values changed from its spec (the overrides), checked with the
rules of spec/recipe.py (which keys exist, which values they take, which experiments read them)."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from spec.experiment import ExperimentSpec
from spec.fields import SpecError, check_type
from spec.recipe import check_applies, override_key


def finite_positive(value: Any, where: str) -> float:
    check_type(value, float, where)
    if not math.isfinite(value) or value <= 0:
        raise SpecError(f"{where}: must be a positive finite number, got {value!r}")
    checked: float = value
    return checked


def check_override(key: str, value: Any, where: str) -> Any:
    """`value` if it is a valid value for override `key` (spec/recipe.py's rules), else one SpecError naming
    `where` with an example of the right form."""
    return override_key(key, where).check(value, where)


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


def check_arm(arm: ArmSpec, exp: ExperimentSpec, at: str) -> None:
    """Each override of `arm` applies to `exp`: a loss-family value to that family, an optimizer value to an
    optimizer that takes it; else a one-line SpecError naming `at`."""
    for key, _ in arm.overrides:
        check_applies(key, exp.loss.value, exp.optimizer["name"].value, exp.name, f"{at}.overrides.{key}")
