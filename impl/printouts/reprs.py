"""print(model) module trees -> spec [[module]] tables, exactly: names, nesting, types and every argument.

Reads nested Sequential, ModuleList and ModuleDict and custom classes (all become Sequential containers, called in
order), spectral-norm parametrizations (`ParametrizedConv2d(` with a `_SpectralNorm` inside), `inplace=True`, and
the extra_repr spellings of torch 1.x and 2.x (BatchNorm's `bias=True`, InstanceNorm's `momentum`).
"""

from __future__ import annotations

import ast
import re
from typing import Any

from impl.printouts.errors import IngestRefused
from impl.printouts.find import MAX_DEPTH, Printout
from impl.printouts.parsed import Parsed
from spec.layers import LAYERS, POSITIONAL

MAX_SIZE = 2**40  # a single size above this is refused before any arithmetic uses it
_OPEN = re.compile(r"^(?:\((?P<name>[^()]*)\):\s*)?(?P<type>[A-Za-z_]\w*)\((?P<rest>.*)$")
_CONTAINERS = ("Sequential", "ModuleList", "ModuleDict")
_PAIRS = ("kernel_size", "stride", "padding", "output_padding", "dilation")
# arguments torch prints that gan-spec does not model: dropped when they hold torch's default, else refused
_TORCH_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "dilation": (1, (1, 1)), "groups": (1,), "padding_mode": ("zeros",), "align_corners": (None, False),
    "momentum": (0.1,), "track_running_stats": (False,), "bias": (True,), "recompute_scale_factor": (None,),
    "max_norm": (None,), "norm_type": (2.0,), "scale_grad_by_freq": (False,), "sparse": (False,),
}
_NORMS = ("BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d", "LayerNorm")


def parse_repr(printout: Printout) -> Parsed:
    """The module tree of `printout` as spec modules; lines it cannot read are skipped and named."""
    out = Parsed(printout)
    stack: list[tuple[str, str]] = []  # open containers: (path, type)
    skip_depth = 0  # inside a (parametrizations) subtree
    pending: dict[str, Any] | None = None  # a Parametrized* layer waiting for its argument line
    seen: set[str] = set()
    for number, line in _split_lines(printout):
        if skip_depth:
            skip_depth += line.count("(") - line.count(")")
            if "_SpectralNorm" in line and pending is not None:
                pending["spectral_norm"] = True
            continue
        if line == ")":
            if pending is not None and stack and stack[-1][0] == pending["path"]:
                stack.pop()
                _finish(out, pending, number)
                pending = None
            elif stack:
                stack.pop()
            continue
        if pending is not None and not line.startswith("("):  # ParametrizedConv2d's argument line
            pending["args_text"] = line
            continue
        if line.startswith("(parametrizations): ModuleDict("):
            skip_depth = 1
            continue
        m = _OPEN.match(line)
        if m is None:
            out.skipped.append((number, "not a module line"))
            continue
        name, kind, rest = m["name"], m["type"], m["rest"]
        if not stack and not out.modules and rest == "":  # the root, named or not: "(generator): Generator("
            out.class_name = kind
            stack.append(("", kind))
            continue
        if name is None:
            if stack or out.modules:
                out.skipped.append((number, "a second unnamed module inside the tree"))
                continue
            out.class_name = kind
            stack.append(("", kind))
            continue
        path = f"{stack[-1][0]}.{name}" if stack and stack[-1][0] else name
        if not re.fullmatch(r"\w+", name):
            out.skipped.append((number, f"module ({name}): its name is unreadable"))
            path = f"{path}#{number}"
            if rest.endswith(")") and rest:
                _finish(out, {"path": path, "type": kind, "args_text": rest[:-1], "line": number}, number)
            elif rest == "":
                stack.append((path, kind))
            continue
        if path in seen:
            out.skipped.append((number, f"module ({name}) already seen: a misread or doubled line"))
            if rest == "":
                stack.append((f"{path}#{number}", kind))
            elif rest.endswith(")"):  # kept for the flat reading below
                _finish(out, {"path": f"{path}#{number}", "type": kind, "args_text": rest[:-1], "line": number}, number)
            continue
        seen.add(path)
        if len(stack) > MAX_DEPTH:
            raise IngestRefused(f"line {number}: modules nested more than {MAX_DEPTH} deep")
        if rest == "" and kind.startswith("Parametrized"):
            pending = {"path": path, "type": kind.removeprefix("Parametrized"), "args_text": "", "line": number}
            stack.append((path, kind))
        elif rest == "":
            out.modules.append(_container(path, kind))
            out.lines[path] = number
            stack.append((path, kind))
        else:
            if not rest.endswith(")"):
                out.skipped.append((number, "the line is cut off before its closing parenthesis"))
                continue
            _finish(out, {"path": path, "type": kind, "args_text": rest[:-1], "line": number}, number)
    if not out.modules:
        out.unreadable = "no module line could be read"
    elif stack or any(why.startswith(("module (", "not a module")) for _, why in out.skipped):
        _flatten(out, "closing parentheses lost" if stack else "module names doubled or lines unreadable")
    return out


def _split_lines(printout: Printout) -> list[tuple[int, str]]:
    """(line number, one module line): a line wrapped in transcription is joined to its continuation, lines run
    together (`... bias=False) (1): BatchNorm2d(`) are split again; leading arrows and bullets are dropped."""
    joined: list[tuple[int, str]] = []
    for number, raw in enumerate(printout.lines, printout.first):
        line = re.sub(r"^[^\w()]{1,3}\s*(?=[\w(])", "", raw.strip())
        line = re.sub(r"^\((?=\()", "", line)  # "((11): Sequential(": a doubled bracket
        if joined and _open_args(joined[-1][1]) and not re.match(r"\(\w*\):|\)$", line):
            joined[-1] = (joined[-1][0], f"{joined[-1][1]} {line}")
        elif line:
            joined.append((number, line))
    out = []
    for number, line in joined:
        depth, start = 0, 0
        for at, char in enumerate(line):
            depth += (char == "(") - (char == ")")
            if depth == 0 and char == ")" and re.match(r"\s+\(\w+\):\s*\w+\(", line[at + 1:]):
                out.append((number, line[start:at + 1].strip()))
                start = at + 1
        if line[start:].strip():
            out.append((number, line[start:].strip()))
    return out


