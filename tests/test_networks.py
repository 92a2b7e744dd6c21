"""Generic checks of every network spec against what its reports document. A new spec file gets them all."""

from __future__ import annotations

import pytest
import torch
import torchinfo
from hypothesis import given, settings
from hypothesis import strategies as st

import impl
import spec
from impl.networks.printout import compare
from impl.networks.tables import measure, parse_documented

NETWORKS = spec.names("network")


def evidence_of(kind: str) -> list[tuple[str, int]]:
    return [(n, i) for n in NETWORKS for i, e in enumerate(spec.load(n).evidence) if e.kind == kind]


@pytest.mark.parametrize("name,index", evidence_of("summary"))
def test_documented_table_equals_torchinfo(name: str, index: int) -> None:
    """Every documented row (type, output shape, params), in order, and the totals equal torchinfo's leaf rows."""
    net = spec.load(name)
    doc = parse_documented(net.evidence[index].text)
    info = torchinfo.summary(impl.build(name), input_size=(2, *net.input), verbose=0, device="cpu")
    leaves = [layer for layer in info.summary_list if layer.is_leaf_layer and layer.executed]
    actual = [(f"{layer.class_name}-{i + 1}", [-1, *layer.output_size[1:]], layer.num_params)
              for i, layer in enumerate(leaves)]
    problems = [f"row {i + 1}: report {d} != built {a}" for i, (d, a) in enumerate(zip(doc["rows"], actual)) if d != a]
    if len(doc["rows"]) != len(actual):
        problems.append(f"report has {len(doc['rows'])} rows, built network {len(actual)}")
    for key, value in (("total", info.total_params), ("trainable", info.trainable_params),
                       ("non-trainable", info.total_params - info.trainable_params)):
        if doc.get(key) != value:
            problems.append(f"{key} params: report {doc.get(key)} != built {value}")
    assert not problems, f"{name} vs {net.evidence[index].source}:\n" + "\n".join(problems)


@pytest.mark.parametrize("name,index", evidence_of("summary"))
def test_documented_sizes_in_mb(name: str, index: int) -> None:
    """Report 000's Input / Forward-backward / Params / Total MB lines, by torchsummary's formulas."""
    net = spec.load(name)
    doc = parse_documented(net.evidence[index].text)
    lines = dict(line.split(": ") for line in measure(impl.build(name), net.input).size_lines())
    documented = {f"{k} (MB)": f"{v:0.2f}" for k, v in doc["sizes"].items()}
    assert len(documented) == 4 and lines == documented


@pytest.mark.parametrize("name,index", evidence_of("printout"))
def test_printout_equals_print_model(name: str, index: int) -> None:
    evidence = spec.load(name).evidence[index]
    result = compare(evidence, repr(impl.build(name)))
    assert result.ok, f"{name} vs {evidence.source}: {result.problem}"


# Code excerpts are compared with the spec argument by argument (and in forward order) by tests/test_facts.py.


@pytest.mark.parametrize("name", NETWORKS)
def test_load_time_shapes_equal_torch(name: str) -> None:
    """The pure-Python shape inference used to validate specs agrees with torch at every forward step."""
    net = spec.load(name)
    trace = impl.build(name).eval().trace(torch.rand(2, *net.input))
    assert [tuple(y.shape[1:]) for _, _, y in trace] == list(net.shapes)


@pytest.mark.parametrize("name", [n for n in NETWORKS if any(m.shape for m in spec.load(n).modules)])
def test_documented_module_shapes(name: str) -> None:
    """Shapes a report states for a layer (tables, 'state size' comments) are what the layer outputs."""
    net = spec.load(name)
    trace = impl.build(name).eval().trace(torch.rand(2, *net.input))
    out = {step.module: tuple(y.shape[1:]) for step, _, y in trace if step.module}
    wrong = {m.path: (m.shape, out[m.path]) for m in net.modules if m.shape and out[m.path] != m.shape}
    assert not wrong, f"documented vs built: {wrong}"


@pytest.mark.parametrize("name", NETWORKS)
@settings(max_examples=4, deadline=None)
@given(batch=st.integers(min_value=2, max_value=9))
def test_forward_any_batch(name: str, batch: int) -> None:
    """Output shape for any batch >= 2, range of a Tanh / Sigmoid output, finite values, every parameter trained."""
    net = spec.load(name)
    model = impl.build(name)
    torch.manual_seed(batch)
    y = model(torch.randn(batch, *net.input))
    assert tuple(y.shape) == (batch, *net.output)
    assert torch.isfinite(y).all()
    last = net.forward[-1]
    kind = last.op or net.module(last.module).type.lower()
    if kind == "tanh":
        assert y.abs().max() <= 1
    if kind == "sigmoid":
        assert ((y >= 0) & (y <= 1)).all()
    y.square().mean().backward()
    untouched = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not untouched, f"no finite gradient for {untouched}"


@pytest.mark.parametrize("name", NETWORKS)
def test_every_fact_is_traceable(name: str) -> None:
    net = spec.load(name)
    for m in net.modules:
        assert m.source and m.status in spec.fields.STATUSES
    for step in net.forward:
        assert step.source and (step.status == "documented" or step.note)
    assert net.init.source
    for ev in net.evidence:
        assert "```" not in ev.text, f"{ev.source}: evidence must be the excerpt only, without Markdown fences"


@pytest.mark.parametrize("name", NETWORKS)
def test_load_time_sizes_equal_torch(name: str) -> None:
    """The parameter and activation counts the size budget uses at load are what torch allocates and computes."""
    net = spec.load(name)
    model = impl.build(name).eval()
    assert net.parameters == sum(p.numel() for p in model.parameters())
    trace = model.trace(torch.rand(2, *net.input))
    assert net.activations == sum(y[0].numel() for _, _, y in trace)


def test_print_shows_documented_class_names() -> None:
    assert repr(impl.build("course-dcgan-g")).startswith("Generator(\n  (l1): Sequential(")
    assert repr(impl.build("tutorial-dcgan-d")).startswith("Sequential(\n  (0): Conv2d(3, 64")


def test_logits_skip_only_a_final_sigmoid() -> None:
    torch.manual_seed(0)
    d = impl.build("course-dcgan-d").eval()
    x = torch.randn(3, 3, 64, 64)
    assert torch.allclose(torch.sigmoid(d.logits(x)), d(x), atol=1e-6)
    critic = impl.build("course-wgan-d").eval()
    assert torch.equal(critic.logits(x), critic(x))


def test_dcgan_init_statistics() -> None:
    torch.manual_seed(0)
    g = impl.build("tutorial-dcgan-g")
    w = g.get_submodule("3").weight
    bn = g.get_submodule("1")
    assert abs(w.std().item() - 0.02) < 0.002 and abs(w.mean().item()) < 0.002
    assert abs(bn.weight.mean().item() - 1) < 0.01 and bn.bias.abs().max() == 0
