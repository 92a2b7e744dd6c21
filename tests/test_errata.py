"""Every erratum in spec/errata.toml is proven by its machine check, and its quotes are really in the report.

A proof computes something from the spec (values whose excerpts tests/test_facts.py checks) and from the
report's own words (the erratum's verbatim quotes) that would come out otherwise if the erratum were not true.
"""

from __future__ import annotations

import dataclasses
import difflib
import math
import re

import pytest
import torch
from torch import nn

import impl
import spec
from conftest import reports_dir
from impl.networks.printout import compare
from impl.networks.tables import DEFAULT_WIDTHS, measure, parse_documented
from impl.training import losses
from spec import code
from spec.facts import numbers, report_texts

ERRATA = {e.id: e for e in spec.errata()}


def quoted(erratum: spec.Erratum, words: str) -> str:
    """`words` of a check, which must stand in one of the erratum's quotes (so they are checked verbatim)."""
    assert any(words in q for q in erratum.quotes), f"{words!r} is in none of the erratum's quotes"
    return words


def _cases_hold_the_quotes(erratum: spec.Erratum, check: dict) -> None:
    """Each case is an excerpt of the erratum's report holding one of its quotes, and every quote is in a case."""
    texts = [spec.load(name).evidence[index] for name, index in check["cases"]]
    for ev in texts:
        assert ev.source.startswith(erratum.report), f"{ev.source}: not report {erratum.report}"
        assert any(q in ev.text for q in erratum.quotes), f"{ev.source}: holds none of the erratum's quotes"
    assert all(any(q in ev.text for ev in texts) for q in erratum.quotes), "a quote is in none of the cases"


def prove_printout(erratum: spec.Erratum, check: dict) -> None:
    _cases_hold_the_quotes(erratum, check)
    for name, index in check["cases"]:
        evidence = spec.load(name).evidence[index]
        model = repr(impl.build(name))
        assert evidence.fixes, f"{name}: a garbled printout must record its repairs"
        assert compare(evidence, model).ok, f"{name}: repaired printout differs from print(model)"
        raw = dataclasses.replace(evidence, fixes=())
        assert not compare(raw, model).ok, f"{name}: the printout is not garbled after all"


def prove_code(erratum: spec.Erratum, check: dict) -> None:
    _cases_hold_the_quotes(erratum, check)
    for name, index in check["cases"]:
        net = spec.load(name)
        evidence = net.evidence[index]
        assert evidence.kind == "code" and evidence.fixes, f"{name}: a garbled code excerpt must record its repairs"
        assert code.compare(net, evidence) == [], f"{name}: the repaired code differs from the spec"
        assert code.compare(net, dataclasses.replace(evidence, fixes=())), f"{name}: the code reads without repairs"


def prove_steps_per_epoch(erratum: spec.Erratum, check: dict) -> None:
    reg = spec.registry()
    per_epoch = set()
    for name in check["experiments"]:
        exp = reg.experiments[name]
        images = reg.datasets[exp.dataset.value].images.value
        stated = exp.stated_steps.value / exp.epochs.value
        assert stated != math.ceil(images / exp.batch_size.value), f"{name}: stated steps fit the data after all"
        per_epoch.add(stated)
    assert per_epoch == {801.0}


def prove_bce_saturation(erratum: spec.Erratum, check: dict) -> None:
    """The report's peak is what BCELoss gives a discriminator certain and wrong on a whole batch of one kind."""
    exp = spec.load(check["experiment"])
    [peak] = numbers(quoted(erratum, check["peak"]))
    assert exp.loss.value == "bce"
    n, bce = exp.batch_size.value, nn.BCELoss()

    def d_loss(on_real: float, on_fake: float) -> float:
        terms = bce(torch.full((n,), on_real), torch.ones(n)) + bce(torch.full((n,), on_fake), torch.zeros(n))
        return terms.item() / (2 if exp.d_loss.value == "mean" else 1)

    confused = d_loss(0.5, 0.5)
    assert confused == pytest.approx(2 * math.log(2) / (2 if exp.d_loss.value == "mean" else 1))
    assert peak > 50 * confused, "the reported peak is near what a discriminator that cannot tell would score"
    certain_wrong = {"on fakes": d_loss(1.0, 1.0), "on reals": d_loss(0.0, 0.0)}
    assert certain_wrong["on fakes"] == certain_wrong["on reals"] == pytest.approx(peak, rel=0.05), \
        f"a discriminator certain and wrong on one kind scores {certain_wrong}, the report says {peak}"


