"""Offline image-quality metrics: domain FID/KID, mode coverage, MS-SSIM diversity, and Inception FID/KID when
the user supplies the weights. Nothing is downloaded.

The offline default feature extractor is a small FashionMNIST classifier that gan-spec trains itself (>= 90 %
test accuracy) and caches under the user cache directory, keyed by a hash of its recipe and training data;
its 128-d penultimate layer gives a *domain* FID/KID, and its predictions give class coverage.
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from impl.data import DataError, Dataset, fashion_mnist, to_unit

CLASSIFIER_RECIPE = "cnn32-64-128/adam1e-3/batch128/epochs5/seed0/v1"
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
        return self.body(self.prepare(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


class FeatureExtractor(nn.Module):
    """The pluggable feature network torchmetrics' FID and KID call: images in [-1, 1] -> (N, num_features)."""

    def __init__(self, net: nn.Module, num_features: int, fn: str = "features") -> None:
        super().__init__()
        self.net, self.num_features, self.fn = net, num_features, fn

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return getattr(self.net, self.fn)(images).double()


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gan-spec"


def classifier_key(train: Dataset) -> str:
    digest = hashlib.sha256(CLASSIFIER_RECIPE.encode())
    digest.update(train.images.numpy().tobytes())
    digest.update(train.labels.numpy().tobytes())
    return digest.hexdigest()[:16]


def train_classifier(train: Dataset, test: Dataset, epochs: int = 5, progress: bool = True) -> tuple[nn.Module, float]:
    with torch.enable_grad():  # callers may be inside no_grad (sampling code)
        return _train(train, test, epochs, progress)


def _train(train: Dataset, test: Dataset, epochs: int, progress: bool) -> tuple[nn.Module, float]:
    from tqdm import tqdm

    torch.manual_seed(0)
    model = FashionClassifier()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    n, batch = len(train.images), 128
    for epoch in range(epochs):
        order = torch.randperm(n)
        for i in tqdm(range(0, n - batch + 1, batch), desc=f"classifier epoch {epoch + 1}/{epochs}",
                      disable=not progress, leave=False):
            idx = order[i:i + batch]
            loss = F.cross_entropy(model(to_unit(train.images[idx])), train.labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    return model.eval(), accuracy(model, test)


@torch.no_grad()
def accuracy(model: nn.Module, data: Dataset) -> float:
    correct = sum((model(to_unit(part)).argmax(1) == labels).sum().item()
                  for part, labels in zip(data.images.split(2000), data.labels.split(2000)))
    return correct / len(data.images)


def load_classifier(folder: Path | None = None, progress: bool = True, train: Dataset | None = None,
                    test: Dataset | None = None) -> tuple[FashionClassifier, float]:
    """The cached FashionMNIST classifier and its test accuracy; trained (about a minute) when missing."""
    train = train or fashion_mnist(folder, "train")
    key = classifier_key(train)
    path = cache_dir() / f"fashion-classifier-{key}.pt"
    if path.is_file():
        try:
            saved = torch.load(path, weights_only=True)
            model = FashionClassifier()
            model.load_state_dict(saved["state"])
            return model.eval(), float(saved["accuracy"])
        except Exception:
            path.unlink(missing_ok=True)  # damaged: train again
    test = test or fashion_mnist(folder, "test")
    model, acc = train_classifier(train, test, progress=progress)
    if acc < MIN_ACCURACY and len(train.images) >= 60000:
        raise DataError(f"the FashionMNIST classifier reached only {acc:.1%} test accuracy (needs {MIN_ACCURACY:.0%});"
                        " check the data files")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    torch.save({"state": model.state_dict(), "accuracy": acc, "recipe": CLASSIFIER_RECIPE}, tmp)
    os.replace(tmp, path)
    return model, acc


def inception(weights: Path) -> FeatureExtractor:
    """torchvision's Inception v3 with a user-supplied weights file; 2048-d pool features of 299x299 input."""
    from torchvision.models import inception_v3

    net = inception_v3(weights=None, aux_logits=False, init_weights=False)
    try:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        state = {k: v for k, v in state.items() if not k.startswith("AuxLogits.")}
        net.load_state_dict(state)
    except Exception as exc:  # unreadable, not a state dict, pickle refused by weights_only, wrong keys
        raise DataError(f"{weights}: not a torchvision inception_v3 state dict ({type(exc).__name__}); "
                        "pass the inception_v3 weights file") from None
    net.fc = nn.Identity()

    class Inception(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.net = net.eval()
            self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
            self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))

        def features(self, images: torch.Tensor) -> torch.Tensor:
            x = images.float().expand(-1, 3, -1, -1) * 0.5 + 0.5
            x = F.interpolate(x, size=(299, 299), mode="bilinear", align_corners=False)
            return self.net((x - self.mean) / self.std)

    return FeatureExtractor(Inception(), 2048)


@torch.no_grad()
def fid_kid(real: torch.Tensor, fake: torch.Tensor, extractor: FeatureExtractor,
            batch: int = 500) -> dict[str, float]:
    """FID and KID (torchmetrics) between two sets of images in [-1, 1]."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    from torchmetrics.image.kid import KernelInceptionDistance

    subset = min(1000, len(real) // 2, len(fake) // 2)
    fid = FrechetInceptionDistance(feature=extractor, normalize=True)
    with warnings.catch_warnings():  # KID keeps every feature vector; 2 x 10,000 x 2048 doubles is fine here
        warnings.simplefilter("ignore", UserWarning)
        kid = KernelInceptionDistance(feature=extractor, normalize=True, subset_size=subset, subsets=50)
    for metric in (fid, kid):
        for part in real.split(batch):
            metric.update(part, real=True)
        for part in fake.split(batch):
            metric.update(part, real=False)
    kid_mean, kid_std = kid.compute()
    return {"fid": float(fid.compute()), "kid": float(kid_mean), "kid_std": float(kid_std)}


@torch.no_grad()
def coverage(images: torch.Tensor, classifier: nn.Module, min_share: float = 0.01) -> dict:
    """Classes the images fall in (a class counts with >= 1 % of the images) and KL(histogram || uniform)."""
    labels = torch.cat([classifier(part).argmax(1) for part in images.split(1000)])
    hist = torch.bincount(labels, minlength=10).double() / len(labels)
    nonzero = hist[hist > 0]
    kl = float((nonzero * (nonzero * 10).log()).sum())
    return {"classes_covered": int((hist >= min_share).sum()), "kl_to_uniform": kl,
            "class_histogram": {CLASSES[i]: round(float(h), 4) for i, h in enumerate(hist)}}


@torch.no_grad()
def ms_ssim_diversity(images: torch.Tensor, pairs: int = 500, seed: int = 0) -> float:
    """Mean MS-SSIM over random pairs of distinct images: near 1 for a collapsed set, lower for a diverse one."""
    from torchmetrics.functional.image import multiscale_structural_similarity_index_measure as ms_ssim

    n = len(images)
    if n < 2:
        raise ValueError("MS-SSIM diversity needs at least 2 images")
    g = torch.Generator().manual_seed(seed)
    a = torch.randint(0, n, (pairs,), generator=g)
    b = (a + torch.randint(1, n, (pairs,), generator=g)) % n  # never the same image
    side = images.shape[-1]
    scales = max(1, min(5, int(math.log2(side / 4))))  # three scales for 28x28, four for 64x64
    betas = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)[:scales]
    kernel = 3 if side < 48 else 7
    x, y = images[a].float(), images[b].float()
    values = ms_ssim(x, y, data_range=2.0, kernel_size=kernel, betas=betas, reduction="none", normalize="relu")
    return float(values.mean())