def _open_args(line: str) -> bool:
    """A layer line whose argument list is still open (it was wrapped), not a container's opening line."""
    return not line.endswith("(") and line.count("(") > line.count(")")


def _flatten(out: Parsed, why: str) -> None:
    """A tree whose nesting the transcription broke: its leaves, in printed order, as one flat Sequential."""
    leaves = [m for m in out.modules if m["type"] != "Sequential"]
    lines = [out.lines[m["path"]] for m in leaves]
    out.modules, out.lines = [], {}
    for i, (module, line) in enumerate(zip(leaves, lines)):
        module = {**module, "path": str(i)}
        out.modules.append(module)
        out.lines[module["path"]] = line
    out.class_name = "Sequential"
    out.guesses.append(f"nesting not readable ({why}): read as a flat sequence of its {len(leaves)} layers; "
                       "module names are numbered in printed order")


def _container(path: str, kind: str) -> dict[str, Any]:
    module: dict[str, Any] = {"path": path, "type": "Sequential"}
    if kind not in _CONTAINERS or kind != "Sequential":
        module |= {"status": "inferred", "note": f"printed as {kind}; its children are called in printed order"}
    return module


def _finish(out: Parsed, leaf: dict[str, Any], number: int) -> None:
    kind, line = leaf["type"], leaf["line"]
    if kind not in LAYERS or kind == "Sequential":
        out.skipped.append((line, f"layer type {kind!r} is not in spec/layers.py's table"))
        out.problems.append((line, out.line_text(line), f"unknown layer type {kind}"))
        return
    try:
        args = read_args(kind, leaf["args_text"])
    except IngestRefused:
        raise
    except ValueError as exc:
        out.skipped.append((line, str(exc)))
        out.problems.append((line, out.line_text(line), str(exc)))
        return
    eps = args.get("eps")
    if isinstance(eps, (int, float)) and not 1e-12 <= eps <= 0.1:
        out.problems.append((line, out.line_text(line), f"eps={eps:g} is implausible for {kind} (torch's 1e-05?)"))
    module: dict[str, Any] = {"path": leaf["path"], "type": kind, "args": args}
    if leaf.get("spectral_norm"):
        module["spectral_norm"] = True
    out.modules.append(module)
    out.lines[leaf["path"]] = line


def read_args(kind: str, text: str) -> dict[str, Any]:
    """`3, 64, kernel_size=(4, 4), stride=(2, 2)` of a `kind` layer -> spec args (torch's defaults left out)."""
    positional = POSITIONAL[kind]
    required, optional = LAYERS[kind]
    args: dict[str, Any] = {}
    for i, token in enumerate(_tokens(text)):
        key, _, value_text = token.partition("=") if re.match(r"^\w+=", token) else ("", "", token)
        value = _literal(value_text, token)
        if not key:
            if i >= len(positional):
                raise ValueError(f"{kind} takes at most {len(positional)} positional arguments, not {token!r}")
            key = positional[i]
        if key in args:
            raise ValueError(f"{kind} argument {key} given twice (positionally and by name): a garbled line")
        if key not in required and key not in optional:
            if key in _TORCH_DEFAULTS and (value in _TORCH_DEFAULTS[key] or (key == "bias" and kind in _NORMS)):
                continue
            raise ValueError(f"{kind} argument {key}={value_text} is not one gan-spec models")
        args[key] = _spec_value(key, value)
    for key, value in list(args.items()):
        if key in optional and value == optional[key] and not isinstance(value, bool) | (key == "bias"):
            del args[key]
    if kind == "LeakyReLU" and "negative_slope" not in args:
        args["negative_slope"] = 0.01
    return args


def _tokens(text: str) -> list[str]:
    """Split at commas outside brackets; a lost comma (`64 kernel_size=(4, 4)`) is restored."""
    tokens, depth, current = [], 0, ""
    for char in text:
        depth += char in "([" and 1 or (char in ")]" and -1 or 0)
        if depth > MAX_DEPTH:
            raise IngestRefused(f"brackets nested more than {MAX_DEPTH} deep in {text[:40]!r}")
        if char == "," and depth == 0:
            tokens.append(current.strip())
            current = ""
        else:
            current += char
    tokens.append(current.strip())
    out: list[str] = []
    for token in filter(None, tokens):  # a lost comma: "64 kernel_size=(4, 4)", "3 64"
        for part in re.split(r"\s+(?=\w+=)", token):
            out += part.split() if "=" not in part and "(" not in part and "'" not in part else [part]
    return out


def _literal(text: str, token: str) -> Any:
    try:
        value = ast.literal_eval(text.strip())
    except (ValueError, SyntaxError):
        raise ValueError(f"argument {token!r} is not a number, tuple, flag or string") from None
    for v in value if isinstance(value, tuple) else (value,):
        if isinstance(v, (int, float)) and not isinstance(v, bool) and abs(v) > MAX_SIZE:
            raise IngestRefused(f"argument {token!r}: {v:,} is an absurd size for a layer")
    return value


def _spec_value(key: str, value: Any) -> Any:
    if isinstance(value, tuple):
        if key in _PAIRS and len(set(value)) == 1:
            return value[0]
        return list(value)
    return value
