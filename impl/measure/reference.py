"""Generated images scored against a real set through one feature network, with the real side prepared once.

The real side (features, the real-vs-real floor, the real set's own sharpness, diversity and confidence) is
cached on disk by impl.measure.features, keyed by network weights, data, count and image size. In memory it is
kept by a `Reference` that the caller owns and passes on (a scorecard keeps one for all its runs and epochs), so
a second evaluation only extracts the generated images' features; nothing is cached behind the caller's back.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from impl.data.load import adapt, fashion_mnist, image_folder, to_unit
from impl.measure import faces, features, metrics

N_REAL = 10000
FACE_SAMPLES = 2000  # images per side the anime-face detector looks at (about 36 ms each on a CPU core)


@dataclass
class RealSet:
    """Real images in the generated images' shape, loaded only when the cache misses."""

    identity: str  # sha256 of the source images, plus how they are brought to `shape`
    count: int
    shape: tuple[int, ...]
    description: str
    load: Callable[[], torch.Tensor]  # -> uint8 [count, *shape]


def say_on_stderr(line: str) -> None:
    print(f"evaluate: {line}", file=sys.stderr, flush=True)


class Reference:
    """The in-memory side of the real references, owned by the caller: real sets, the domain network, the real
    features read from disk and the neighbour radii of real subsets. One per command (or per scorecard)."""

    def __init__(self) -> None:
        self.realsets: dict[tuple[Any, ...], RealSet] = {}
        self.domain: features.DomainNet | None = None
        self.features: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}
        self.radii: dict[tuple[str, int], list[torch.Tensor]] = {}
        self.detector: faces.Detector | None = None
        self.inception: features.InceptionNet | None = None
        self.real_faces: dict[str, tuple[dict[str, torch.Tensor], dict[str, Any]]] = {}  # the faces' rows

    def folder_real(self, folder: Path, n_real: int, shape: tuple[int, ...], progress: bool = True) -> RealSet:
        key = ("folder", str(folder), n_real, tuple(shape))
        if key not in self.realsets:
            self.realsets[key] = folder_real(folder, n_real, shape, progress)
        return self.realsets[key]

    def face_scores(self, fake: torch.Tensor, real: RealSet, say: Callable[[str], None] | None = None
                    ) -> dict[str, Any]:
        """The anime-face detector's metrics of `fake` beside the real faces' (on at most FACE_SAMPLES images of
        each), with the thresholds the real faces' spread gives; {} without the detector (pip install
        'gan-spec[faces]')."""
        path = faces.library_path()
        if path is None:
            return {}
        if self.detector is None:
            self.detector = faces.Detector(path)
        return faces.face_metrics(faces.detect_all(fake[:FACE_SAMPLES], self.detector),
                                  self.real_faces_of(real, path, say))

    def real_faces_of(self, real: RealSet, library: Path, say: Callable[[str], None] | None = None
                      ) -> faces.RealFaces:
        """The real faces' detections as rows (faces.table()), found once per real set and detector and cached
        on disk beside the real features (features.cached), so every evaluation reads its thresholds from the same
        faces. Fewer than two real faces are not worth a file: they are detected again."""
        assert self.detector is not None  # face_scores made it
        detector, count = self.detector, min(real.count, FACE_SAMPLES)
        text = f"{'|'.join(faces.COLUMNS)}|{library.name}|{real.identity}|{'x'.join(map(str, real.shape))}|{count}"
        key = f"faces-{hashlib.sha256(text.encode()).hexdigest()[:20]}"

        def compute() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
            found = faces.RealFaces.of(faces.detect_all(to_unit(real.load()[:count]), detector))
            if len(found.rows) < 2:
                raise _FewFaces(found)
            return {"features": torch.from_numpy(found.rows)}, {"images": found.images}

        try:
            tensors, info = features.cached(key, compute, self.real_faces, say,
                                            f"anime faces of the {real.description}")
        except _FewFaces as few:
            return few.found
        rows, images = tensors["features"].double().numpy(), info.get("images")
        if rows.shape[1:] != (len(faces.COLUMNS),) or not isinstance(images, int) or images < len(rows):
            self.real_faces.pop(key, None)  # a cache file of another layout: detected again, not trusted
            return compute_uncached(compute)
        return faces.RealFaces(rows, images)

    def inception_scores(self, fake: torch.Tensor, folder: Path, weights: Path, n_real: int) -> dict[str, float]:
        """Inception FID/KID (and their floors) of `fake` against a folder of real images, the network and the real
        side kept for the next call (a face run's per-epoch metrics)."""
        if self.inception is None:
            self.inception = inception_net(weights)
        real = self.folder_real(folder, n_real, tuple(fake.shape[1:]), progress=False)
        got = inception_evaluation(metrics.finite_cpu(fake), self.inception, real, self)
        return {k: v for k, v in got.items() if isinstance(v, int | float)}

    def domain_net(self) -> features.DomainNet:
        if self.domain is None:
            self.domain = features.DomainNet()
        return self.domain

    def fashion_real(self, folder: Path | None, n_real: int, shape: tuple[int, ...]) -> RealSet:
        """The first n_real images (or all, if fewer) of the FashionMNIST test split, adapted to `shape` as
        FashionMNIST-64 training adapts them."""
        key = ("fashion", str(folder), n_real, tuple(shape))
        if key not in self.realsets:
            native = fashion_mnist(folder, "test").images[:n_real]
            how = "" if tuple(native.shape[1:]) == tuple(shape) else f", adapted to {'x'.join(map(str, shape))}"
            self.realsets[key] = RealSet(features.data_identity(native) + how, len(native), tuple(shape),
                                         f"FashionMNIST test split ({len(native):,} images{how})",
                                         lambda: adapt(native, tuple(shape)))
        return self.realsets[key]


