"""Every documented value of every spec file is what its excerpt of the report says (spec.facts), and the values
the issue found unprotected are now caught. A new spec file's facts are checked here with no new test."""

from __future__ import annotations

import dataclasses
import os
import random

import pytest

import spec
from conftest import reports_dir
from spec import code, facts

CLAIMS = [(c.spec, c.field) for c in facts.claims(spec.registry())]


@pytest.mark.parametrize("name,field", CLAIMS, ids=[f"{n}:{f}" for n, f in CLAIMS])
def test_fact_is_what_its_excerpt_says(name: str, field: str) -> None:
    """The value read back from its excerpt (always); the excerpt found verbatim in the report (when present)."""
    reg = spec.registry()
    texts = facts.report_texts(reports_dir())
    problems = facts.check(facts.claim(reg, name, field), reg, texts)
    assert not problems, f"{name}:{field}: " + "; ".join(problems)
    if texts is None:
        pytest.skip("value checked; the excerpt is not: the reports are not beside the checkout (GAN_SPEC_REPORTS)")


def test_every_documented_value_is_a_claim() -> None:
    """Nothing documented escapes the generic test: the experiments' facts and the networks' evidence."""
    reg = spec.registry()
    assert len(CLAIMS) >= 100
    for exp in reg.experiments.values():
        documented = {k for k, f in exp.facts().items() if f.documented}
        assert documented <= {f for n, f in CLAIMS if n == exp.name}, exp.name
    for net in reg.networks.values():
        assert {f"evidence[{i}]" for i in range(len(net.evidence))} <= {f for n, f in CLAIMS if n == net.name}


@pytest.mark.parametrize("text,expected", [
    ("batch size = 64, epoch = 51", [64, 51]), ("Adam(lr=1e-4, betas=(0.5,0.999))", [1e-4, 0.5, 0.999]),
    (r"$(\beta_1, \beta_2) = (0.5, 0.999)$", [0.5, 0.999]), ("训练三轮的损失曲线", [3]), ("共生成 15x8 张图", [15, 8]),
    ("WGAN将batch折半为32", [32]), ("Conv2d(3, 64", [3, 64]), ("第二十行", [20]), ("HW11 and r004", []),
])
def test_numbers_are_read_as_a_reader_would(text: str, expected: list[float]) -> None:
    assert facts.numbers(text) == expected


def _changed(exp: spec.ExperimentSpec, field: str, value: object) -> spec.ExperimentSpec:
    if field.startswith("optimizer."):
        key = field.split(".")[1]
        return dataclasses.replace(exp, optimizer={**exp.optimizer, key: dataclasses.replace(exp.optimizer[key],
                                                                                              value=value)})
    return dataclasses.replace(exp, **{field: dataclasses.replace(getattr(exp, field), value=value)})


@pytest.mark.parametrize("name,field,value", [
    ("r000-dcgan", "epochs", 50), ("r000-wgan", "optimizer.lr", 1e-3), ("r003-wgan", "clip_value", 0.02),
    ("r000-dcgan", "optimizer.betas", [0.5, 0.99]), ("r001-wgan", "n_critic", 4), ("r003-dcgan", "samples", 16),
    ("r001-dcgan", "loss", "wgan"), ("r003-wgan", "optimizer.name", "Adam"), ("r001-dcgan", "generator", "r000-wgan-g"),
    ("r001-wgan", "discriminator", "course-dcgan-d"), ("r003-dcgan", "dataset", "fashion-mnist"),
])
def test_wrong_experiment_values_are_caught(name: str, field: str, value: object) -> None:
    """The issue's unprotected hyperparameters (and their kind): each wrong value contradicts its excerpt."""
    reg = spec.registry()
    exp = _changed(reg.experiments[name], field, value)
    wrong = dataclasses.replace(reg, experiments={**reg.experiments, name: exp})
    assert facts.check(facts.claim(wrong, name, field), wrong), f"{name}.{field} = {value!r} passes"


def _module(net: spec.NetworkSpec, path: str, **args: object) -> spec.NetworkSpec:
    modules = tuple(dataclasses.replace(m, args={**m.args, **args}) if m.path == path else m for m in net.modules)
    return dataclasses.replace(net, modules=modules)


