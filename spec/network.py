"""Network specs: one generator or discriminator as a report documents it, and as gan-spec builds it."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from spec.fields import STATUSES, Fact, SpecError, Table, closest, positive_ints, read_fact
from spec.layers import LAYERS, MAX_ACTIVATIONS, MAX_PARAMETERS, check_args, check_op, output_shape, parameters

ROLES = ("generator", "discriminator")
EVIDENCE_KINDS = ("summary", "printout", "code", "text")  # text: a sentence that describes the network
MATCHES = ("exact", "subsequence")
INITS = ("default", "dcgan")
# Attributes of the built nn.Module (torch.nn.Module's and impl.build.SpecNet's): a module of that name would
# shadow them. tests/test_spec_errors.py checks the list against the torch in use. Names starting with _ too.
RESERVED = frozenset("""
T_destination add_module apply bfloat16 buffers call_super_init children compile cpu cuda double dump_patches
ends_with_sigmoid eval extra_repr float forward get_buffer get_extra_state get_parameter get_submodule half ipu
load_state_dict logits modules mtia named_buffers named_children named_modules named_parameters parameters rebind
register_backward_hook register_buffer register_forward_hook register_forward_pre_hook register_full_backward_hook
register_full_backward_pre_hook register_load_state_dict_post_hook register_load_state_dict_pre_hook register_module
register_parameter register_state_dict_post_hook register_state_dict_pre_hook requires_grad_ set_extra_state
set_submodule share_memory spec state_dict to to_empty trace train training type xpu zero_grad
""".split())


@dataclass(frozen=True)
class ModuleSpec:
    path: str  # dotted, as print(model) names it: "l2_5.0.1"
    type: str
    args: dict[str, Any]  # with torch's defaults filled in
    status: str
    source: str
    note: str = ""
    shape: tuple[int, ...] | None = None  # documented output shape (batch excluded), when a report states one
    spectral_norm: bool = False

    @property
    def name(self) -> str:
        return self.path.rsplit(".", 1)[-1]

    @property
    def parent(self) -> str:
        return self.path.rsplit(".", 1)[0] if "." in self.path else ""


@dataclass(frozen=True)
class Step:
    """One step of the forward pass: a leaf module (`module` set) or a functional op (`op` set)."""

    module: str = ""
    op: str = ""
    args: dict[str, Any] = field(default_factory=dict)
    status: str = "documented"
    source: str = ""
    note: str = ""

    @property
    def label(self) -> str:
        return self.module or self.op


@dataclass(frozen=True)
class Evidence:
    """A verbatim excerpt of a report about this network: a torchsummary table or a print(model) tree."""

    kind: str
    source: str
    text: str
    match: str = "exact"  # "subsequence": lines were lost in transcription; every surviving line must match, in order
    fixes: tuple[tuple[str, str], ...] = ()  # transcription garbling: (as printed, as it must have been)
    note: str = ""


@dataclass(frozen=True)
class NetworkSpec:
    name: str
    file: Path
    role: str
    title: str
    class_name: str
    input: tuple[int, ...]
    init: Fact
    modules: tuple[ModuleSpec, ...]
    forward: tuple[Step, ...]
    evidence: tuple[Evidence, ...]
    shapes: tuple[tuple[int, ...], ...]  # output shape after each forward step, batch excluded
    addition: bool = False  # a gan-spec variant, not something a report documents
    symbols: dict[str, Fact] = field(default_factory=dict)  # names a code excerpt uses: nz, ngf, ndf, nc
    base: str = ""  # the network this one is a variant of

    @property
    def output(self) -> tuple[int, ...]:
        return self.shapes[-1]

    @property
    def parameters(self) -> int:
        """Trainable values, counted from the layer arguments (what torch will allocate)."""
        return sum(parameters(m.type, m.args) for m in self.modules)

    @property
    def activations(self) -> int:
        """Values computed for one sample, summed over the forward steps."""
        return sum(math.prod(s) for s in self.shapes)

    def module(self, path: str) -> ModuleSpec:
        return next(m for m in self.modules if m.path == path)


def _read_module(item: Table, defaults: tuple[str, str], paths: dict[str, str]) -> ModuleSpec:
    path = item.req("path", str)
    if not path or any(not part for part in path.split(".")):
        raise SpecError(f"{item.at('path')}: {path!r} is not a dotted module path like 'l1.0'")
    clash = next((part for part in path.split(".") if part in RESERVED or part.startswith("_")), None)
    if clash is not None:
        raise SpecError(f"{item.at('path')}: {clash!r} in {path!r} is an attribute of torch's nn.Module (or of "
                        "gan-spec's built network) and cannot name a module; rename it")
    if path in paths:
        raise SpecError(f"{item.at('path')}: module {path!r} is declared twice")
    kind = item.req("type", str)
    args = check_args(kind, item.opt("args", dict, {}), item.where)
    parent = path.rsplit(".", 1)[0] if "." in path else ""
    if parent and paths.get(parent) != "Sequential":
        raise SpecError(f"{item.at('path')}: parent {parent!r} must be declared earlier as a Sequential")
    status = item.opt("status", str, defaults[0])
    if status not in STATUSES:
        raise SpecError(f"{item.at('status')}: {status!r} is not one of {', '.join(STATUSES)}"
                        f"{closest(status, STATUSES)}")
    note = item.opt("note", str, "")
    if status != "documented" and not note:
        raise SpecError(f"{item.at('note')}: a module marked {status} needs a note saying how it was obtained")
    shape = item.opt("shape", list)
    module = ModuleSpec(path=path, type=kind, args=args, status=status, source=item.opt("source", str, defaults[1]),
                        note=note, shape=None if shape is None else positive_ints(shape, item.at("shape")),
                        spectral_norm=item.opt("spectral_norm", bool, False))
    item.close()
    paths[path] = kind
    return module


def _leaves_under(path: str, modules: tuple[ModuleSpec, ...]) -> list[str]:
    kinds = {m.path: m.type for m in modules}
    if kinds[path] != "Sequential":
        return [path]
    children = [m.path for m in modules if m.parent == path]
    return [leaf for child in children for leaf in _leaves_under(child, modules)]


def _read_forward(table: Table, modules: tuple[ModuleSpec, ...], defaults: tuple[str, str]) -> tuple[Step, ...]:
    known = {m.path for m in modules}
    raw = table.opt("forward", list)
    if raw is None:  # a Sequential-style network: every top-level module in declaration order
        raw = [m.path for m in modules if not m.parent]
    steps: list[Step] = []
    for i, entry in enumerate(raw):
        where = f"{table.at('forward')}[{i}]"
        if isinstance(entry, str):
            if entry not in known:
                raise SpecError(f"{where}: no module {entry!r}{closest(entry, sorted(known))}; "
                                "declare it in [[module]]")
            by_path = {m.path: m for m in modules}
            steps += [Step(module=leaf, status=by_path[leaf].status, source=by_path[leaf].source,
                           note=by_path[leaf].note) for leaf in _leaves_under(entry, modules)]
            continue
        if not isinstance(entry, dict):
            raise SpecError(f"{where}: expected a module path or an {{op = ...}} table, got {entry!r}")
        step = Table(entry, where)
        op = step.req("op", str)
        status = step.opt("status", str, defaults[0])
        if status not in STATUSES:
            raise SpecError(f"{step.at('status')}: {status!r} is not one of {', '.join(STATUSES)}")
        source = step.opt("source", str, defaults[1])
        note = step.opt("note", str, "")
        if status != "documented" and not note:
            raise SpecError(f"{step.at('note')}: a step marked {status} needs a note saying how it was obtained")
        args = {k: v for k, v in entry.items() if k not in ("op", "status", "source", "note")}
        for key in args:
            step.opt(key, (int, float, list, str, bool))
        step.close()
        steps.append(Step(op=op, args=check_op(op, args, where), status=status, source=source, note=note))
    if not steps:
        raise SpecError(f"{table.at('forward')}: the network has no forward step; list its modules and operations")
    used = [s.module for s in steps if s.module]
    leaves = [m.path for m in modules if m.type != "Sequential"]
    unused = [p for p in leaves if p not in used]
    if unused:
        raise SpecError(f"{table.at('forward')}: module {unused[0]!r} is declared but never called; "
                        "add it to forward or remove it")
    return tuple(steps)


def _read_evidence(item: Table) -> Evidence:
    kind = item.req("kind", str)
    if kind not in EVIDENCE_KINDS:
        raise SpecError(f"{item.at('kind')}: {kind!r} is not one of {', '.join(EVIDENCE_KINDS)}")
    match = item.opt("match", str, "exact")
    if match not in MATCHES:
        raise SpecError(f"{item.at('match')}: {match!r} is not one of {', '.join(MATCHES)}")
    fixes = []
    for i, pair in enumerate(item.opt("fixes", list, [])):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(s, str) for s in pair)):
            raise SpecError(f"{item.at('fixes')}[{i}]: expected [\"as printed\", \"as it must have been\"]")
        fixes.append((pair[0], pair[1]))
    evidence = Evidence(kind=kind, source=item.req("source", str), text=item.req("text", str), match=match,
                        fixes=tuple(fixes), note=item.opt("note", str, ""))
    item.close()
    return evidence


def read_network(data: dict[str, Any], file: Path) -> NetworkSpec:
    top = Table(data, str(file))
    name = top.req("name", str)
    role = top.req("role", str)
    if role not in ROLES:
        raise SpecError(f"{top.at('role')}: {role!r} is not one of {', '.join(ROLES)}{closest(role, ROLES)}")
    class_name = top.opt("class", str, "Sequential")
    if class_name in ("Generator", "Discriminator") and class_name.lower() != role:
        raise SpecError(f"{top.at('role')}: class {class_name!r} with role {role!r}; one of them is wrong")
    defaults = (top.opt("status", str, "documented"), top.req("source", str))
    if defaults[0] not in STATUSES:
        raise SpecError(f"{top.at('status')}: {defaults[0]!r} is not one of {', '.join(STATUSES)}")
    input_shape = positive_ints(top.req("input", list), top.at("input"))
    init = read_fact(top, "init", str)
    if init.value not in INITS:
        raise SpecError(f"{top.at('init')}.value: {init.value!r} is not one of {', '.join(INITS)}")
    symbols = _read_symbols(top)
    paths: dict[str, str] = {}
    modules = tuple(_read_module(item, defaults, paths) for item in top.subs("module"))
    if not modules:
        raise SpecError(f"{top.at('module')}: a network needs at least one [[module]]")
    forward = _read_forward(top, modules, defaults)
    shapes, shape = [], input_shape
    for i, step in enumerate(forward):
        if step.module:
            m = next(m for m in modules if m.path == step.module)
            shape = output_shape(m.type, m.args, shape, f"{file}:module {m.path!r} ({m.type})")
        else:
            shape = output_shape(step.op, step.args, shape, f"{file}:forward[{i}] ({step.op})")
        shapes.append(shape)
    network = NetworkSpec(
        name=name, file=file, role=role, title=top.req("title", str), class_name=class_name,
        input=input_shape, init=init, modules=modules, forward=forward,
        evidence=tuple(_read_evidence(item) for item in top.subs("evidence")), shapes=tuple(shapes),
        addition=defaults[0] == "addition", symbols=symbols, base=top.opt("base", str, ""))
    top.close()
    _check_budget(network)
    return network


def _read_symbols(top: Table) -> dict[str, Fact]:
    """`symbols = {ngf = {value = 64, status = ..., ...}}`: the values of names a code excerpt uses."""
    table = top.sub("symbols", required=False)
    if table is None:
        return {}
    out = {}
    for key in list(table.data):
        if not key.isidentifier():
            raise SpecError(f"{table.at(key)}: {key!r} is not a name a code excerpt could use")
        out[key] = read_fact(table, key, int)
    table.close()
    return out


def _check_budget(net: NetworkSpec) -> None:
    """Refuse a network that cannot fit in memory, saying what it asks for (docs/spec-format.md)."""
    if net.parameters > MAX_PARAMETERS:
        big = max(net.modules, key=lambda m: parameters(m.type, m.args))
        raise SpecError(f"{net.file}:module: {net.parameters:,} parameters ({net.parameters * 4 / 2**30:,.1f} GiB "
                        f"in fp32; {big.path!r} alone has {parameters(big.type, big.args):,}), over the budget of "
                        f"{MAX_PARAMETERS:,}; check the layer sizes")
    if net.activations > MAX_ACTIVATIONS:
        raise SpecError(f"{net.file}:forward: {net.activations:,} activation values per sample "
                        f"({net.activations * 4 / 2**30:,.1f} GiB in fp32), over the budget of {MAX_ACTIVATIONS:,}; "
                        "check the layer sizes and strides")


__all__ = ["LAYERS", "ModuleSpec", "NetworkSpec", "Step", "Evidence", "read_network"]
