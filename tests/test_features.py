"""The feature networks: torch-fidelity's InceptionV3 loaded from a local file (offline, with random weights saved
by the test), the shipped FashionMNIST classifier, and the cache of real-set features."""

from __future__ import annotations

import pickle
import shutil
import socket
from pathlib import Path

import pytest
import torch

from impl import classifier as classifier_command
from impl.data.load import DataError, fashion_mnist
from impl.measure import domain_classifier as classifier
from impl.measure import features


@pytest.fixture(scope="module")
def inception_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """torch-fidelity's InceptionV3 architecture with random weights (BatchNorm scaled so activations neither
    vanish nor explode), saved as a state dict: the offline stand-in for the FID weights file."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    with pytest.MonkeyPatch.context() as mp:  # build the bare architecture: no weights to load, nothing to fetch
        mp.setattr(tfi, "load_state_dict_from_url", lambda *a, **k: {})
        mp.setattr(tfi.FeatureExtractorInceptionV3, "load_state_dict", lambda self, *a, **k: None)
        torch.manual_seed(0)
        net = tfi.FeatureExtractorInceptionV3("random", ["2048"])
    for module in net.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.weight.data.fill_(2.5)
    path = tmp_path_factory.mktemp("inception") / features.INCEPTION_FILE
    torch.save(net.state_dict(), path)
    return path


@pytest.fixture
def offline(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any attempt to reach the network fails the test."""
    import torch_fidelity.feature_extractor_inceptionv3 as tfi

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("tried to download or connect")

    monkeypatch.setattr(tfi, "load_state_dict_from_url", refuse)
    monkeypatch.setattr(socket.socket, "connect", refuse)


def test_inception_weights_load_from_the_named_file_offline(inception_file: Path, offline: None) -> None:
    from torchmetrics.image.fid import FrechetInceptionDistance

    net = features.InceptionNet(inception_file)
    assert net.identity == classifier.sha256(inception_file)
    images = torch.rand(2, 1, 28, 28, generator=torch.Generator().manual_seed(0)) * 2 - 1
    got = net.extract(images)
    assert got["features"].shape == (2, 2048) and got["logits"].shape == (2, 1008)
    assert got["features"].std(0).mean() > 1e-3, "random weights must give features that differ between images"
    # torchmetrics' own FID network built from the same file, fed the same uint8 images, gives the same features
    fid = FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(inception_file), antialias=False)
    theirs = fid.inception(features.to_uint8(images).expand(-1, 3, -1, -1))
    assert torch.allclose(got["features"], theirs, rtol=1e-4, atol=1e-5)


def write_pickle_with_code(path: Path) -> None:
    class Payload:
        def __reduce__(self) -> tuple:
            return (print, ("code ran",))

    path.write_bytes(pickle.dumps({"weight": Payload()}))


