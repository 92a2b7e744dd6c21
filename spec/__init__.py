"""gan-spec's spec registry: every documented network and training recipe, loaded from the TOML files here.

    import spec
    spec.names()                 # every network and experiment name
    spec.load("course-dcgan-g")  # a NetworkSpec or an ExperimentSpec
    spec.errata()                # the reports' known errors, each with the check that proves it
    spec.claims("003")           # the reports' claims about their results (spec/claims/, docs/claims.md)

The files are read from this package's folder, or from $GAN_SPEC_DIR when it is set (a copy to experiment on,
as `python -m tools.mutate` does).
"""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from spec import false_rates
from spec.claim import ClaimSpec, check_claims, read_claims
from spec.experiment import (
    DatasetSpec,
    Erratum,
    ExperimentSpec,
    LatentSpec,
    read_datasets,
    read_errata,
    read_experiment,
)
from spec.fields import Fact, SpecError, closest, read_toml
from spec.layers import MAX_BATCH_ACTIVATIONS
from spec.network import NetworkSpec, read_network
from spec.variants import merge_experiment, merge_network

SPEC_DIR = Path(__file__).resolve().parent
NAME_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-")
_Spec = TypeVar("_Spec", NetworkSpec, ExperimentSpec)  # what _read_all reads: spec files with a name and a base


def spec_dir() -> Path:
    """The folder the registry is read from: $GAN_SPEC_DIR if set, else this package's folder."""
    return Path(os.environ.get("GAN_SPEC_DIR") or SPEC_DIR)


@dataclass(frozen=True)
class Registry:
    networks: dict[str, NetworkSpec]
    experiments: dict[str, ExperimentSpec]
    datasets: dict[str, DatasetSpec]
    errata: tuple[Erratum, ...]
    claims: dict[str, ClaimSpec] = field(default_factory=dict)  # by id, in file order
    broken: dict[str, str] = field(default_factory=dict)  # spec file set aside -> its error (load_tolerant)

    def names(self, kind: str | None = None) -> list[str]:
        if kind == "network":
            return sorted(self.networks)
        if kind == "experiment":
            return sorted(self.experiments)
        return sorted([*self.networks, *self.experiments])

    def load(self, name: str) -> NetworkSpec | ExperimentSpec:
        found = self.networks.get(name) or self.experiments.get(name)
        if found is None and (why := next((e for f, e in self.broken.items() if Path(f).stem == name), None)):
            raise SpecError(why)
        if found is None:
            raise SpecError(f"unknown name {name!r}{closest(name, self.names())}; "
                            "`python -m impl.train --list` lists experiments, `python -m impl.summary --list` all")
        return found

    def pair(self, experiment: str) -> tuple[NetworkSpec, NetworkSpec]:
        exp = self.experiments[experiment]
        return self.networks[exp.generator.value], self.networks[exp.discriminator.value]


def _check_name(name: str, file: Path, seen: dict[str, Path]) -> None:
    if not name or set(name) - NAME_CHARS:
        raise SpecError(f"{file}:name: {name!r} must be short, lowercase letters, digits and '-'")
    if name in seen:
        raise SpecError(f"{file}:name: {name!r} is already defined in {seen[name]}; names must be unique")
    seen[name] = file


def _read_all(files: list[Path], reader: Callable[[dict[str, Any], Path], _Spec],
              merge: Callable[[dict[str, Any], dict[str, Any], Path], dict[str, Any]],
              seen: dict[str, Path]) -> dict[str, _Spec]:
    """Read spec files of one kind, resolving `base = "..."` chains among them with `merge`."""
    raw = {f: read_toml(f) for f in files}
    by_name = {d["name"]: f for f, d in raw.items() if isinstance(d.get("name"), str)}

    def resolved(file: Path, chain: tuple[str, ...] = ()) -> dict[str, Any]:
        data = raw[file]
        base = data.get("base")
        if base is None:
            return data
        if not isinstance(base, str) or not base:
            raise SpecError(f"{file}:base: expected the name of another spec file, got {base!r}")
        if base not in by_name:
            raise SpecError(f"{file}:base: no {file.parent.name[:-1]} {base!r}"
                            f"{closest(str(base), [str(n) for n in by_name])}")
        if base in chain:
            raise SpecError(f"{file}:base: circular base chain {' -> '.join((*chain, base))}")
        parent = dict(resolved(by_name[base], (*chain, base)))
        reader(parent, by_name[base])  # a broken base is reported against its own file, before any merging
        parent.pop("base", None)
        return merge(parent, data, file)

    out: dict[str, _Spec] = {}
    for file in files:
        item = reader(resolved(file), file)
        _check_name(item.name, file, seen)
        out[item.name] = item
    return out