def prove_head_activation(erratum: spec.Erratum, check: dict) -> None:
    torch.manual_seed(0)
    critic = impl.build(check["network"]).eval()
    trace = critic.trace(torch.randn(256, *critic.spec.input))
    step, before, after = trace[-1]
    assert type(critic.get_submodule(step.module)).__name__ == check["type"]
    negative = before < 0
    assert negative.any() and (~negative).any()
    assert torch.allclose(after[negative], check["negative_slope"] * before[negative])
    assert torch.equal(after[~negative], before[~negative])


def prove_output_shape(erratum: spec.Erratum, check: dict) -> None:
    reg = spec.registry()
    data = reg.datasets[check["dataset"]].shape
    for name, expected in ((check["network"], tuple(check["actual"])), (check["fixed"], data)):
        net = reg.networks[name]
        out = impl.build(name).eval()(torch.randn(2, *net.input))
        assert tuple(out.shape[1:]) == expected, name
    assert tuple(check["actual"]) != data


def prove_forward_op(erratum: spec.Erratum, check: dict) -> None:
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


def prove_baseline_named(erratum: spec.Erratum, check: dict) -> None:
    """The run the conclusion calls the baseline is not the run it names."""
    [named] = re.findall(r"baseline\((\w+)\)", quoted(erratum, check["named"]))
    [halved] = numbers(quoted(erratum, check["halved"]))
    runs = [e for e in spec.registry().experiments.values() if e.report == check["report"] and not e.addition]
    baseline = [e.name for e in runs if e.batch_size.value == 2 * halved]
    called = [e.name for e in runs if e.loss.value == named.lower()]
    assert len(baseline) == 1 and len(called) == 1, (baseline, called)
    assert spec.load(called[0]).batch_size.value == halved, "the run named in the conclusion is the halved one"
    assert baseline != called, f"the baseline {baseline} is the run named {named} after all"


def prove_unstated(erratum: spec.Erratum, check: dict) -> None:
    """The report uses none of the words the other reports use for the values, and the spec does not pretend
    it states them."""
    exp = spec.load(check["experiment"])
    for field in check["fields"]:
        assert not getattr(exp, field).documented, f"{exp.name}.{field} is marked documented"
    if "note" in check:
        assert all(check["note"] in getattr(exp, f).note for f in check["fields"]), "the note does not say why"
    texts = report_texts(reports_dir())
    if texts is None:
        pytest.skip("the reports are not beside the checkout: their words are not checked")
    said = [w for w in check["words"] if w in texts[erratum.report].lower()]
    assert not said, f"report {erratum.report} does use {said}"
    unused = [w for w in check["words"] if not any(w in t.lower() for r, t in texts.items() if r != erratum.report)]
    assert not unused, f"no other report uses {unused}: not evidence of what a report would say"


def prove_latent_rows(erratum: spec.Erratum, check: dict) -> None:
    latent = spec.load(check["experiment"]).latent
    [spacing] = numbers(quoted(erratum, check["spacing"]))
    rows = [numbers(quoted(erratum, row)) for row in check["rows"]]
    assert all(len(r) == 1 for r in rows), rows
    (first,), (second,) = rows
    assert spacing == latent.spacing.value
    assert second - first != spacing, "the rows are as far apart as the report says"
    positions = latent.positions.value
    assert positions[0] == first - 1 and all(b - a == spacing for a, b in zip(positions, positions[1:]))
    assert second - 1 not in positions, "gan-spec follows the rows, not the stated spacing"


def prove_printout_mixes(erratum: spec.Erratum, check: dict) -> None:
    line = quoted(erratum, check["line"])
    printed = spec.load(check["printed"])
    assert any(line in ev.text for ev in printed.evidence), f"the line is not in {printed.name}'s printout"
    channels, settings = re.match(r"\(\d+\): Conv2d\(([\d, ]+), (kernel_size=.*)$", line).groups()
    digits = channels.replace(",", "").replace(" ", "")

    def fits(name: str) -> tuple[bool, bool]:
        layer = repr(impl.build(name).get_submodule(check["module"]))
        own = re.match(r"Conv2d\(([\d, ]+), kernel_size", layer)[1].replace(",", "").replace(" ", "")
        it = iter(own)
        return settings in layer, all(d in it for d in digits)

    assert fits(check["modified"]) == (True, True)
    assert fits(check["printed"]) == (False, False)
    if "also" in check:  # the original's own module with the same settings: the line may be a misplaced copy of it
        layer = repr(impl.build(check["printed"]).get_submodule(check["also"]))
        assert settings in layer, f"{check['printed']}'s module {check['also']} does not have the line's settings"


