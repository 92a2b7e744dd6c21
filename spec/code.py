"""A report's PyTorch source excerpt read as data, and compared with a network spec argument by argument.

Two forms occur in the reports: an `nn.Sequential(...)` listing (report 002, with names such as ngf taken from
the network's `symbols`) and an `nn.Module` class with `self.x = nn.Layer(...)` in `__init__` and a `forward`
(report 004). Positional arguments are named in torch's order (`spec.layers.POSITIONAL`), defaults filled in,
and '# state size. (ngf*8) x 4 x 4' comments read as the shape after the layer above them. Pure Python (ast).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from spec.layers import _PAIRS, LAYERS, POSITIONAL
from spec.network import Evidence, ModuleSpec, NetworkSpec

_CALL = re.compile(r"(?:self\.(\w+)\s*=\s*)?nn\.(\w+)\s*\(")
_SHAPE = re.compile(r"#\s*(?:state size\.|input is)\s*\(([^)]*)\)\s*(?:x|\\times)\s*(\d+)\s*(?:x|\\times)\s*(\d+)")
_CLASS = re.compile(r"class\s+(\w+)\s*\(")
_OPS = {"relu": "relu", "tanh": "tanh", "sigmoid": "sigmoid", "leaky_relu": "leaky_relu", "flatten": "flatten"}
_TORCH_DEFAULTS = {"dilation": 1, "groups": 1}  # constructor arguments gan-spec does not model, at their defaults


@dataclass
class Code:
    """What a source excerpt declares."""

    class_name: str = ""
    variable: str = ""  # "G" or "D" in `G = nn.Sequential(`
    layers: list[tuple[str, str, dict[str, Any]]] = field(default_factory=list)  # (attribute or '', type, args)
    forward: list[tuple[str, dict[str, Any]]] = field(default_factory=list)  # (module name or op, op args)
    shapes: list[tuple[int, tuple[int, ...]]] = field(default_factory=list)  # (layers above the comment, shape)
    problems: list[str] = field(default_factory=list)


def _closing(text: str, start: int) -> int:
    """Index just past the parenthesis that closes the one before `start`, or -1 if the text ends first."""
    depth = 1
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i + 1
    return -1


def _value(node: ast.AST, symbols: dict[str, int]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        if node.id not in symbols:
            raise ValueError(f"the name {node.id!r} has no value; give it in the network's `symbols`")
        return symbols[node.id]
    if isinstance(node, (ast.Tuple, ast.List)):
        return [_value(e, symbols) for e in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -_value(node.operand, symbols)
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Add, ast.Sub, ast.FloorDiv)):
        a, b = _value(node.left, symbols), _value(node.right, symbols)
        return {ast.Mult: a * b, ast.Add: a + b, ast.Sub: a - b}.get(type(node.op), a // b if b else 0)
    raise ValueError(f"cannot evaluate {ast.unparse(node)!r}")


def normalized(kind: str, args: dict[str, Any]) -> dict[str, Any]:
    """Arguments with torch's defaults and pairs written out, so that `3` and `(3, 3)` compare equal."""
    full = {**LAYERS[kind][1], **args}
    return {k: ([v, v] if isinstance(v, int) else list(v)) if k in _PAIRS else v for k, v in full.items()}


def _layer(kind: str, call: ast.Call, symbols: dict[str, int]) -> dict[str, Any]:
    if kind not in LAYERS:
        raise ValueError(f"nn.{kind} is not a layer type gan-spec knows")
    names = POSITIONAL[kind]
    if len(call.args) > len(names):
        raise ValueError(f"nn.{kind} takes at most {len(names)} positional arguments")
    args = {names[i]: _value(a, symbols) for i, a in enumerate(call.args)}
    for keyword in call.keywords:
        if keyword.arg is None:  # `**name`: _value could not read it either (a symbol is an int, not a mapping)
            raise ValueError(f"cannot evaluate {ast.unparse(keyword)!r}")
        args[keyword.arg] = _value(keyword.value, symbols)
    for key in list(args):
        if key in _TORCH_DEFAULTS and args[key] == _TORCH_DEFAULTS[key]:
            del args[key]
        elif key not in LAYERS[kind][0] and key not in LAYERS[kind][1]:
            raise ValueError(f"nn.{kind} argument {key!r} is not one gan-spec models")
    return normalized(kind, args)


