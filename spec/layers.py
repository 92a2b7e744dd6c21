"""The layer types a network spec may use, their arguments, and their output shapes (pure Python, no torch).

Shapes exclude the batch dimension. Inference runs at load time, so a hand-edited spec whose layers cannot
chain is refused with the layer's name before any tensor exists.
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from spec.fields import SpecError, check_type, closest, number

Shape = tuple[int, ...]
# The size budget (docs/spec-format.md): a spec asking for more is refused at load, before anything is allocated.
MAX_PARAMETERS = 2**31  # per network: 8 GiB of fp32 weights, 32 GiB with gradients and Adam's two moments
MAX_ACTIVATIONS = 2**28  # values a network computes for one sample, summed over its steps: 1 GiB in fp32
MAX_BATCH_ACTIVATIONS = 2**34  # batch_size x (generator + discriminator) activation values: 64 GiB in fp32

_BN = {"eps": 1e-5, "momentum": 0.1, "affine": True, "track_running_stats": True}
_IN = {"eps": 1e-5, "momentum": 0.1, "affine": False, "track_running_stats": False}
_CONV = ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups", "bias")


class Layer(NamedTuple):
    """One layer type a spec (and a report's printout) may use: the one table every other list derives from."""

    required: tuple[str, ...]
    optional: dict[str, Any]  # with torch's defaults
    positional: tuple[str, ...]  # torch's constructor order (how `nn.Conv2d(nc, ndf, 4, 2, 1)` in a report is read)
    elementwise: bool = False  # output shape = input shape


# A new layer type is one row here (plus a shape rule in output_shape and a count in parameters if it has weights).
TABLE: dict[str, Layer] = {
    "Sequential": Layer((), {}, ()),
    "Linear": Layer(("in_features", "out_features"), {"bias": True}, ("in_features", "out_features", "bias")),
    "Conv2d": Layer(_CONV[:3], {"stride": 1, "padding": 0, "bias": True}, _CONV),
    "ConvTranspose2d": Layer(_CONV[:3], {"stride": 1, "padding": 0, "output_padding": 0, "bias": True},
                             ("in_channels", "out_channels", "kernel_size", "stride", "padding", "output_padding",
                              "groups", "bias", "dilation")),
    "BatchNorm1d": Layer(("num_features",), dict(_BN), ("num_features", *_BN)),
    "BatchNorm2d": Layer(("num_features",), dict(_BN), ("num_features", *_BN)),
    "InstanceNorm1d": Layer(("num_features",), {"eps": 1e-5, "affine": False}, ("num_features", *_IN)),
    "InstanceNorm2d": Layer(("num_features",), {"eps": 1e-5, "affine": False}, ("num_features", *_IN)),
    "LayerNorm": Layer(("normalized_shape",), {"eps": 1e-5, "elementwise_affine": True},
                       ("normalized_shape", "eps", "elementwise_affine")),
    "Embedding": Layer(("num_embeddings", "embedding_dim"), {}, ("num_embeddings", "embedding_dim")),
    "Upsample": Layer((), {"size": None, "scale_factor": None, "mode": "nearest"}, ("size", "scale_factor", "mode")),
    "Flatten": Layer((), {"start_dim": 1, "end_dim": -1}, ("start_dim", "end_dim")),
    "Unflatten": Layer(("dim", "unflattened_size"), {}, ("dim", "unflattened_size")),
    "ReLU": Layer((), {"inplace": False}, ("inplace",), True),
    "LeakyReLU": Layer((), {"negative_slope": 0.01, "inplace": False}, ("negative_slope", "inplace"), True),
    "ELU": Layer((), {"alpha": 1.0, "inplace": False}, ("alpha", "inplace"), True),
    "GELU": Layer((), {"approximate": "none"}, ("approximate",), True),
    "SiLU": Layer((), {"inplace": False}, ("inplace",), True),
    "Softplus": Layer((), {"beta": 1.0, "threshold": 20.0}, ("beta", "threshold"), True),
    "PReLU": Layer((), {"num_parameters": 1, "init": 0.25}, ("num_parameters", "init"), True),
    "Tanh": Layer((), {}, (), True),
    "Sigmoid": Layer((), {}, (), True),
    "Identity": Layer((), {}, (), True),
    "Dropout": Layer((), {"p": 0.5, "inplace": False}, ("p", "inplace"), True),
    "Dropout2d": Layer((), {"p": 0.5, "inplace": False}, ("p", "inplace"), True),
}
# type -> (required args, optional args with torch's defaults), torch's positional order, and the shape-keeping types
LAYERS: dict[str, tuple[tuple[str, ...], dict[str, Any]]] = {k: (v.required, v.optional) for k, v in TABLE.items()}
POSITIONAL: dict[str, tuple[str, ...]] = {k: v.positional for k, v in TABLE.items()}
# functional steps of a forward pass: op -> optional args with torch's defaults
OPS: dict[str, dict[str, Any]] = {
    "reshape": {"shape": None},
    "flatten": {},
    "relu": {},
    "leaky_relu": {"negative_slope": 0.01},
    "tanh": {},
    "sigmoid": {},
}
ELEMENTWISE = {k for k, v in TABLE.items() if v.elementwise} | {"relu", "leaky_relu", "tanh", "sigmoid"}
_SIZES = {"in_features", "out_features", "in_channels", "out_channels", "num_features", "num_embeddings",
          "embedding_dim", "num_parameters"}
_PAIRS = {"kernel_size", "stride", "padding", "output_padding"}


def check_args(kind: str, args: dict[str, Any], where: str) -> dict[str, Any]:
    """Validate a layer's constructor arguments; return them with defaults filled in."""
    if kind not in LAYERS:
        raise SpecError(f"{where}.type: unknown layer type {kind!r}{closest(kind, sorted(LAYERS))}; "
                        f"known: {', '.join(sorted(LAYERS))}")
    required, optional = LAYERS[kind]
    for key in args:
        if key not in required and key not in optional:
            raise SpecError(f"{where}.args.{key}: {kind} has no argument {key!r}"
                            f"{closest(key, list(required) + list(optional))}")
    for key in required:
        if key not in args:
            raise SpecError(f"{where}.args.{key}: {kind} needs `{key}`; add it to args")
    full = {**optional, **args}
    for key, value in full.items():
        here = f"{where}.args.{key}"
        if key in _SIZES and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise SpecError(f"{here}: must be a positive integer, got {value!r}")
        if key in _PAIRS:
            pair = value if isinstance(value, list) else [value]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in pair) or len(pair) not in (1, 2):
                raise SpecError(f"{here}: must be an integer or a pair of integers, got {value!r}")
            low = 1 if key in ("kernel_size", "stride") else 0
            if any(v < low for v in pair):
                raise SpecError(f"{here}: must be >= {low}, got {value!r}")
        if key in ("bias", "inplace", "affine", "track_running_stats", "elementwise_affine") \
                and not isinstance(value, bool):
            raise SpecError(f"{here}: must be true or false, got {value!r}")
        _check_number_arg(key, value, here)
    return full