def prove_comment_marks(erratum: spec.Erratum, check: dict) -> None:
    """Align the original's and the modified code's layers by channels: what does the comment stand above?"""
    comment = quoted(erratum, check["comment"])
    for original, modified, expected in check["pairs"]:
        layers = {}
        for name in (original, modified):
            net = spec.load(name)
            ev = next(e for e in net.evidence if e.kind == "code")
            layers[name] = code.read_code(ev.text, {k: f.value for k, f in net.symbols.items()}).layers
            if name == modified:
                before = ev.text.split(comment)[0]
                marked = len(code.read_code(before, {k: f.value for k, f in net.symbols.items()}).layers)
        convs = {n: [(i, a["in_channels"], a["out_channels"]) for i, (_, kind, a) in enumerate(ls) if "Conv" in kind]
                 for n, ls in layers.items()}
        pairs = {n: [c[1:] for c in cs] for n, cs in convs.items()}
        matcher = difflib.SequenceMatcher(a=pairs[original], b=pairs[modified], autojunk=False)
        inserted = [convs[modified][j][0] for tag, _, _, j1, j2 in matcher.get_opcodes() if tag == "insert"
                    for j in range(j1, j2)]
        assert len(inserted) == 1, f"{modified}: {len(inserted)} inserted convolutions"
        starts = [c[0] for c in convs[modified]]
        assert marked in starts, f"{modified}: the comment does not stand above a convolution"
        found = "inserted" if marked in inserted else "replaced"
        assert found == expected, f"{modified}: the comment marks a {found} layer"
        if found == "replaced":  # same channels as one of the original's convolutions, other settings
            wanted = list(pairs[modified][starts.index(marked)])
            twin = next(i for i, *channels in convs[original] if channels == wanted)
            assert layers[original][twin][2] != layers[modified][marked][2], "the commented layer is the original's"


def prove_losses_added(erratum: spec.Erratum, check: dict) -> None:
    """Minimising D's loss + G's loss as one: D's best score for a fake is not 0 (nor anything a GAN wants)."""
    exp = spec.load(check["experiment"])
    assert exp.loss.value == "bce"
    fake = torch.linspace(-12, 12, 4801)
    real = torch.full((1,), 12.0)
    d_alone = torch.stack([losses.bce_d(real, f[None], exp.d_loss.value) for f in fake])
    summed = d_alone + torch.stack([losses.bce_g(f[None]) for f in fake])
    best_alone, best_summed = torch.sigmoid(fake[d_alone.argmin()]), torch.sigmoid(fake[summed.argmin()])
    assert best_alone < 0.01, "D's own loss wants fakes scored 0"
    expected = 2 / 3 if exp.d_loss.value == "mean" else 1 / 2
    assert best_summed.item() == pytest.approx(expected, abs=0.01), f"the summed loss wants fakes at {best_summed}"


def prove_mitigation_reverts(erratum: spec.Erratum, check: dict) -> None:
    collapse, original = spec.load(check["collapse"]), spec.load(check["original"])
    old, new = numbers(quoted(erratum, check["change"]))
    assert old == collapse.clip_value.value and new == original.clip_value.value
    mitigated = {k: f.value for k, f in dataclasses.replace(collapse, clip_value=dataclasses.replace(
        collapse.clip_value, value=new)).facts().items() if k != "outcome"}
    assert mitigated == {k: f.value for k, f in original.facts().items() if k != "outcome"}


def prove_table_layout(erratum: spec.Erratum, check: dict) -> None:
    native_rule = sum(DEFAULT_WIDTHS) + 1  # torchsummary: "-" * 64 around "{:>20}  {:>25} {:>15}" rows
    for name in check["networks"]:
        net = spec.load(name)
        ev = next(e for e in net.evidence if e.kind == "summary")
        rules = {len(line) for line in ev.text.splitlines() if line and set(line) <= set("-=")}
        assert rules == {check["rule"]} and check["rule"] != native_rule, (name, rules)
        table = measure(impl.build(name).eval(), net.input)
        lines = ev.text.strip("\n").splitlines()
        assert table.render().splitlines() != lines, "torchsummary's own layout is the report's"
        table.widths = parse_documented(ev.text)["widths"]
        assert table.render().splitlines() == lines, "the report's widths do not reproduce its table"