def _steps(node: ast.AST, symbols: dict[str, int]) -> list[tuple[str, dict[str, Any]]]:
    """Forward steps of one expression, innermost call first (the order Python evaluates them)."""
    if isinstance(node, ast.Name):
        return []
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Attribute):
        raise ValueError(f"cannot read {ast.unparse(node)!r} as a forward step")
    func, owner = node.func.attr, node.func.value
    if func in ("view", "reshape"):
        shape = [_value(a, symbols) for a in node.args]
        return [*_steps(owner, symbols), ("reshape", {"shape": tuple(shape[1:])})]
    inner = [s for a in node.args[:1] for s in _steps(a, symbols)]
    if isinstance(owner, ast.Name) and owner.id == "self":
        return [*inner, (func, {})]
    if isinstance(owner, ast.Name) and owner.id in ("F", "torch") and func in _OPS:
        args = {}
        if func == "leaky_relu":
            slope = node.args[1] if len(node.args) > 1 else \
                next((k.value for k in node.keywords if k.arg == "negative_slope"), None)
            args["negative_slope"] = 0.01 if slope is None else _value(slope, symbols)
        return [*inner, (_OPS[func], args)]
    raise ValueError(f"cannot read {ast.unparse(node)!r} as a forward step")


def _forward_line(line: str, code: Code, symbols: dict[str, int]) -> None:
    try:
        tree = ast.parse(line.strip())
    except SyntaxError:
        code.problems.append(f"cannot read forward line {line.strip()!r}; repair the transcription with `fixes`")
        return
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign):
            try:
                code.forward += _steps(stmt.value, symbols)
            except ValueError as exc:
                code.problems.append(str(exc))


def read_code(text: str, symbols: dict[str, int], fixes: tuple[tuple[str, str], ...] = ()) -> Code:
    """Layers, forward steps and shape comments of a source excerpt, with its transcription repairs applied."""
    code = Code()
    for said, meant in fixes:
        if said not in text:
            code.problems.append(f"fix {said!r} -> {meant!r} does not occur in the code")
        text = text.replace(said, meant)
    if found := _CLASS.search(text):
        code.class_name = found[1]
    if found := re.search(r"\b([GD])\s*=\s*nn\.Sequential\(", text):
        code.variable = found[1]
    pending, in_forward = "", False
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            if shape := _SHAPE.search(stripped):
                try:
                    channels = _value(ast.parse(shape[1].strip(), mode="eval").body, symbols)
                    code.shapes.append((len(code.layers), (channels, int(shape[2]), int(shape[3]))))
                except (SyntaxError, ValueError) as exc:
                    code.problems.append(f"comment {stripped!r}: {exc}")
            continue
        if stripped.startswith("def forward"):
            in_forward = True
            continue
        if in_forward:
            pending += " " + stripped
            if pending.count("(") == pending.count(")"):
                _forward_line(pending, code, symbols)
                pending = ""
            continue
        pending = _declarations(pending + "\n" + line, code, symbols)
    if pending.strip() and in_forward:
        code.problems.append(f"unfinished forward line {pending.strip()!r}")
    return code


def _declarations(buffer: str, code: Code, symbols: dict[str, int]) -> str:
    """Take every complete `nn.Layer(...)` call out of `buffer`; return what is left for the next line."""
    while found := _CALL.search(buffer):
        if found[2] == "Sequential":  # the container whose items are the layers
            buffer = buffer[found.end():]
            continue
        end = _closing(buffer, found.end())
        if end < 0:
            return buffer[found.start():]
        call_text = buffer[found.start(2) - 3:end]  # "nn.Conv2d(...)"
        try:
            call = ast.parse(call_text.replace("\n", " ").strip(), mode="eval").body
            assert isinstance(call, ast.Call)  # the text is `nn.Layer(` up to its closing parenthesis
            code.layers.append((found[1] or "", found[2], _layer(found[2], call, symbols)))
        except SyntaxError:
            code.problems.append(f"cannot read {' '.join(call_text.split())!r}; repair the transcription with `fixes`")
        except ValueError as exc:
            code.problems.append(f"{' '.join(call_text.split())}: {exc}")
        buffer = buffer[end:]
    return ""