def _check_number_arg(key: str, value: Any, here: str) -> None:
    if key == "p":
        number(value, here, 0, 1, open_high=True)
    elif key == "negative_slope":
        number(value, here)
    elif key == "eps":
        number(value, here, 0, open_low=True)
    elif key == "momentum":
        number(value, here, 0, 1)
    elif key in ("start_dim", "end_dim", "dim"):
        check_type(value, int, here)
    elif key in ("alpha", "beta", "threshold", "init"):
        number(value, here)
    elif key in ("approximate", "mode"):
        check_type(value, str, here)
    elif key in ("unflattened_size", "size", "scale_factor") and value is not None:
        sizes = value if isinstance(value, list) else [value]
        kind = (int, float) if key == "scale_factor" else int
        if not sizes or not all(isinstance(v, kind) and not isinstance(v, bool) and v > 0 for v in sizes):
            raise SpecError(f"{here}: must be a positive number or a list of them, got {value!r}")
    elif key == "normalized_shape":
        sizes = value if isinstance(value, list) else [value]
        if not sizes or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in sizes):
            raise SpecError(f"{here}: must be a positive integer or a list of them, got {value!r}")


def parameters(kind: str, args: dict[str, Any]) -> int:
    """The number of trainable values of one layer (pure arithmetic on its arguments, as torch would make it)."""
    count: int  # the arguments were checked as whole numbers (check_args), so the products are too
    if kind == "Linear":
        count = args["in_features"] * args["out_features"] + (args["out_features"] if args["bias"] else 0)
        return count
    if kind in ("Conv2d", "ConvTranspose2d"):
        kh, kw = _pair(args["kernel_size"])
        count = args["in_channels"] * args["out_channels"] * kh * kw + (args["out_channels"] if args["bias"] else 0)
        return count
    if kind in ("BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d"):
        count = 2 * args["num_features"] if args["affine"] else 0
        return count
    if kind == "Embedding":
        count = args["num_embeddings"] * args["embedding_dim"]
        return count
    if kind == "PReLU":
        count = args["num_parameters"]
        return count
    if kind == "LayerNorm":
        norm = args["normalized_shape"]
        return 2 * math.prod(norm if isinstance(norm, list) else [norm]) if args["elementwise_affine"] else 0
    return 0


