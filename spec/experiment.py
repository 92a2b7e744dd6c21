"""Experiment specs (training recipes), data sets and errata."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, overload

from spec.fields import Fact, SpecError, Table, check_type, closest, number, positive_ints, read_fact
from spec.recipe import FAMILY_VALUES, LOSSES, OPTIMIZERS, check_optimizer_value

CHECKS = ("printout", "output_shape", "steps_per_epoch", "bce_saturation", "forward_op", "head_activation",
          "baseline_named", "unstated", "latent_rows", "printout_mixes", "comment_marks", "losses_added",
          "mitigation_reverts", "table_layout", "code", "layer_claims", "text_contradicts")


def _read_optimizer(top: Table) -> dict[str, Fact]:
    opt_table = top.sub("optimizer")
    opt_name = read_fact(opt_table, "name", str)
    if opt_name.value not in OPTIMIZERS:
        raise SpecError(f"{opt_table.at('name')}.value: unknown optimizer {opt_name.value!r}"
                        f"{closest(opt_name.value, list(OPTIMIZERS))}; known: {', '.join(OPTIMIZERS)}")
    optimizer = {"name": opt_name}
    for key in ("lr", *OPTIMIZERS[opt_name.value]):
        kind = list if key == "betas" else bool if key == "nesterov" else float
        fact = read_fact(opt_table, key, kind, required=key == "lr")
        if fact is not None:
            check_optimizer_value(key, fact.value, f"{opt_table.at(key)}.value")
            optimizer[key] = fact
    opt_table.close()
    return optimizer


@dataclass(frozen=True)
class LatentSpec:
    """Report 004's latent study: which latent positions are set to which values (impl.latent's defaults)."""

    count: Fact  # how many positions the report picks
    spacing: Fact  # 'every N numbers'
    positions: Fact  # 0-based positions
    values: Fact  # what each position is set to
    grid: Fact  # the images it makes: [rows, columns]


def _read_latent(top: Table, samples: Fact) -> LatentSpec | None:
    table = top.sub("latent", required=False)
    if table is None:
        return None
    facts = {key: read_fact(table, key, int if key in ("count", "spacing") else list)
             for key in ("count", "spacing", "positions", "values", "grid")}
    table.close()
    latent = LatentSpec(**facts)
    where = table.at
    number(latent.count.value, f"{where('count')}.value", 1)
    number(latent.spacing.value, f"{where('spacing')}.value", 1)
    positions = latent.positions.value
    for i, pos in enumerate(positions):
        check_type(pos, int, f"{where('positions')}.value[{i}]")
    if len(positions) != latent.count.value or len(set(positions)) != len(positions):
        raise SpecError(f"{where('positions')}.value: {latent.count.value} different positions are needed "
                        f"(count), got {positions!r}")
    if any(b - a != latent.spacing.value for a, b in zip(positions, positions[1:])):
        raise SpecError(f"{where('positions')}.value: {positions!r} are not {latent.spacing.value} apart (spacing)")
    if not latent.values.value:
        raise SpecError(f"{where('values')}.value: give at least one value to set the positions to")
    for i, value in enumerate(latent.values.value):
        number(value, f"{where('values')}.value[{i}]")
    rows = latent.count.value * len(latent.values.value)
    if latent.grid.value != [rows, samples.value]:
        raise SpecError(f"{where('grid')}.value: {latent.count.value} positions x {len(latent.values.value)} values "
                        f"of {samples.value} samples make a [{rows}, {samples.value}] grid, not {latent.grid.value!r}")
    return latent


@dataclass(frozen=True)
class ExperimentSpec:
    name: str
    file: Path
    title: str
    report: str
    generator: Fact
    discriminator: Fact
    dataset: Fact
    loss: Fact
    optimizer: dict[str, Fact]  # "name", "lr", and further keyword arguments
    batch_size: Fact
    epochs: Fact
    samples: Fact
    outcome: Fact
    n_critic: Fact | None = None
    clip_value: Fact | None = None
    gp_weight: Fact | None = None
    d_loss: Fact | None = None  # bce: "mean" or "sum" of the real and fake terms
    stated_steps: Fact | None = None
    base: str = ""
    addition: bool = False
    latent: LatentSpec | None = None  # report 004's latent study (r004-mlp)

    def facts(self) -> dict[str, Fact]:
        """Every recipe value by field name, optimizer values as optimizer.<key>."""
        out = {k: getattr(self, k) for k in ("generator", "discriminator", "dataset", "loss", "batch_size", "epochs",
                                              "samples", "outcome", "n_critic", "clip_value", "gp_weight", "d_loss",
                                              "stated_steps")}
        out.update({f"optimizer.{k}": v for k, v in self.optimizer.items()})
        unused = [k for k in FAMILY_VALUES if k not in LOSSES[self.loss.value].reads]
        return {k: v for k, v in out.items() if v is not None and k not in unused}

    def optimizer_kwargs(self) -> dict[str, Any]:
        kwargs = {k: f.value for k, f in self.optimizer.items() if k != "name"}
        if "betas" in kwargs:
            kwargs["betas"] = tuple(kwargs["betas"])
        return kwargs


@overload
def _positive(fact: Fact, where: str) -> Fact: ...
@overload
def _positive(fact: Fact | None, where: str) -> Fact | None: ...


def _positive(fact: Fact | None, where: str) -> Fact | None:
    if fact is not None:
        number(fact.value, f"{where}.value", 0, open_low=True)
    return fact


def read_experiment(data: dict[str, Any], file: Path) -> ExperimentSpec:
    top = Table(data, str(file))
    name = top.req("name", str)
    base = top.opt("base", str, "")
    loss = read_fact(top, "loss", str)
    if loss.value not in LOSSES:
        raise SpecError(f"{top.at('loss')}.value: unknown loss {loss.value!r}{closest(loss.value, LOSSES)}; "
                        f"known: {', '.join(LOSSES)}")
    optimizer = _read_optimizer(top)
    samples = _positive(read_fact(top, "samples", int), top.at("samples"))
    exp = ExperimentSpec(
        name=name, file=file, title=top.req("title", str), report=top.req("report", str),
        generator=read_fact(top, "generator", str), discriminator=read_fact(top, "discriminator", str),
        dataset=read_fact(top, "dataset", str), loss=loss, optimizer=optimizer,
        batch_size=_positive(read_fact(top, "batch_size", int), top.at("batch_size")),
        epochs=_positive(read_fact(top, "epochs", int), top.at("epochs")),
        samples=samples,
        outcome=read_fact(top, "outcome", str),
        n_critic=_positive(read_fact(top, "n_critic", int, required=False), top.at("n_critic")),
        clip_value=_positive(read_fact(top, "clip_value", float, required=False), top.at("clip_value")),
        gp_weight=_positive(read_fact(top, "gp_weight", float, required=False), top.at("gp_weight")),
        d_loss=read_fact(top, "d_loss", str, required=False),
        stated_steps=_positive(read_fact(top, "stated_steps", int, required=False), top.at("stated_steps")),
        base=base, addition=top.opt("addition", bool, False), latent=_read_latent(top, samples))
    top.close()
    if exp.d_loss is not None and exp.d_loss.value not in ("mean", "sum"):
        raise SpecError(f"{top.at('d_loss')}.value: must be 'mean' or 'sum', got {exp.d_loss.value!r}")
    what = {"n_critic": "critic steps per G step", "clip_value": "weight clipping bound",
            "gp_weight": "lambda of the penalty"}
    for needed in LOSSES[loss.value].needs:
        if getattr(exp, needed) is None:
            raise SpecError(f"{top.at(needed)}: a {loss.value} experiment needs {needed} ({what[needed]})")
    return exp


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    images: Fact  # training images
    shape: tuple[int, ...]  # native (C, H, W)
    how: str  # how to supply it, for the missing-data message
    called: tuple[str, ...] = ()  # words that name it in a report (how an excerpt is checked)


def read_datasets(data: dict[str, Any], file: Path) -> list[DatasetSpec]:
    top = Table(data, str(file))
    out = []
    for item in top.subs("dataset"):
        shape = positive_ints(item.req("shape", list), item.at("shape"))
        called = item.opt("called", list, [])
        for i, word in enumerate(called):
            if not isinstance(word, str) or not word.strip():
                raise SpecError(f"{item.at('called')}[{i}]: expected a word that names the data set, got {word!r}")
        images = _positive(read_fact(item, "images", int), item.at("images"))
        out.append(DatasetSpec(name=item.req("name", str), title=item.req("title", str), images=images,
                               shape=shape, how=item.req("how", str), called=tuple(called)))
        item.close()
    top.close()
    return out


@dataclass(frozen=True)
class Erratum:
    id: str
    report: str
    subject: str  # the network or experiment it concerns
    said: str  # what the report says
    truth: str  # what is true
    how: str  # how we know
    quotes: tuple[str, ...]  # verbatim excerpts of the report
    check: dict[str, Any]  # the machine check that proves it (tests/test_errata.py)


def read_errata(data: dict[str, Any], file: Path) -> list[Erratum]:
    top = Table(data, str(file))
    out = []
    for item in top.subs("erratum"):
        check = item.req("check", dict)
        if check.get("kind") not in CHECKS:
            raise SpecError(f"{item.at('check')}.kind: {check.get('kind')!r} is not one of {', '.join(CHECKS)}")
        quotes = item.req("quotes", list)
        if not quotes or not all(isinstance(q, str) and q for q in quotes):
            raise SpecError(f"{item.at('quotes')}: give at least one verbatim excerpt of the report")
        out.append(Erratum(id=item.req("id", str), report=item.req("report", str), subject=item.req("subject", str),
                           said=item.req("said", str), truth=item.req("truth", str), how=item.req("how", str),
                           quotes=tuple(quotes), check=check))
        item.close()
    top.close()
    return out