def _forward_swapped(net: spec.NetworkSpec, a: str, b: str) -> spec.NetworkSpec:
    steps = list(net.forward)
    i, j = (next(k for k, s in enumerate(steps) if s.label == x and (x != "relu" or k > 5)) for x in (a, b))
    steps[i], steps[j] = steps[j], steps[i]
    return dataclasses.replace(net, forward=tuple(steps))


@pytest.mark.parametrize("name,change", [
    ("r004-conv-g", lambda n: _module(n, "deconv1", kernel_size=5, padding=2)),
    ("r004-conv-g", lambda n: _module(n, "linear1", bias=False)),
    ("r004-conv-g", lambda n: _forward_swapped(n, "relu", "bn2")),
    ("r004-conv-d", lambda n: _module(n, "fc", bias=False)),
    ("r002-deeper-d", lambda n: _module(n, "2", kernel_size=5, padding=2)),
    ("r002-deeper-g", lambda n: _module(n, "3", stride=2)),
    ("tutorial-dcgan-d", lambda n: _module(n, "1", negative_slope=0.1)),
    ("tutorial-dcgan-g", lambda n: dataclasses.replace(n, symbols={**n.symbols, "ngf": dataclasses.replace(
        n.symbols["ngf"], value=32)})),
], ids=["deconv1-5x5", "linear1-no-bias", "bn2-before-relu", "fc-no-bias", "3x3-made-5x5", "stride", "slope", "ngf"])
def test_wrong_network_arguments_are_caught(name: str, change) -> None:
    """The issue's unprotected source-code arguments: the code excerpt, read argument by argument, disagrees."""
    net = spec.load(name)
    evidence = next(e for e in net.evidence if e.kind == "code")
    assert code.compare(net, evidence) == []
    assert code.compare(change(net), evidence), "the code excerpt does not notice"


def test_sampled_mutants_are_killed() -> None:
    """A few random documented values of spec/, each changed by `python -m tools.mutate`: all must be caught.
    The sample is fixed; $GAN_SPEC_MUTATION_SEED draws another (the full run: `python -m tools.mutate`)."""
    from tools import mutate

    chosen = [m for m in mutate.mutants(spec.SPEC_DIR) if not m.explained]
    sample = random.Random(int(os.environ.get("GAN_SPEC_MUTATION_SEED", "14"))).sample(chosen, 6)
    results = mutate.run(spec.SPEC_DIR, sample, reports_dir(), progress=False)
    survivors = [f"{r.mutant.file}:{r.mutant.field} {r.mutant.old!r} -> {r.mutant.new!r}" for r in results
                 if not r.killer]
    assert not survivors, "mutants no test catches:\n" + "\n".join(survivors)


def test_latent_study_defaults_are_the_spec_facts(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    """impl.latent's positions and values are r004-mlp's latent facts, and those are report 004's."""
    from impl import latent

    documented = spec.load("r004-mlp").latent
    assert documented.values.documented and documented.positions.status == "inferred"  # erratum e12
    seen = {}

    def fake_probe(run, positions, values, **kwargs):
        seen.update(positions=positions, values=values)
        return {"base_row_spread": 0.0, "rows": []}

    monkeypatch.setattr(latent, "probe", fake_probe)
    assert latent.main([str(tmp_path), "--quiet"]) == 0
    assert seen == {"positions": [0, 20, 40, 60, 80], "values": [1.0, 10.0, 100.0]}
    other = dataclasses.replace(documented, positions=dataclasses.replace(documented.positions, value=[1, 21]),
                                values=dataclasses.replace(documented.values, value=[7]))
    exp = dataclasses.replace(spec.load("r004-mlp"), latent=other)
    monkeypatch.setattr(spec, "load", lambda name: exp if name == "r004-mlp" else spec.registry().load(name))
    assert latent.main([str(tmp_path), "--quiet"]) == 0
    assert seen == {"positions": [1, 21], "values": [7.0]}, "impl.latent does not read its defaults from the spec"