def _cross_check(reg: Registry) -> None:
    for exp in reg.experiments.values():
        for role, fact in (("generator", exp.generator), ("discriminator", exp.discriminator)):
            net = reg.networks.get(fact.value)
            if net is None:
                raise SpecError(f"{exp.file}:{role}.value: no network {fact.value!r}"
                                f"{closest(fact.value, sorted(reg.networks))}")
            if net.role != role:
                raise SpecError(f"{exp.file}:{role}.value: {fact.value!r} is a {net.role}, not a {role}")
        g, d = reg.pair(exp.name)
        if g.output != d.input:
            raise SpecError(f"{exp.file}:discriminator.value: {g.name} makes {list(g.output)} but {d.name} "
                            f"takes {list(d.input)}; pair networks whose shapes meet")
        if exp.dataset.value not in reg.datasets:
            raise SpecError(f"{exp.file}:dataset.value: unknown data set {exp.dataset.value!r}"
                            f"{closest(exp.dataset.value, sorted(reg.datasets))}; known: {', '.join(reg.datasets)}")
        per_sample = g.activations + d.activations
        if exp.batch_size.value * per_sample > MAX_BATCH_ACTIVATIONS:
            batch, base = exp.batch_size.value, reg.experiments.get(exp.base)
            inherited = f" (inherited from {base.file})" if base and base.batch_size == exp.batch_size else ""
            raise SpecError(f"{exp.file}:batch_size.value{inherited}: a batch of {batch:,} samples x {per_sample:,} "
                            f"activation values each is {batch * per_sample:,} values, over the budget of "
                            f"{MAX_BATCH_ACTIVATIONS:,} (docs/spec-format.md); use a smaller batch")
        if exp.latent is not None:
            size = g.input[0] if len(g.input) == 1 else 0
            for pos in exp.latent.positions.value:
                if not 0 <= pos < size:
                    raise SpecError(f"{exp.file}:latent.positions.value: position {pos} is not in the generator's "
                                    f"latent vector ({g.name} takes {list(g.input)}: positions 0 to {size - 1})")
    names = reg.names()
    for err in reg.errata:
        if err.subject not in names:
            raise SpecError(f"errata {err.id}:subject: unknown name {err.subject!r}{closest(err.subject, names)}")
    check_claims(reg.claims, reg.experiments, reg.datasets, reg.errata)


def _read_claims(files: list[Path]) -> dict[str, ClaimSpec]:
    out: dict[str, ClaimSpec] = {}
    for file in files:
        for claim in read_claims(read_toml(file), file):
            if claim.id in out:
                raise SpecError(f"{file}:claim {claim.id}: id already used in {out[claim.id].file}; ids must be unique")
            out[claim.id] = claim
    return out


def load_registry(root: Path | None = None) -> Registry:
    """Read and validate every spec file under `root` (networks/, experiments/, datasets.toml, errata.toml);
    by default the folder `spec_dir()` names."""
    return _load(spec_dir() if root is None else Path(root), frozenset())


def load_tolerant(root: Path | None = None) -> Registry:
    """`load_registry`, with each network or experiment file that is broken (or names one that is) set aside in
    `Registry.broken` with its error, so one bad file refuses itself and every other report keeps working.
    A broken datasets.toml, errata.toml or claim file still refuses the whole registry."""
    root = spec_dir() if root is None else Path(root)
    skip: set[Path] = set()
    broken: dict[str, str] = {}
    while True:
        try:
            reg = _load(root, frozenset(skip))
        except SpecError as exc:
            message = str(exc)
            file = next((f for f in [*(root / "networks").glob("*.toml"), *(root / "experiments").glob("*.toml")]
                         if message.startswith(f"{f}:") and f not in skip), None)
            if file is None:
                raise
            skip.add(file)
            broken[str(file)] = message
            continue
        return dataclasses.replace(reg, broken=broken)


def _load(root: Path, skip: frozenset[Path]) -> Registry:
    if not (root / "networks").is_dir():
        raise SpecError(f"{root}: not a spec folder (it has no networks/); check $GAN_SPEC_DIR or the path given")
    seen: dict[str, Path] = {}
    files = {kind: sorted(f for f in (root / kind).glob("*.toml") if f not in skip)
             for kind in ("networks", "experiments")}
    networks = _read_all(files["networks"], read_network, merge_network, seen)
    experiments = _read_all(files["experiments"], read_experiment, merge_experiment, seen)
    datasets = {d.name: d for d in read_datasets(read_toml(root / "datasets.toml"), root / "datasets.toml")} \
        if (root / "datasets.toml").exists() else {}
    errata = tuple(read_errata(read_toml(root / "errata.toml"), root / "errata.toml")) \
        if (root / "errata.toml").exists() else ()
    claims = false_rates.resolve(_read_claims(sorted((root / "claims").glob("*.toml"))), root / false_rates.FILE_NAME)
    reg = Registry(networks=networks, experiments=experiments, datasets=datasets, errata=errata, claims=claims)
    _cross_check(reg)
    return reg


@functools.cache
def registry() -> Registry:
    """The registry the commands use: a broken spec file is set aside naming itself (load_tolerant)."""
    return load_tolerant()


def names(kind: str | None = None) -> list[str]:
    """Every spec name, or only those of kind 'network' or 'experiment'."""
    return registry().names(kind)


def load(name: str) -> NetworkSpec | ExperimentSpec:
    """The network or experiment spec called `name`; SpecError suggesting the closest name if there is none."""
    return registry().load(name)


def errata() -> tuple[Erratum, ...]:
    return registry().errata


def claims(report: str | None = None) -> tuple[ClaimSpec, ...]:
    """The reports' claims about their results (all, or one report's, e.g. "003"), in file order."""
    return tuple(c for c in registry().claims.values() if report is None or c.report == report)


__all__ = ["ClaimSpec", "DatasetSpec", "Erratum", "ExperimentSpec", "Fact", "LatentSpec", "NetworkSpec", "Registry",
           "SpecError", "claims", "errata", "load", "load_registry", "load_tolerant", "names", "registry", "spec_dir"]
