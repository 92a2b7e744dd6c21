"""Every erratum in spec/errata.toml is proven by its machine check, and its quotes are really in the report."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch import nn

import impl
import spec
from impl.printout import compare

ERRATA = {e.id: e for e in spec.errata()}


def prove_printout(check: dict) -> None:
    for name, index in check["cases"]:
        evidence = spec.load(name).evidence[index]
        model = repr(impl.build(name))
        assert evidence.fixes, f"{name}: a garbled printout must record its repairs"
        assert compare(evidence, model).ok, f"{name}: repaired printout differs from print(model)"
        raw = dataclasses.replace(evidence, fixes=())
        assert not compare(raw, model).ok, f"{name}: the printout is not garbled after all"


def prove_steps_per_epoch(check: dict) -> None:
    reg = spec.registry()
    per_epoch = set()
    for name in check["experiments"]:
        exp = reg.experiments[name]
        images = reg.datasets[exp.dataset.value].images.value
        stated = exp.stated_steps.value / exp.epochs.value
        assert stated != math.ceil(images / exp.batch_size.value), f"{name}: stated steps fit the data after all"
        per_epoch.add(stated)
    assert per_epoch == {801.0}


def prove_bce_saturation(check: dict) -> None:
    bce = nn.BCELoss()
    wrong = bce(torch.zeros(64), torch.ones(64))  # certain that every real image is fake
    assert wrong.item() == check["ceiling"]
    assert bce(torch.full((64,), 0.5), torch.ones(64)).item() == pytest.approx(math.log(2))


def prove_head_activation(check: dict) -> None:
    torch.manual_seed(0)
    critic = impl.build(check["network"]).eval()
    trace = critic.trace(torch.randn(256, *critic.spec.input))
    step, before, after = trace[-1]
    assert type(critic.get_submodule(step.module)).__name__ == check["type"]
    negative = before < 0
    assert negative.any() and (~negative).any()
    assert torch.allclose(after[negative], check["negative_slope"] * before[negative])
    assert torch.equal(after[~negative], before[~negative])


def prove_output_shape(check: dict) -> None:
    reg = spec.registry()
    data = reg.datasets[check["dataset"]].shape
    for name, expected in ((check["network"], tuple(check["actual"])), (check["fixed"], data)):
        net = reg.networks[name]
        out = impl.build(name).eval()(torch.randn(2, *net.input))
        assert tuple(out.shape[1:]) == expected, name
    assert tuple(check["actual"]) != data


def prove_forward_op(check: dict) -> None:
    torch.manual_seed(0)
    model = impl.build(check["network"]).eval()
    trace = model.trace(torch.randn(8, *model.spec.input))
    labels = [step.label for step, _, _ in trace]
    seq = check["sequence"]
    assert any(labels[i:i + len(seq)] == seq for i in range(len(labels))), f"{seq} not consecutive in {labels}"
    if "negative_slope" in check:
        for step, before, after in trace:
            if step.op == "leaky_relu":
                negative = before < 0
                assert torch.allclose(after[negative], check["negative_slope"] * before[negative])


PROOFS = {"printout": prove_printout, "steps_per_epoch": prove_steps_per_epoch, "bce_saturation": prove_bce_saturation,
          "head_activation": prove_head_activation, "output_shape": prove_output_shape,
          "forward_op": prove_forward_op, "quotes": lambda check: None}


@pytest.mark.parametrize("erratum_id", sorted(ERRATA))
def test_erratum_is_proven(erratum_id: str) -> None:
    erratum = ERRATA[erratum_id]
    PROOFS[erratum.check["kind"]](erratum.check)


@pytest.mark.parametrize("erratum_id", sorted(ERRATA))
def test_erratum_quotes_are_verbatim(erratum_id: str, reports) -> None:
    erratum = ERRATA[erratum_id]
    files = list(reports.glob(f"{erratum.report}_*.txt"))
    assert len(files) == 1, f"report {erratum.report} not found in {reports}"
    text = files[0].read_text(encoding="utf-8")
    missing = [q for q in erratum.quotes if q not in text]
    assert not missing, f"not in report {erratum.report}: {missing}"
    if erratum.check["kind"] == "quotes":  # a contradiction needs both sides, or one quote plus what it omits
        assert erratum.said and erratum.truth and erratum.how


def test_every_check_kind_has_a_proof() -> None:
    assert set(PROOFS) == set(spec.experiment.CHECKS)


def test_evidence_from_reports_is_verbatim(reports) -> None:
    """Every evidence excerpt in spec/networks is copied from its report character for character."""
    texts = {f.name[:3]: f.read_text(encoding="utf-8") for f in reports.glob("*.txt")}
    missing = []
    for name in spec.names("network"):
        for ev in spec.load(name).evidence:
            for line in ev.text.splitlines():
                if line.strip() and line not in texts[ev.source[:3]]:
                    missing.append(f"{name} ({ev.source}): {line!r}")
    assert not missing, "\n".join(missing[:10])