def compare(net: NetworkSpec, evidence: Evidence) -> list[str]:
    """Every difference between a code excerpt and the network spec: layers (names, types, each argument),
    forward order and operations, shapes stated in comments, the class name. [] when they agree."""
    symbols = {k: f.value for k, f in net.symbols.items()}
    code = read_code(evidence.text, symbols, evidence.fixes)
    problems = list(code.problems)
    steps = [s for s in net.forward if s.module]
    leaves = [net.module(s.module) for s in steps]
    named = any(name for name, _, _ in code.layers)
    if named:  # a class: compare by attribute name, then the forward pass
        declared = [m for m in net.modules if m.type != "Sequential"]
        if [n for n, _, _ in code.layers] != [m.path for m in declared]:
            problems.append(f"layers {[n for n, _, _ in code.layers]} != spec modules {[m.path for m in declared]}")
        leaves = declared
        spec_steps = [(s.module or s.op, {} if s.module else dict(s.args)) for s in net.forward]
        if code.forward != spec_steps:
            problems.append(f"forward {_steps_text(code.forward)} != spec {_steps_text(spec_steps)}")
        if code.class_name and code.class_name != net.class_name:
            problems.append(f"class {code.class_name!r} != spec class {net.class_name!r}")
    else:
        if net.class_name != "Sequential":
            problems.append(f"the code is an nn.Sequential, the spec's class is {net.class_name!r}")
        if [m.path for m in leaves] != [str(i) for i in range(len(leaves))]:
            problems.append(f"an nn.Sequential names its layers 0, 1, 2, ...; the spec has {[m.path for m in leaves]}")
        if len(code.layers) != len(leaves):
            problems.append(f"{len(code.layers)} layers in the code, {len(leaves)} in the spec")
    if code.variable and code.variable != net.role[0].upper():
        problems.append(f"the code builds {code.variable} = ..., the spec's role is {net.role}")
    pairs: Iterable[tuple[tuple[str, str, dict[str, Any]], ModuleSpec]] = zip(code.layers, leaves)
    if named:  # by attribute name: a missing or extra layer is reported above, not as a cascade of mismatches
        by_name = {name: (name, kind, args) for name, kind, args in code.layers}
        pairs = [(by_name[m.path], m) for m in leaves if m.path in by_name]
    for (name, kind, args), m in pairs:
        label = name or m.path
        if kind != m.type:
            problems.append(f"{label}: nn.{kind} in the code, {m.type} in the spec")
            continue
        spec_args = normalized(m.type, m.args)
        for key in sorted(set(args) | set(spec_args)):
            if args.get(key) != spec_args.get(key):
                problems.append(f"{label}.{key}: {args.get(key)!r} in the code, {spec_args.get(key)!r} in the spec")
    problems += _shape_problems(net, code, leaves if not named else [])
    return problems


def _steps_text(steps: list[tuple[str, dict[str, Any]]]) -> str:
    return " ".join(f"{n}{args}" if args else n for n, args in steps)


def _shape_problems(net: NetworkSpec, code: Code, leaves: list[ModuleSpec]) -> list[str]:
    """'# state size' comments against the inferred shapes, and the spec's documented module shapes against them."""
    problems, stated = [], {}
    for count, shape in code.shapes:
        if count == 0:
            if shape != net.input:
                problems.append(f"the code's input comment says {list(shape)}, the spec's input is {list(net.input)}")
            continue
        if count > len(leaves):
            continue
        index = next(i for i, s in enumerate(net.forward) if s.module == leaves[count - 1].path)
        stated[leaves[count - 1].path] = shape
        if net.shapes[index] != shape:
            problems.append(f"comment after {leaves[count - 1].path!r} says {list(shape)}, the layer makes "
                            f"{list(net.shapes[index])}")
    if leaves:
        declared = {m.path: m.shape for m in net.modules if m.shape}
        if declared != stated:
            problems.append(f"module shapes {declared} are not the ones the code's comments state: {stated}")
    return problems