class _FewFaces(Exception):
    """Fewer than two real faces found: nothing the feature cache can hold."""

    def __init__(self, found: faces.RealFaces) -> None:
        super().__init__("fewer than two real faces")
        self.found = found


def compute_uncached(compute: Callable[[], tuple[dict[str, torch.Tensor], dict[str, Any]]]) -> faces.RealFaces:
    try:
        tensors, info = compute()
    except _FewFaces as few:
        return few.found
    return faces.RealFaces(tensors["features"].numpy(), int(info["images"]))


def folder_real(folder: Path, n_real: int, shape: tuple[int, ...], progress: bool = True) -> RealSet:
    """n_real images drawn (seed 0) from a folder of images, decoded at the generated images' size."""
    found = image_folder(folder, shape[-1], shape[0], progress=progress).images
    pick = found if len(found) <= n_real else found[torch.randperm(len(found),
                                                                   generator=torch.Generator().manual_seed(0))[:n_real]]
    return RealSet(features.data_identity(pick), len(pick), tuple(shape), f"{folder} ({len(pick):,} images)",
                   lambda: pick)


def real_reference(net: features.FeatureNet, real: RealSet, say: Callable[[str], None] | None, ref: Reference
                   ) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """The real set's features and its reference numbers, computed once per network, data, count and size."""
    def compute() -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
        images = real.load()
        unit = to_unit(images)
        extracted = features.extract(net, unit, progress=say is not None, desc=f"{net.name} features of the real set")
        info = {"real_set": real.description, "real_samples": real.count, **metrics.floor(extracted["features"]),
                **metrics.image_scores(unit, "real_")}
        if isinstance(net, features.DomainNet):
            scores = metrics.class_scores(extracted["logits"])
            info |= {"real_mean_confidence": scores["mean_confidence"],
                     "real_confident_share": scores["confident_share"]}
        else:
            info["real_inception_score"] = metrics.inception_score(extracted["logits"])[0]
        radii = metrics.knn_radii(extracted["features"].float(), (metrics.K_PR, metrics.K_DC))
        return {"features": extracted["features"].float(), "radius_pr": radii[0], "radius_dc": radii[1]}, info

    key = features.cache_key(net, real.identity, real.shape, real.count)
    return features.cached(key, compute, ref.features, say, f"{net.name} features of the {real.description}")