def check_op(op: str, args: dict[str, Any], where: str) -> dict[str, Any]:
    if op not in OPS:
        raise SpecError(f"{where}.op: unknown operation {op!r}{closest(op, sorted(OPS))}; known: {', '.join(OPS)}")
    for key in args:
        if key not in OPS[op]:
            raise SpecError(f"{where}.{key}: operation {op} takes no argument {key!r}")
    full = {**OPS[op], **args}
    if op == "leaky_relu":
        number(full["negative_slope"], f"{where}.negative_slope")
    if op == "reshape":
        shape = full["shape"]
        if not isinstance(shape, list) or not shape or \
                not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in shape):
            raise SpecError(f"{where}.shape: reshape needs a list of positive sizes (batch excluded), got {shape!r}")
        full["shape"] = tuple(shape)
    return full


def _pair(value: Any) -> tuple[int, int]:
    return (value[0], value[-1]) if isinstance(value, list) else (value, value)


def output_shape(kind: str, args: dict[str, Any], shape: Shape, where: str) -> Shape:
    """Output shape of one layer or op for an input of `shape`; SpecError naming `where` if it cannot apply."""

    def need(ok: bool, what: str) -> None:
        if not ok:
            raise SpecError(f"{where}: {kind} cannot take input of shape {list(shape)}: {what}; "
                            "fix this layer's arguments or the layer before it")

    if kind in ELEMENTWISE:
        return shape
    if kind == "Linear":
        need(shape[-1] == args["in_features"], f"in_features={args['in_features']} but the input has {shape[-1]}")
        return (*shape[:-1], args["out_features"])
    if kind in ("Conv2d", "ConvTranspose2d"):
        need(len(shape) == 3, "expects (channels, height, width)")
        need(shape[0] == args["in_channels"], f"in_channels={args['in_channels']} but the input has {shape[0]}")
        k, s, p = _pair(args["kernel_size"]), _pair(args["stride"]), _pair(args["padding"])
        if kind == "Conv2d":
            out = [(shape[1 + i] + 2 * p[i] - k[i]) // s[i] + 1 for i in range(2)]
        else:
            op = _pair(args["output_padding"])
            need(all(op[i] < s[i] for i in range(2)), "output_padding must be smaller than stride")
            out = [(shape[1 + i] - 1) * s[i] - 2 * p[i] + k[i] + op[i] for i in range(2)]
        need(all(v > 0 for v in out), f"the output would be {out[0]}x{out[1]}")
        return (args["out_channels"], *out)
    if kind in ("BatchNorm1d", "BatchNorm2d", "InstanceNorm1d", "InstanceNorm2d"):
        dims = {"BatchNorm1d": (1, 2), "BatchNorm2d": (3,), "InstanceNorm1d": (2,), "InstanceNorm2d": (3,)}[kind]
        need(len(shape) in dims, f"expects {' or '.join(str(d) for d in dims)} dimensions besides the batch")
        need(shape[0] == args["num_features"], f"num_features={args['num_features']} but the input has {shape[0]}")
        return shape
    if kind == "LayerNorm":
        norm = args["normalized_shape"]
        norm = tuple(norm) if isinstance(norm, list) else (norm,)
        need(shape[-len(norm):] == norm, f"normalized_shape={list(norm)} does not end the input shape")
        return shape
    if kind == "Embedding":
        return (*shape, args["embedding_dim"])
    if kind == "Upsample":
        need(len(shape) == 3 and (args["size"] is None) != (args["scale_factor"] is None),
             "expects (channels, height, width) and one of size or scale_factor")
        if args["size"] is not None:
            return (shape[0], *_pair(args["size"]))
        scale = args["scale_factor"]
        scale = scale if isinstance(scale, list) else [scale, scale]
        return (shape[0], *(int(math.floor(shape[1 + i] * scale[i])) for i in range(2)))
    if kind == "Unflatten":
        sizes, dim = tuple(args["unflattened_size"]), args["dim"]
        need(1 <= dim <= len(shape) and shape[dim - 1] == math.prod(sizes),
             f"dimension {dim} of size {shape[dim - 1] if 1 <= dim <= len(shape) else '?'} cannot become {list(sizes)}")
        return (*shape[:dim - 1], *sizes, *shape[dim:])
    if kind in ("Flatten", "flatten"):
        need(args.get("start_dim", 1) == 1 and args.get("end_dim", -1) == -1,
             "gan-spec models Flatten(start_dim=1, end_dim=-1) only")
        return (math.prod(shape),)
    if kind == "reshape":
        need(math.prod(args["shape"]) == math.prod(shape),
             f"{math.prod(shape)} values cannot become {list(args['shape'])}")
        return tuple(args["shape"])
    raise SpecError(f"{where}: no shape rule for {kind!r}")
