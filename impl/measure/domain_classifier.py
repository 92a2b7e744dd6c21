"""The FashionMNIST classifier behind the domain metrics: its network, gan-spec's training recipe, and the trained
weights that ship with the package (impl/measure/assets/fashion-classifier.safetensors, with a JSON record beside it).

Every machine loads the same file, so domain FID/KID and class coverage are comparable between machines and the
first evaluation trains nothing. Retraining (`python -m impl.classifier --retrain`) rewrites the file
reproducibly (fixed seed, one thread).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from impl.core.errors import DataError
from impl.data.load import Dataset, fashion_mnist, to_unit

ASSET = Path(__file__).resolve().parent / "assets" / "fashion-classifier.safetensors"
SHIPPED_SHA256 = "4ec4b90e4762d475d1f2d0b469455d019c2f79ec3bf95b2307eeec9ed16e2916"
CLASSIFIER_RECIPE = "cnn32-64-128/adam1e-3/batch128/seed0/threads1/v2"  # and EPOCHS passes
EPOCHS = 5
MIN_ACCURACY = 0.90
CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")


class FashionClassifier(nn.Module):
    """28x28 grey images in [-1, 1] -> 10 FashionMNIST classes; `features` is the 128-d penultimate layer."""

    num_features = 128

    def __init__(self) -> None:
        super().__init__()
        self.body = nn.Sequential(
            nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU())
        self.head = nn.Linear(128, 10)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """Any generated or real batch in [-1, 1] -> grey 28x28 (FashionMNIST-64 RGB runs included)."""
        x = images.float()
        if x.shape[1] != 1:
            x = x.mean(1, keepdim=True)
        if x.shape[-2:] != (28, 28):
            x = F.interpolate(x, size=(28, 28), mode="bilinear", antialias=True, align_corners=False)
        return x

    def features(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.body(self.prepare(images))
        return out

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        out: torch.Tensor = self.head(self.features(images))
        return out


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def data_sha256(data: Dataset) -> str:
    assert data.labels is not None  # FashionMNIST splits always hold their labels
    digest = hashlib.sha256(data.images.numpy().tobytes())
    digest.update(data.labels.numpy().tobytes())
    return digest.hexdigest()


def train_classifier(train: Dataset, test: Dataset, epochs: int = EPOCHS,
                     progress: bool = True) -> tuple[FashionClassifier, float]:
    """gan-spec's recipe: seed 0, Adam(1e-3), batch 128, `epochs` passes; the model and its test accuracy."""
    # callers may be inside no_grad (sampling code); the recipe seeds the global generator, restored afterwards
    with torch.enable_grad(), torch.random.fork_rng(devices=[]):
        return _train(train, test, epochs, progress)


def _train(train: Dataset, test: Dataset, epochs: int, progress: bool) -> tuple[FashionClassifier, float]:
    from impl.core.progress import tracked

    torch.manual_seed(0)  # the recipe's seed; train_classifier restores the caller's random state afterwards
    assert train.labels is not None  # FashionMNIST splits always hold their labels
    model = FashionClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, batch = len(train.images), 128
    for epoch in range(epochs):
        order = torch.randperm(n)
        model.train()
        steps = range(0, n - batch + 1, batch)
        for i in tracked(steps, len(steps), f"classifier epoch {epoch + 1}/{epochs}", "batch", not progress):
            idx = order[i:i + batch]
            loss = F.cross_entropy(model(to_unit(train.images[idx])), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()  # type: ignore[no-untyped-call]  # torch leaves Tensor.backward unannotated
            opt.step()
    return model.eval(), accuracy(model, test)


@torch.no_grad()
def accuracy(model: nn.Module, data: Dataset) -> float:
    assert data.labels is not None  # FashionMNIST splits always hold their labels
    correct: int = sum((model(to_unit(part)).argmax(1) == labels).sum().item()
                       for part, labels in zip(torch.split(data.images, 2000), torch.split(data.labels, 2000)))
    return correct / len(data.images)


def record(path: Path = ASSET) -> dict[str, Any]:
    """The JSON record beside a classifier file: recipe, test accuracy, sha256, how and when it was trained."""
    side = Path(path).with_suffix(".json")
    try:
        info: dict[str, Any] = json.loads(side.read_text(encoding="utf-8"))
        return info
    except FileNotFoundError:
        raise DataError(f"{side}: missing; reinstall gan-spec, or run python -m impl.classifier --retrain") from None
    except (OSError, ValueError) as exc:
        raise DataError(f"{side}: unreadable ({type(exc).__name__}); reinstall gan-spec, or run "
                        "python -m impl.classifier --retrain") from None


def load_classifier(path: Path | None = None) -> tuple[FashionClassifier, float]:
    """The trained classifier (the shipped file unless `path` names another) and its recorded test accuracy.

    The file must match the sha256 its JSON record states; nothing is trained here."""
    path = Path(path or ASSET)
    info = record(path)
    if not path.is_file():
        raise DataError(f"{path}: missing; reinstall gan-spec, or run python -m impl.classifier --retrain")
    found = sha256(path)
    if found != info.get("sha256"):
        raise DataError(f"{path}: sha256 {found[:12]}... is not the {str(info.get('sha256'))[:12]}... its record "
                        "states (damaged or replaced); reinstall gan-spec, or run python -m impl.classifier --retrain")
    from safetensors.torch import load_file

    model = FashionClassifier()
    try:
        model.load_state_dict(load_file(path))
    except Exception as exc:  # a consistent record with the wrong tensors: not a FashionClassifier file
        raise DataError(f"{path}: not FashionClassifier weights ({type(exc).__name__}); run "
                        "python -m impl.classifier --retrain") from None
    return model.eval().requires_grad_(False), float(info["test_accuracy"])


def retrain(fashion_folder: Path | None = None, out: Path = ASSET, epochs: int = EPOCHS,
            progress: bool = True) -> dict[str, Any]:
    """Train by the recipe on the real train split, check >= 90 % on the test split, write `out` and its record."""
    from safetensors.torch import save_file

    train, test = fashion_mnist(fashion_folder, "train"), fashion_mnist(fashion_folder, "test")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums in the same order, so the same bytes on every run
    try:
        start = time.monotonic()
        model, acc = train_classifier(train, test, epochs, progress)
        seconds = time.monotonic() - start
    finally:
        torch.set_num_threads(threads)
    if acc < MIN_ACCURACY and len(train.images) >= 60000:
        raise DataError(f"the retrained classifier reached {acc:.2%} test accuracy (needs {MIN_ACCURACY:.0%}); "
                        f"{out} is unchanged")
    meta = {"recipe": CLASSIFIER_RECIPE, "epochs": epochs, "test_accuracy": round(acc, 4),
            "train_data_sha256": data_sha256(train), "test_data_sha256": data_sha256(test)}
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp")
    # one metadata entry: safetensors writes several in a random order, which would change the file's bytes
    save_file({k: v.contiguous() for k, v in model.state_dict().items()}, tmp,
              metadata={"gan-spec": json.dumps(meta, sort_keys=True)})
    os.replace(tmp, out)
    info = {"file": out.name, "sha256": sha256(out), "bytes": out.stat().st_size, **meta,
            "train_seconds": round(seconds, 1), "torch": torch.__version__,
            "trained": time.strftime("%Y-%m-%d %H:%M:%S"), "command": "python -m impl.classifier --retrain"}
    out.with_suffix(".json").write_text(json.dumps(info, indent=2) + "\n", encoding="utf-8")
    return info