def score(net: features.FeatureNet, fake: torch.Tensor, real: RealSet, ref: Reference,
          say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """FID, KID, the floor, precision/recall/density/coverage and the logit scores of `fake` against `real`."""
    metrics.check_count("generated images", len(fake))
    metrics.check_count("real images", real.count, 2 * metrics.MIN_SAMPLES)  # the floor takes two halves
    side, info = real_reference(net, real, say, ref)
    got = features.extract(net, fake, progress=say is not None,
                           desc=f"{net.name} features of the generated images")
    kid, kid_std = metrics.kernel(side["features"], got["features"])
    key = features.cache_key(net, real.identity, real.shape, real.count)
    out = {"fid": metrics.frechet(side["features"], got["features"]), "kid": kid, "kid_std": kid_std,
           **neighbour_scores(side, key, got["features"], ref), **info}
    if isinstance(net, features.DomainNet):
        out |= metrics.class_scores(got["logits"])
    else:
        out["inception_score"], out["inception_score_std"] = metrics.inception_score(got["logits"])
    return out


def neighbour_scores(side: dict[str, torch.Tensor], key: str, fake: torch.Tensor, ref: Reference) -> dict[str, float]:
    """Precision/recall/density/coverage against as many real images as there are generated ones (a fixed random
    subset when fewer), as both papers compare equal sizes: coverage, for one, is capped by n_fake / n_real."""
    count = len(side["features"])
    m = min(len(fake), count)
    if m == count:
        return metrics.prdc(side["features"], fake, real_radii=[side["radius_pr"], side["radius_dc"]])
    pick = torch.randperm(count, generator=torch.Generator().manual_seed(0))[:m]
    if (key, m) not in ref.radii:
        ref.radii[(key, m)] = metrics.knn_radii(side["features"][pick], (metrics.K_PR, metrics.K_DC))
    return metrics.prdc(side["features"][pick], fake, real_radii=ref.radii[(key, m)])


def domain_evaluation(fake: torch.Tensor, ref: Reference, fashion_folder: Path | None = None, n_real: int = N_REAL,
                      say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Everything the domain classifier says about `fake` (images in [-1, 1]), against the FashionMNIST test split,
    with gan-spec's names: domain_fid, domain_kid, ..., precision, recall, density, coverage, class scores."""
    fake = metrics.finite_cpu(fake)
    net = ref.domain_net()
    real = ref.fashion_real(fashion_folder, n_real, tuple(fake.shape[1:]))
    got = score(net, fake, real, ref, say)
    renamed = {"fid": "domain_fid", "kid": "domain_kid", "kid_std": "domain_kid_std", "fid_floor": "domain_fid_floor",
               "kid_floor": "domain_kid_floor"}
    return {"classifier_test_accuracy": net.accuracy, "classifier_sha256": net.identity,
            **{renamed.get(k, k): v for k, v in got.items()}}


def inception_net(weights: Path, say: Callable[[str], None] | None = None) -> features.InceptionNet:
    """torch-fidelity's InceptionV3 from `weights`, on the GPU when there is one (a wrong file: DataError)."""
    if say:
        say(f"loading torch-fidelity's InceptionV3 from {weights}")
    return features.InceptionNet(weights, "cuda" if torch.cuda.is_available() else "cpu")


def inception_evaluation(fake: torch.Tensor, net: features.InceptionNet, real: RealSet, ref: Reference,
                         say: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Standard Inception FID/KID/IS (torch-fidelity's InceptionV3) and the neighbour scores on its features."""
    if say:
        say(f"Inception features of {len(fake):,} generated images on {net.device} (299x299 each; slow on a CPU)")
    got = score(net, fake, real, ref, say)
    keep = {"real_inception_score", "inception_score", "inception_score_std"}
    return {"inception_weights_sha256": net.identity,
            **{k if k in keep else f"inception_{k}": v for k, v in got.items()
               if k not in ("real_set", "real_samples", "real_sharpness", "real_diversity_ms_ssim",
                            "real_structure_ms_ssim", "real_duplicate_share")}}


def domain_scores(fake: torch.Tensor, ref: Reference, *, fashion_folder: Path | None = None, n_real: int = N_REAL,
                  progress: bool = False) -> dict[str, float]:
    """The domain scores of generated FashionMNIST(-64) images in [-1, 1], without a run folder (per-epoch checks,
    the scorecard): domain FID/KID and their floor, precision/recall/density/coverage, class coverage and KL,
    confidence, sharpness and MS-SSIM diversity, with the real set's own values (`real_*`) beside them. The real
    side is prepared once (cached on disk and in `ref`); 2,000 images take a few seconds on a CPU."""
    fake = metrics.finite_cpu(fake)
    full = domain_evaluation(fake, ref, fashion_folder, n_real, say_on_stderr if progress else None)
    return {**metrics.image_scores(fake), **{k: v for k, v in full.items() if isinstance(v, (int, float))}}
