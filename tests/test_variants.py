"""gan-spec's network variants (report 003's allowed alternatives) are what their spec says they are."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import impl
import spec
from spec import SPEC_DIR, SpecError, load_registry

VARIANTS = [n for n in spec.names("network") if spec.load(n).addition]
ADDED = [n for n in spec.names("experiment") if spec.load(n).addition]


def test_variants_and_additions_exist() -> None:
    assert set(VARIANTS) == {"course-wgangp-d", "course-sngan-d", "r004-conv-critic", "r004-wgangp-d", "r004-sngan-d"}
    assert {spec.load(n).loss.value for n in ADDED} == {"wgan-gp", "lsgan", "hinge", "wgan"}  # wgan: r004-wgan


@pytest.mark.parametrize("name", ADDED)
def test_additions_are_marked_as_such(name: str) -> None:
    exp = spec.load(name)
    assert all(f.status == "addition" and f.note for f in exp.facts().values())


@pytest.mark.parametrize("name", VARIANTS)
def test_variant_changes_are_marked_and_critics_are_linear(name: str) -> None:
    net = spec.load(name)
    model = impl.build(name)
    assert not model.ends_with_sigmoid
    changed = [m for m in net.modules if m.spectral_norm or m.type == "LayerNorm"]
    assert all(m.status == "addition" and m.note for m in changed)
    base = spec.load(name.replace("-critic", "-d").replace("wgangp", "dcgan").replace("sngan", "dcgan")
                     .replace("r004-dcgan-d", "r004-conv-d"))
    assert net.evidence == () and base.evidence != ()


@pytest.mark.parametrize("name", ["course-wgangp-d", "r004-wgangp-d"])
def test_gradient_penalty_critic_has_no_batch_coupling(name: str) -> None:
    """With no batch norm, a sample's score does not depend on the rest of the batch (the penalty needs that)."""
    model = impl.build(name).train()
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())
    x = torch.randn(6, *spec.load(name).input)
    assert torch.allclose(model(x)[:3], model(x[:3]), atol=1e-5)


@pytest.mark.parametrize("name", ["course-sngan-d", "r004-sngan-d"])
def test_spectral_norm_bounds_every_layer(name: str) -> None:
    torch.manual_seed(0)
    model = impl.build(name).train()
    for _ in range(30):  # power iterations run in training forward passes
        model(torch.randn(4, *spec.load(name).input))
    weighted = [m for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]
    assert weighted
    for layer in weighted:
        sigma = torch.linalg.matrix_norm(layer.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=0.05)


def tree(root: Path, variant: str) -> Path:
    (root / "networks").mkdir(parents=True)
    shutil.copy(SPEC_DIR / "networks/r004-conv-d.toml", root / "networks")
    (root / "networks/v.toml").write_text(variant, encoding="utf-8")
    return root


@pytest.mark.parametrize("body,message", [
    ('drop = ["sigmod"]', r"drop\[0\]: 'sigmod' is neither a module nor a forward op of r004-conv-d "
                          r"\(did you mean 'sigmoid'\?\)"),
    ('replace = [{path = "bn9", type = "Identity"}]', r"replace\[0\]\.path: no module 'bn9'"),
    ('spectral_norm = ["fc9"]', r"spectral_norm: no module 'fc9'"),
    ('spectral_norm = true', r"spectral_norm: expected \"all\" or a list"),
    ('spectral_norm = [["fc"]]', r"spectral_norm: expected \"all\" or a list of module paths, got \[\['fc'\]\]"),
    ('drop = 0', r"drop: expected a list of module paths or forward op names, got 0"),
    ('replace = [{path = ["bn1"]}]', r"replace\[0\]\.path: no module \['bn1'\]"),
    ('forward = ["conv1"]', r"v\.toml:forward: a variant \(base = \.\.\.\) takes its base's forward"),
])
def test_broken_variant_is_named(tmp_path: Path, body: str, message: str) -> None:
    head = 'base = "r004-conv-d"\nname = "v"\ntitle = "t"\nstatus = "addition"\nsource = "test"\n'
    with pytest.raises(SpecError, match=message):
        load_registry(tree(tmp_path, head + body + "\n"))
