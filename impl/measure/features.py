"""Feature networks for the metrics and the cache of real-set features.

Two networks turn images in [-1, 1] into features and logits:
- the shipped FashionMNIST classifier (impl.classifier): 128-d features, 10 logits: *domain* metrics;
- torch-fidelity's InceptionV3, the network published FIDs use (2048-d pool features, 1008 unbiased logits for the
  Inception Score), with the weights read from a file the user names. Nothing is ever downloaded.

Real-set features are cached on disk (safetensors) and in memory, keyed by the network's weights (sha256), the
real images (sha256 of their bytes, so data, count and size) and the feature code's version.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from impl.core.errors import DataError, user_cache
from impl.core.files import Root
from impl.measure import domain_classifier as classifier

FEATURE_VERSION = "v3"  # bump when the cached real side changes: old cache entries stop matching
INCEPTION_FILE = "weights-inception-2015-12-05-6726825d.pth"
INCEPTION_URL = ("https://github.com/toshas/torch-fidelity/releases/download/v0.2.0/"
                 "weights-inception-2015-12-05-6726825d.pth")
# the same TF-2015 FID Inception as torch-fidelity and pytorch-fid save it in torch hub's cache when they download it
KNOWN_INCEPTION_FILES = (INCEPTION_FILE, "pt_inception-2015-12-05-6726825d.pth")
HUB = "hub"  # --inception-weights hub: take the file from torch hub's cache
WEIGHTS_HELP = (f"the FID Inception weights: a file ({INCEPTION_FILE}, from {INCEPTION_URL}; never downloaded), or "
                f"'{HUB}' for the copy torch-fidelity or pytorch-fid keep in torch hub's cache "
                "($TORCH_HOME/hub/checkpoints, default ~/.cache/torch/hub/checkpoints)")


def hub_checkpoints() -> Path:
    """torch hub's checkpoint folder: $TORCH_HOME/hub/checkpoints, by default ~/.cache/torch/hub/checkpoints."""
    return Path(torch.hub.get_dir()) / "checkpoints"


def weights_argument(text: str) -> Path:
    """argparse type of --inception-weights: a path as given, or 'hub': the first known file name found in torch
    hub's cache (refused in one line naming the folder and the names looked for)."""
    if text != HUB:
        return Path(text)
    folder = hub_checkpoints()
    for name in KNOWN_INCEPTION_FILES:
        if (folder / name).is_file():
            return folder / name
    raise argparse.ArgumentTypeError(f"neither {' nor '.join(KNOWN_INCEPTION_FILES)} is in torch hub's cache "
                                     f"{folder}; download {INCEPTION_URL} there, or pass the file's path")


