"""Spec files that derive from another (`base = "name"`): an experiment or a network variant.

An experiment repeats only the fields that differ from its base (its `latent` study is not inherited). A network
variant (report 001's critic without the Sigmoid, gan-spec's critics with spectral norm or layer norm) starts from
its base's modules and forward order and applies, in this order:

    drop = ["ls.6", "sigmoid"]       # module paths (with their children) or forward op names
    [[replace]]                      # a module with another type and arguments
    path = "ls.2.1"
    type = "LayerNorm"
    args = {normalized_shape = [128, 16, 16]}
    note = "why"
    spectral_norm = "all"            # or a list of module paths: spectral normalisation on those layers

The base's report evidence is not inherited: it documents the base, not the variant.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from spec.fields import SpecError, closest

VARIANT_KEYS = ("drop", "replace", "spectral_norm")
_WEIGHTED = ("Conv2d", "ConvTranspose2d", "Linear")


def merge_experiment(base: dict[str, Any], child: dict[str, Any], file: Path) -> dict[str, Any]:
    """Each field of the child (a [table] included) replaces the base's whole. A study of the base (`latent`)
    is not inherited: it was run on the base's networks."""
    return {**{k: v for k, v in base.items() if k != "latent"}, **child}


def _check_variant(child: dict[str, Any], file: Path) -> None:
    for key in ("module", "forward"):
        if key in child:
            raise SpecError(f"{file}:{key}: a variant (base = ...) takes its base's {key}; change it with drop, "
                            "replace and spectral_norm")
    drop = child.get("drop", [])
    if not isinstance(drop, list) or not all(isinstance(d, str) for d in drop):
        raise SpecError(f"{file}:drop: expected a list of module paths or forward op names, got {drop!r}")
    replace = child.get("replace", [])
    if not isinstance(replace, list):
        raise SpecError(f"{file}:replace: expected a list of {{path = ..., type = ..., args = ...}} tables")
    sn = child.get("spectral_norm", [])
    if sn != "all" and not (isinstance(sn, list) and all(isinstance(p, str) for p in sn)):
        raise SpecError(f"{file}:spectral_norm: expected \"all\" or a list of module paths, got {sn!r}")


def merge_network(base: dict[str, Any], child: dict[str, Any], file: Path) -> dict[str, Any]:
    _check_variant(child, file)
    modules = copy.deepcopy(base.get("module", []))
    for m in modules:  # inherited modules keep the base's provenance, whatever the variant's defaults are
        m.setdefault("status", base.get("status", "documented"))
        m.setdefault("source", base.get("source", ""))
    forward = copy.deepcopy(base["forward"]) if "forward" in base else [m["path"] for m in modules
                                                                        if "." not in m["path"]]
    for step in forward:
        if isinstance(step, dict):
            step.setdefault("status", base.get("status", "documented"))
            step.setdefault("source", base.get("source", ""))
    paths = [m["path"] for m in modules]
    ops = [s["op"] for s in forward if isinstance(s, dict)]
    for i, target in enumerate(child.get("drop", [])):
        if target in paths:
            modules = [m for m in modules if m["path"] != target and not m["path"].startswith(target + ".")]
            forward = [s for s in forward if s != target]
        elif target in ops:
            forward = [s for s in forward if not (isinstance(s, dict) and s["op"] == target)]
        else:
            raise SpecError(f"{file}:drop[{i}]: {target!r} is neither a module nor a forward op of {base['name']}"
                            f"{closest(str(target), paths + ops)}")
    by_path = {m["path"]: m for m in modules}
    for i, rep in enumerate(child.get("replace", [])):
        if not isinstance(rep, dict) or not isinstance(rep.get("path"), str) or rep["path"] not in by_path:
            found = rep.get("path") if isinstance(rep, dict) else rep
            raise SpecError(f"{file}:replace[{i}].path: no module {found!r} in {base['name']}")
        target = by_path[rep["path"]]
        target.clear()
        target.update({"status": child.get("status", "addition"), "source": child.get("source", ""), **rep})
    sn = child.get("spectral_norm", [])
    chosen = [m["path"] for m in modules if m["type"] in _WEIGHTED] if sn == "all" else sn
    for path in chosen:
        if path not in by_path:
            raise SpecError(f"{file}:spectral_norm: no module {path!r} in {base['name']}")
        by_path[path].update(spectral_norm=True, status=child.get("status", "addition"),
                             source=child.get("source", ""), note="spectral normalisation added to the layer")
    skip = ("module", "forward", "evidence", "name", "title", "status", "source")
    header = {k: v for k, v in base.items() if k not in skip}
    out = {**header, **{k: v for k, v in child.items() if k not in (*VARIANT_KEYS, "base")}}
    out["module"], out["forward"], out["base"] = modules, forward, child["base"]
    return out
