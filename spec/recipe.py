"""The rules of a recipe's values, in one place: the loss families (which recipe values each one reads and needs),
the optimizers (which arguments each takes, and their ranges) and the values that a claim's arm or `--set` may
change (their kind, their bounds and an example of the right form).

An experiment file is read with these rules (spec/experiment.py), a claim's arm is checked with them (spec/arm.py),
`--set` on every command checks with them (impl/training/overrides.py), and the trainer's loss records follow
them (impl/training/losses.py; tests/test_homes.py ties them together).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from spec.fields import SpecError, check_type, closest, number


@dataclass(frozen=True)
class LossRules:
    """What a loss family does with the recipe."""

    reads: tuple[str, ...] = ()  # recipe values only this family uses (clip_value, gp_weight, d_loss)
    needs: tuple[str, ...] = ()  # recipe values an experiment of this family must state
    n_critic: int = 1  # critic steps per generator step when the spec states none


LOSSES: dict[str, LossRules] = {
    "bce": LossRules(reads=("d_loss",)),
    "wgan": LossRules(reads=("clip_value",), needs=("n_critic", "clip_value"), n_critic=5),
    "wgan-gp": LossRules(reads=("gp_weight",), needs=("n_critic", "gp_weight"), n_critic=5),
    "lsgan": LossRules(),
    "hinge": LossRules(),
}
FAMILY_VALUES = ("clip_value", "gp_weight", "d_loss")  # the values some families read and others never do

OPTIMIZERS = {  # name -> keyword arguments a spec may give besides lr
    "Adam": ("betas", "eps", "weight_decay"),
    "RMSprop": ("alpha", "eps", "momentum", "weight_decay"),
    "SGD": ("momentum", "weight_decay", "nesterov"),
}


def check_optimizer_value(key: str, value: Any, where: str) -> Any:
    """Each optimizer argument by type and range, as torch.optim would refuse it (but at load, in one line)."""
    if key == "betas":
        check_type(value, list, where)
        if len(value) != 2:
            raise SpecError(f"{where}: betas are a pair [beta1, beta2], got {value!r}")
        for i, beta in enumerate(value):
            number(beta, f"{where}[{i}]", 0, 1, open_high=True)
    elif key == "nesterov":
        check_type(value, bool, where)
    elif key in ("lr", "eps"):
        number(value, where, 0, open_low=True)
    elif key == "alpha":
        number(value, where, 0, 1)
    else:  # momentum, weight_decay
        number(value, where, 0)
    return value


@dataclass(frozen=True)
class OverrideKey:
    """A recipe value that a claim's arm or `--set` may change."""

    name: str
    kind: str  # "count" (a positive integer), "positive" (a positive number), "choice", "optimizer"
    example: str  # a right value, shown with every value error
    recipe: bool = True  # False: a run length an arm may set, not a recipe value (--steps on the command line)
    limit: int | None = None  # the largest count that makes sense: beyond it memory runs out, not the recipe
    choices: tuple[str, ...] = ()

    def check(self, value: Any, where: str, command_line: bool = False) -> Any:
        """`value` when it fits this key; else one SpecError naming `where` and showing the right form (as a
        `--set` for the command line, as TOML for a claim file)."""
        try:
            if self.kind == "optimizer":
                return check_optimizer_value(self.name.split(".", 1)[1], value, where)
            if self.kind == "count":
                check_type(value, int, where)
                if value <= 0 or (self.limit is not None and value > self.limit):
                    raise SpecError(f"{where}: must be a positive integer" + (f" up to {self.limit:,}" if self.limit
                                                                                else "") + f", got {value!r}")
            elif self.kind == "positive":
                check_type(value, float, where)
                if not math.isfinite(value) or value <= 0:
                    raise SpecError(f"{where}: must be a positive finite number, got {value!r}")
            elif value not in self.choices:
                raise SpecError(f"{where}: must be one of {', '.join(map(repr, self.choices))}, got {value!r}")
        except SpecError as exc:
            form = f"--set {self.name}={self.example.replace(' ', '')}" if command_line else \
                f"{self.name} = {self.example}"
            raise SpecError(f"{exc}; e.g. {form}") from None
        return value


OVERRIDES: dict[str, OverrideKey] = {k.name: k for k in (
    OverrideKey("epochs", "count", "20", limit=100_000),
    OverrideKey("steps", "count", "3000", recipe=False, limit=100_000_000),
    OverrideKey("batch_size", "count", "64", limit=1_000_000),
    OverrideKey("samples", "count", "16", limit=1024),  # the fixed sample grid; 1,024 fill a page
    OverrideKey("n_critic", "count", "5", limit=1000),  # each block holds n_critic batches of indices
    OverrideKey("clip_value", "positive", "0.01"),
    OverrideKey("gp_weight", "positive", "10.0"),
    OverrideKey("d_loss", "choice", '"sum"', choices=("mean", "sum")),
    OverrideKey("optimizer.lr", "optimizer", "2e-4"),
    OverrideKey("optimizer.betas", "optimizer", "[0.5, 0.999]"),
    OverrideKey("optimizer.eps", "optimizer", "1e-8"),
    OverrideKey("optimizer.weight_decay", "optimizer", "0.0"),
    OverrideKey("optimizer.momentum", "optimizer", "0.9"),
    OverrideKey("optimizer.alpha", "optimizer", "0.99"),
    OverrideKey("optimizer.nesterov", "optimizer", "true"),
)}


def override_key(key: str, where: str, recipe_only: bool = False) -> OverrideKey:
    """The rules of override `key`; an unknown key (or, with recipe_only, a run length) is one SpecError."""
    known = [k for k, rule in OVERRIDES.items() if rule.recipe or not recipe_only]
    if key not in known:
        if key in OVERRIDES:  # steps with --set
            raise SpecError(f"{where}: {key!r} is the run's length, not a recipe value; use --{key}")
        hint = f" (did you mean 'optimizer.{key}'?)" if f"optimizer.{key}" in known else closest(key, known)
        raise SpecError(f"{where}: {key!r} is not a value one can change{hint}; allowed: {', '.join(known)}")
    return OVERRIDES[key]


def check_applies(key: str, loss: str, optimizer: str, experiment: str, where: str) -> None:
    """Refuse an override the experiment never reads: a loss family's value on another family, an optimizer argument
    its optimizer does not take. One line that says who reads it."""
    if key in FAMILY_VALUES and key not in LOSSES[loss].reads:
        readers = [name for name, rules in LOSSES.items() if key in rules.reads]
        raise SpecError(f"{where}: {experiment} uses the {loss} loss, which never reads {key} (only "
                        f"{' and '.join(readers)} {'does' if len(readers) == 1 else 'do'}); drop it")
    name = key.removeprefix("optimizer.")
    if key.startswith("optimizer.") and name != "lr" and name not in OPTIMIZERS[optimizer]:
        takers = [opt for opt, args in OPTIMIZERS.items() if name in args]
        raise SpecError(f"{where}: {experiment}'s optimizer {optimizer} takes no {name} (only "
                        f"{' and '.join(takers)} {'does' if len(takers) == 1 else 'do'}); drop it")