class FeatureNet(nn.Module):
    """Images in [-1, 1] -> {"features": (N, D), "logits": (N, C)}; `identity` names the weights for cache keys."""

    name: str
    identity: str
    batch: int
    path: Path

    def extract(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        raise NotImplementedError


class DomainNet(FeatureNet):
    """The shipped FashionMNIST classifier: 128-d penultimate features and its 10 class logits."""

    def __init__(self, path: Path | None = None) -> None:
        super().__init__()
        self.net, self.accuracy = classifier.load_classifier(path)
        self.path = Path(path or classifier.ASSET)
        self.identity = classifier.record(self.path)["sha256"]
        self.name, self.batch = "fashion-classifier", 2000

    def extract(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        feats = self.net.features(images)
        return {"features": feats, "logits": self.net.head(feats)}


class InceptionNet(FeatureNet):
    """torch-fidelity's FeatureExtractorInceptionV3 on uint8 RGB (grey repeated), resized to 299 the TF1 way."""

    def __init__(self, weights: Path, device: str = "cpu") -> None:
        super().__init__()
        self.net, self.identity = load_inception(weights)
        self.path = Path(weights)
        self.net.to(device)
        self.name, self.batch, self.device = "inception-v3", 50, device

    def extract(self, images: torch.Tensor) -> dict[str, torch.Tensor]:
        x = to_uint8(images)
        if x.shape[1] == 1:
            x = x.expand(-1, 3, -1, -1)
        pool, logits = self.net(x.to(self.device))
        return {"features": pool.cpu(), "logits": logits.cpu()}


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """[-1, 1] floats -> uint8 as a saved PNG would hold them (real uint8 images pass through to_unit unchanged)."""
    return ((images.float() + 1) * 127.5).round().clamp(0, 255).to(torch.uint8)


def _weights_problem(path: Path, why: str) -> DataError:
    return DataError(f"{path}: {why}; --inception-weights expects torch-fidelity's FID Inception weights "
                     f"{INCEPTION_FILE}, published at {INCEPTION_URL} (gan-spec never downloads it)")


def load_inception(weights: Path) -> tuple[nn.Module, str]:
    """torch-fidelity's InceptionV3 with the weights in `weights`, and the file's sha256. The file is first read
    with weights_only=True, so a file holding code is refused before torch-fidelity's own (pickle) load; given a
    path, torch-fidelity reads that file and never touches the network."""
    from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3

    path = check_inception_file(weights)
    try:
        net = FeatureExtractorInceptionV3("inception-v3-compat", ["2048", "logits_unbiased"],
                                          feature_extractor_weights_path=str(path))
    except RuntimeError as exc:  # load_state_dict: missing, unexpected or mis-shaped tensors
        raise _weights_problem(path, f"its tensors do not fit torch-fidelity's InceptionV3 ({_mismatch(str(exc))})"
                               ) from None
    return net.eval(), classifier.sha256(path)


def check_inception_file(weights: Path) -> Path:
    """The weights file's path if it holds a state dict of finite floating-point tensors (read with
    weights_only=True: a file carrying code is refused unrun); else one DataError line. Cheap enough for a
    scorecard to ask before its first training, not after it."""
    path = Path(weights).expanduser()
    if not path.is_file():
        raise _weights_problem(path, "no such file")
    try:
        with warnings.catch_warnings():  # torch's note on the pickle protocol of files it then reads fine
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable, not a torch file, or a pickle that carries code
        raise _weights_problem(path, f"not a tensor-only PyTorch state dict ({type(exc).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise _weights_problem(path, "not a state dict of tensors")
    for name, value in state.items():  # checked here: NaN weights abort inside the convolution or LAPACK later
        if "num_batches_tracked" not in name and not value.is_floating_point():
            raise _weights_problem(path, f"{name} holds {value.dtype} values, not floating point")
        if value.is_floating_point() and not torch.isfinite(value).all():
            raise _weights_problem(path, f"{name} holds NaN or infinite values (a damaged file)")
    return path


def _mismatch(message: str) -> str:
    """load_state_dict's many-line complaint, counted in one phrase with an example of each kind."""
    parts = []
    for label, pattern in (("missing", r"Missing key\(s\) in state_dict: (.*)"),
                           ("unexpected", r"Unexpected key\(s\) in state_dict: (.*)")):
        found = re.search(pattern, message)
        if found:
            keys = re.findall(r'"([^"]+)"', found.group(1))
            parts.append(f"{len(keys)} {label}, e.g. {keys[0]}" if keys else label)
    shapes = re.findall(r"size mismatch for ([^:]+):", message)
    if shapes:
        parts.append(f"{len(shapes)} of another shape, e.g. {shapes[0]}")
    return "; ".join(parts) or message.splitlines()[0][:120]


@torch.no_grad()
def extract(net: FeatureNet, images: torch.Tensor, progress: bool = False, desc: str = "features"
            ) -> dict[str, torch.Tensor]:
    """{"features", "logits"} of every image, in batches of net.batch (bounded memory), as float64 on the CPU."""
    from impl.core.progress import tracked

    parts: dict[str, list[torch.Tensor]] = {}
    starts = range(0, len(images), net.batch)
    for start in tracked(starts, len(starts), desc, "batch", not progress):
        for key, value in net.extract(images[start:start + net.batch]).items():
            if not torch.isfinite(value).all():  # never passed on to FID's eigenvalues (oneMKL crashes on NaN)
                raise DataError(f"{net.name}: its {key} of finite images hold NaN or infinite values; its weights "
                                f"are damaged ({net.path}); use an intact copy")
            parts.setdefault(key, []).append(value.double().cpu())
    return {key: torch.cat(values) for key, values in parts.items()}


def cache_dir() -> Path:
    return user_cache()


def cache_key(net: FeatureNet, data_identity: str, shape: tuple[int, ...], count: int) -> str:
    text = f"{FEATURE_VERSION}|{net.name}|{net.identity}|{data_identity}|{'x'.join(map(str, shape))}|{count}"
    return f"{net.name}-{hashlib.sha256(text.encode()).hexdigest()[:20]}"


def data_identity(images: torch.Tensor) -> str:
    """sha256 of a uint8 image tensor's bytes and shape: the same data, count and size give the same string."""
    digest = hashlib.sha256(str(tuple(images.shape)).encode())
    digest.update(images.contiguous().numpy().tobytes())
    return digest.hexdigest()


def sound(tensors: object) -> str:
    """Why a table of real-side tensors read from a cache cannot be used ('' when it can): each a floating-point
    tensor, every value finite, the features 2-D with one radius per row. A cache file anyone could have written
    is checked before any number of it reaches an eigenvalue or a square root (oneMKL crashes on NaN)."""
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        return "not a table of tensors"
    feats = tensors.get("features")
    if not isinstance(feats, torch.Tensor) or feats.dim() != 2 or len(feats) < 2 or feats.shape[1] < 1:
        return "no 2-D features of at least two images"
    for name, value in tensors.items():
        if not value.is_floating_point():
            return f"{name} is {value.dtype}, not floating point"
        if name.startswith("radius") and tuple(value.shape) != (len(feats),):
            return f"{name} has shape {tuple(value.shape)}, not one radius per image"
        if not torch.isfinite(value).all():
            return f"{name} holds NaN or infinite values"
    return ""


def cached(key: str, compute: Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]],
           memory: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]],
           say: Callable[[str], None] | None = None, what: str = "real-set features"
           ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The tensors and JSON-able info stored under `key` (the caller's `memory`, then disk), else compute() and
    store them. A damaged cache file (unreadable, of another shape or type, holding NaN) is removed and computed
    again; a disk that cannot be written only loses the cache. Writes go through impl.core.files.Root (no link
    followed, a temporary file of its own)."""
    if key in memory:
        return memory[key]
    from safetensors import safe_open
    from safetensors.torch import load_file, save

    root = Root(cache_dir() / "real-features")
    path = root.path / f"{key}.safetensors"
    if path.is_file():
        try:
            with safe_open(path, "pt") as fh:
                info = json.loads(fh.metadata()["info"])
            tensors = load_file(path)
            problem = sound(tensors) or ("" if isinstance(info, dict) else "info is not an object")
        except Exception:  # damaged or from another version: computed again below
            problem = "unreadable"
        if not problem:
            memory[key] = (tensors, info)
            return memory[key]
        print(f"note: {path}: damaged cache ({problem}); computing it again", file=sys.stderr)
        try:
            root.remove(path.name)
        except OSError:
            pass
    if say:
        say(f"preparing {what} once (cached in {path.parent})")
    tensors, info = compute()
    try:
        root.write_bytes(path.name, save({k: v.contiguous() for k, v in tensors.items()},
                                         metadata={"info": json.dumps(info)}))
    except OSError as exc:
        print(f"note: {path}: cache not written ({exc.strerror or exc}); the next evaluation computes it again",
              file=sys.stderr)
    memory[key] = (tensors, info)
    return memory[key]