@pytest.mark.parametrize("case, why", [
    ("missing", "no such file"),
    ("garbage", "not a tensor-only PyTorch state dict"),
    ("code", "not a tensor-only PyTorch state dict"),
    ("torchvision-like", "its tensors do not fit torch-fidelity's InceptionV3"),
])
def test_a_wrong_inception_file_is_refused_in_one_line(tmp_path: Path, offline: None, case: str, why: str,
                                                       capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "weights.pth"
    if case == "garbage":
        path.write_bytes(b"not weights")
    elif case == "code":
        write_pickle_with_code(path)
    elif case == "torchvision-like":  # an ImageNet classifier's head: 1000 classes where FID's net has 1008
        torch.save({"fc.weight": torch.zeros(1000, 2048), "AuxLogits.fc.weight": torch.zeros(1000, 768)}, path)
    with pytest.raises(DataError) as err:
        features.load_inception(path)
    message = str(err.value)
    assert why in message and features.INCEPTION_FILE in message and features.INCEPTION_URL in message
    assert "\n" not in message and "code ran" not in capsys.readouterr().out


def test_the_shipped_classifier_is_the_expected_file() -> None:
    found = classifier.sha256(classifier.ASSET)
    assert found == classifier.SHIPPED_SHA256 == classifier.record()["sha256"]
    assert classifier.ASSET.stat().st_size < 4_000_000
    model, acc = classifier.load_classifier()
    assert acc >= classifier.MIN_ACCURACY and isinstance(model, classifier.FashionClassifier)


@pytest.mark.slow
def test_the_shipped_classifier_reaches_its_accuracy_on_the_real_test_split() -> None:
    try:
        test = fashion_mnist(None, "test")
    except DataError:
        pytest.skip("the real FashionMNIST test split is not installed")
    model, recorded = classifier.load_classifier()
    measured = classifier.accuracy(model, test)
    assert measured >= classifier.MIN_ACCURACY and measured == pytest.approx(recorded, abs=5e-4)


def test_a_changed_classifier_file_is_refused(tmp_path: Path) -> None:
    copy = tmp_path / "fashion-classifier.safetensors"
    shutil.copy(classifier.ASSET, copy)
    shutil.copy(classifier.ASSET.with_suffix(".json"), copy.with_suffix(".json"))
    assert classifier.load_classifier(copy)[1] >= 0.9
    data = bytearray(copy.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    with pytest.raises(DataError, match=r"sha256 .* is not the .* its record states"):
        classifier.load_classifier(copy)
    copy.with_suffix(".json").unlink()
    with pytest.raises(DataError, match=r"fashion-classifier.json: missing"):
        classifier.load_classifier(copy)


def test_retraining_rewrites_the_file_reproducibly(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    from tests.helpers import fake_fashion_split

    folder = fake_fashion_split(tmp_path / "fm")
    first = classifier.retrain(folder, tmp_path / "a.safetensors", progress=False)
    again = classifier.retrain(folder, tmp_path / "b.safetensors", progress=False)
    assert first["sha256"] == again["sha256"] == classifier.sha256(tmp_path / "a.safetensors")
    assert first["test_accuracy"] > 0.9, "the tiny set is separable; the recipe must learn it"
    assert classifier_command.main(["--out", str(tmp_path / "a.safetensors"), "--fashion", str(folder)]) == 0
    assert f"measured now {first['test_accuracy']:.2%}" in capsys.readouterr().out


def test_inception_weights_hub_takes_the_file_from_torch_hubs_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                                    capsys: pytest.CaptureFixture) -> None:
    """`--inception-weights hub` looks in $TORCH_HOME/hub/checkpoints for torch-fidelity's or pytorch-fid's name of
    the FID Inception file; an empty cache is one line naming the folder, both names and where to download."""
    import argparse

    from impl import evaluate

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    folder = tmp_path / "torch" / "hub" / "checkpoints"
    assert features.hub_checkpoints() == folder
    with pytest.raises(argparse.ArgumentTypeError, match="nor pt_inception-2015-12-05-6726825d.pth") as refused:
        features.weights_argument("hub")
    assert str(folder) in str(refused.value) and features.INCEPTION_URL in str(refused.value)
    with pytest.raises(SystemExit) as usage:
        evaluate.main([str(tmp_path / "run"), "--inception-weights", "hub"])
    assert usage.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1
    folder.mkdir(parents=True)
    (folder / "pt_inception-2015-12-05-6726825d.pth").write_bytes(b"")  # pytorch-fid's name
    assert features.weights_argument("hub") == folder / "pt_inception-2015-12-05-6726825d.pth"
    (folder / features.INCEPTION_FILE).write_bytes(b"")  # torch-fidelity's name comes first
    assert features.weights_argument("hub") == folder / features.INCEPTION_FILE
    assert features.weights_argument("my.pth") == Path("my.pth")


def test_every_help_names_the_same_inception_file() -> None:
    from impl import evaluate, reproduce

    texts = ["".join(cli_help(module).split()) for module in (evaluate, reproduce)]  # argparse wraps at hyphens too
    assert all("".join(features.WEIGHTS_HELP.split()) in text for text in texts)


def cli_help(module: object) -> str:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), pytest.raises(SystemExit):
        module.main(["--help"])
    return out.getvalue()