def prove_layer_claims(erratum: spec.Erratum, check: dict) -> None:
    """'Every layer' grows (shrinks) the maps and lowers (raises) the channels: find the layers that do not."""
    for name, kind, direction in check["cases"]:
        net = spec.load(name)
        ins = {s.module: shape for s, shape in zip(net.forward, (net.input, *net.shapes))}
        outs = {s.module: shape for s, shape in zip(net.forward, net.shapes)}
        layers = [m for m in net.modules if m.type == kind]
        sign = {"grow": 1, "shrink": -1}[direction]
        sizes_ok = all(sign * (outs[m.path][1] - ins[m.path][1]) > 0 for m in layers)
        against = [m.path for m in layers if sign * (m.args["out_channels"] - m.args["in_channels"]) >= 0]
        assert sizes_ok, f"{name}: not every {kind} changes the map size as the report says"
        assert against == [layers[0 if direction == "grow" else -1].path], f"{name}: channels against the claim"


def prove_text_contradicts(erratum: spec.Erratum, check: dict) -> None:
    """A contradiction between the report's own sentences (or its sentences and its documented setups or tables):
    each quoted sentence says the word the erratum reads in it, and where a number, a count of setups, of modules
    or of parameters is involved, the spec has it."""
    for sentence, word in check["pairs"]:
        assert word in quoted(erratum, sentence), f"{sentence!r} does not say {word!r}"
    if "field" in check:  # the stated number is the documented one (the epoch after it does not exist)
        stated = numbers(next(w for s, w in check["pairs"] if any(c.isdigit() for c in w)))[0]
        assert getattr(spec.load(check["experiment"]), check["field"]).value == stated
    if "runs" in check:  # the setups the report documents: fewer than 'many'
        documented = [n for n in spec.names("experiment") if spec.load(n).report == check["report"]
                      and not spec.load(n).addition]
        assert len(documented) == check["runs"], documented
    for name, kind, count in check.get("modules", []):  # the networks the report's own tables document
        found = sum(m.type == kind for m in spec.load(name).modules)
        assert found == count, f"{name}: {found} {kind} modules, not {count}"
    for name, total in check.get("params", []):
        assert spec.load(name).parameters == total, f"{name}: not {total:,} parameters"


PROOFS = {"printout": prove_printout, "code": prove_code, "steps_per_epoch": prove_steps_per_epoch,
          "bce_saturation": prove_bce_saturation, "head_activation": prove_head_activation,
          "output_shape": prove_output_shape, "forward_op": prove_forward_op, "baseline_named": prove_baseline_named,
          "unstated": prove_unstated, "latent_rows": prove_latent_rows, "printout_mixes": prove_printout_mixes,
          "comment_marks": prove_comment_marks, "losses_added": prove_losses_added,
          "mitigation_reverts": prove_mitigation_reverts, "table_layout": prove_table_layout,
          "layer_claims": prove_layer_claims, "text_contradicts": prove_text_contradicts}


@pytest.mark.parametrize("erratum_id", sorted(ERRATA))
def test_erratum_is_proven(erratum_id: str) -> None:
    erratum = ERRATA[erratum_id]
    PROOFS[erratum.check["kind"]](erratum, erratum.check)


@pytest.mark.parametrize("erratum_id", sorted(ERRATA))
def test_erratum_quotes_are_verbatim(erratum_id: str, reports) -> None:
    erratum = ERRATA[erratum_id]
    files = list(reports.glob(f"{erratum.report}_*.txt"))
    assert len(files) == 1, f"report {erratum.report} not found in {reports}"
    text = files[0].read_text(encoding="utf-8")
    missing = [q for q in erratum.quotes if q not in text]
    assert not missing, f"not in report {erratum.report}: {missing}"
    assert erratum.said and erratum.truth and erratum.how


def test_every_check_kind_has_a_proof() -> None:
    assert set(PROOFS) == set(spec.experiment.CHECKS)


def test_errata_ids_are_numbered_in_order() -> None:
    ids = [e.id for e in spec.errata()]
    assert [int(i[1:3]) for i in ids] == list(range(1, len(ids) + 1))
    assert all(i.split("-")[1] == e.report for i, e in zip(ids, spec.errata()))


def test_errata_table_lists_every_erratum() -> None:
    """docs/errata.md has one row per erratum, in order, for the report it names."""
    from pathlib import Path

    rows = re.findall(r"^\| (e\d\d) \| (\d{3}) \|", (Path(__file__).parent.parent / "docs/errata.md").read_text(
        encoding="utf-8"), re.M)
    assert rows == [(e.id[:3], e.report) for e in spec.errata()]
