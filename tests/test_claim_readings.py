"""The claims read as their reports' errata and references say: each claim that cites an erratum reads it as the
erratum does, every threshold names its reference, every comparison its minimum effect, and corrected readings stay
corrected."""

from __future__ import annotations

import math

import pytest

import spec
from impl.verdicts import decide as V

CLAIMS = {c.id: c for c in spec.claims()}

ERRATA = {e.id: e for e in spec.errata()}


def _e10(c: spec.ClaimSpec) -> bool:
    """e10: 'the WGAN did not get better results than the baseline DCGAN': the WGAN is the arm held not better; and
    'compared with the baseline, the WGAN ...' compares the WGAN (a) with the DCGAN (b)."""
    truth = "the WGAN did not get better results than the baseline DCGAN"
    sides = c.arms[c.rule.a].experiment == "r000-wgan" and c.arms[c.rule.b].experiment == "r000-dcgan"
    if c.rule.kind == "compare":
        return "相比baseline，WGAN一切设定从简" in ERRATA["e10-000-baseline-called-wgan"].quotes and sides
    return truth in ERRATA["e10-000-baseline-called-wgan"].truth and c.rule.kind == "not_better" and sides


def _e22(c: spec.ClaimSpec) -> bool:
    """e22: the epoch after task 1's figure cannot be located, so the breakdown is an event at any epoch: the
    largest rise over all consecutive epochs, not the value at one epoch."""
    return "an event anywhere in training" in ERRATA["e22-000-epoch-after-the-last"].truth \
        and c.rule.kind == "event" and c.measure.kind == "epoch_series" and c.measure.reduce == "max_rel_rise"


def _e23(c: spec.ClaimSpec) -> bool:
    """e23: the report documents one modification, so 'many experiments' is tested on the documented pair only."""
    return "can test only the documented pair" in ERRATA["e23-002-many-experiments"].truth \
        and {a.experiment for a in c.arms.values()} == {"r002-dcgan", "r002-deeper"} \
        and all(not a.overrides for a in c.arms.values())


def _e04(c: spec.ClaimSpec) -> bool:
    """e04: 100 is nn.BCELoss's clamp of one term; a confused discriminator scores 2 ln 2 = 1.39."""
    truth = ERRATA["e04-002-bce-ceiling"].truth
    if c.rule.kind == "event":  # a peak that reaches a saturated term, not more than two of them
        return "clamps log() at -100" in truth and c.measure.key == "d_loss" and 0 < c.rule.bound <= 100
    return "2 ln 2 = 1.39" in truth and c.rule.bound == pytest.approx(2 * math.log(2), abs=1e-3)


def _e12(c: spec.ClaimSpec) -> bool:
    """e12: the latent positions are 0-based 0, 20, 40, 60, 80, the ones the probe reads from r004-mlp's facts."""
    return "0-based 0, 20, 40, 60, 80" in ERRATA["e12-004-latent-positions"].truth and c.measure.kind == "latent" \
        and list(spec.load("r004-mlp").latent.positions.value) == [0, 20, 40, 60, 80]


def _e17(c: spec.ClaimSpec) -> bool:
    """e17: the mitigation reverts to the WGAN at 0.01, so the mitigated arm is r003-wgan against r003-collapse."""
    return {a.experiment for a in c.arms.values()} == {"r003-wgan", "r003-collapse"}


def _e19(c: spec.ClaimSpec) -> bool:
    """e19: report 002 names no data set; its eyes and faces make it the anime faces."""
    return c.data == "anime-faces"


ERRATUM_READINGS = {"e10-000-baseline-called-wgan": _e10, "e04-002-bce-ceiling": _e04,
                    "e12-004-latent-positions": _e12, "e17-003-mitigation-reverts": _e17,
                    "e19-002-dataset-unnamed": _e19, "e22-000-epoch-after-the-last": _e22,
                    "e23-002-many-experiments": _e23}


@pytest.mark.parametrize("claim_id", sorted(k for k, c in CLAIMS.items() if c.errata))
def test_claims_read_errata_as_the_errata_do(claim_id: str) -> None:
    """A claim that cites an erratum tests the sentence the way the erratum reads it (each check ties the claim's
    rule or arms to the erratum's own words: changing either alone fails)."""
    c = CLAIMS[claim_id]
    for eid in c.errata:
        assert eid in ERRATUM_READINGS, f"{claim_id} cites {eid}: add how the claim must read it"
        assert ERRATUM_READINGS[eid](c), f"{claim_id} does not read its sentence as {eid} does"


@pytest.mark.parametrize("claim_id", sorted(k for k, c in CLAIMS.items() if c.rule.kind == "threshold"))
def test_every_threshold_names_its_reference(claim_id: str) -> None:
    """Each bound is anchored: to the real set's own value or the floor (the measure is read against it), to the
    probe's unchanged images (a latent measure), or to a named convention (its note says which)."""
    from spec.metrics import reference

    c = CLAIMS[claim_id]
    ref = c.rule.reference
    assert ref in ("real", "floor", "base", "convention"), claim_id
    if ref == "real":
        assert c.measure.against in ("ratio", "log_ratio") and reference(c.measure.key).startswith("real_")
    elif ref == "floor":
        assert c.measure.against == "above" and "floor" in reference(c.measure.key)
    elif ref == "base":
        assert c.measure.kind == "latent"
    assert len(c.rule.note.split()) >= 5, f"{claim_id}: say which convention and why"


@pytest.mark.parametrize("claim_id", sorted(k for k, c in CLAIMS.items() if c.rule.kind in ("compare", "not_better",
                                                                                          "similar", "threshold")))
def test_every_comparison_states_its_minimum_effect(claim_id: str) -> None:
    """Every rule but an event's has a minimum effect (a threshold's beyond its bound), and a share of arm b has a
    least size in the measure's units for when b is missing or near zero."""
    c = CLAIMS[claim_id]
    assert c.rule.min_effect and c.rule.min_effect > 0 and len(c.rule.note.split()) >= 5
    assert c.rule.scale != "of_b" or (c.rule.at_least or 0) > 0


def test_heterochromia_is_read_as_a_captured_feature() -> None:
    """001, 2. WGAN: '两种模型都捕捉到了二次元应有的特征，有些图片甚至有异色瞳': 'even' adds heterochromia to the
    features the models captured (the defects begin with the next sentence's 但是), so the claim tests that some
    generated faces have it, the share of detected faces above the detector's own false rate (7.5 %, measured on
    painted faces whose eyes share one colour), not a share above the real faces' (a defect)."""
    c = CLAIMS["c001-heterochromia"]
    read = (c.measure.key, c.measure.against, c.rule.expect, c.rule.bound)
    assert read == ("heterochromia_share", "", "above", 0.075)
    none = V.judge(c, {"dcgan": [0.0, 0.001, 0.0, 0.002, 0.001]})  # no face with two colours: refuted
    error = V.judge(c, {"dcgan": [0.07, 0.08, 0.075, 0.072, 0.078]})  # what the detector's error alone gives
    assert error.verdict != V.HOLDS, error.reason
    some = V.judge(c, {"dcgan": [0.15, 0.16, 0.14, 0.15, 0.155]})  # 1 face in 7: some images have it
    assert (none.verdict, some.verdict) == (V.FAILS, V.HOLDS), (none.reason, some.reason)
