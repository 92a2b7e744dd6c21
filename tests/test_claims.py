"""The claims in spec/claims/: every one loads, quotes its report verbatim, names arms that exist and a measurement
that can be read; the measurements on constructed run folders; broken claim files give one clear line."""

from __future__ import annotations

import json
import math
import shutil
from pathlib import Path

import pytest

import spec
from impl.pages import markdown
from impl.training import overrides
from impl.verdicts import decide as V
from impl.verdicts import readings as C
from impl.verdicts import reductions
from spec.arm import ArmSpec, check_override
from spec.claim import MeasureSpec, RuleSpec
from spec.metrics import METRICS, ROLES

KEYS = list(dict.fromkeys([*METRICS, *(pair[1] for pair in ROLES.values()),
                           *sorted(m.reference for m in METRICS.values() if m.reference and ":" not in m.reference)]))

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = {c.id: c for c in spec.claims()}
MEASURABLE = sorted(k for k, c in CLAIMS.items() if c.measurable)
# sentences that once were claims and are not (captions, an interpretation, a second reading of the same runs):
# docs/claims.md lists each with its reason
NOT_CLAIMS = {"c004-mlp-garments": "自定义一组随机数,生成8张图", "c004-conv-garments": "训练 15 轮后的生成效果",
              "c001-wgan-needs-more-epochs": "WGAN 比 DCGAN 需要更多的 epoch 来训练",
              "c003-clip-001-mitigates": "把 0.1 改成 0.01,讓 threshold 變小。(上圖 mode collapse/下圖 改善)"}


def test_every_report_has_claims_and_no_caption_is_one() -> None:
    reports = {e.report for e in spec.registry().experiments.values() if e.report.isdigit()}  # from spec/, not listed
    assert {c.report for c in CLAIMS.values()} == reports and len(reports) >= 5
    assert not set(NOT_CLAIMS) & set(CLAIMS)
    quotes = {q for c in CLAIMS.values() for q in (c.quote, *c.also)}
    assert not {"自定义一组随机数,生成8张图", "训练 15 轮后的生成效果"} & quotes  # figure captions
    docs = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    assert all(sentence in docs for sentence in NOT_CLAIMS.values()), "docs/claims.md must list each with its reason"


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_quote_and_section_stand_in_the_report(claim_id: str, reports: Path) -> None:
    c = CLAIMS[claim_id]
    files = list(reports.glob(f"{c.report}_*.txt"))
    assert len(files) == 1, f"report {c.report} not found in {reports}"
    text = files[0].read_text(encoding="utf-8")
    for quote in (c.quote, *c.also):
        assert quote in text, f"{claim_id}: quote {quote!r} not verbatim in report {c.report}"
    assert c.section in text, f"{claim_id}: section {c.section!r} is not a heading of report {c.report}"


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_arms_exist_and_their_overrides_apply(claim_id: str) -> None:
    c = CLAIMS[claim_id]
    reg = spec.registry()
    assert c.measurable == bool(c.reason == "") and (c.measure is None) != c.measurable
    for name, arm in c.arms.items():
        exp = reg.experiments[arm.experiment]
        assert exp.dataset.value == c.data
        sets = {k: check_override(k, v, f"{claim_id}.{name}") for k, v in arm.overrides if k != "steps"}
        overrides.apply(exp, sets)  # the recipe the lead trains: the spec's own reader accepts it


def test_the_mitigation_arm_is_the_collapse_recipe_with_clip_001() -> None:
    """Report 003's mitigation ('0.1 back to 0.01, same optimizer and steps', erratum e17) is r003-wgan's recipe, so
    c003-collapse-modes' comparison is the mitigation's too: the recipes must be equal."""
    back = overrides.apply(spec.load("r003-collapse"), {"clip_value": 0.01}).facts()
    wgan = spec.load("r003-wgan").facts()
    assert {k: f.value for k, f in back.items() if k != "outcome"} == \
           {k: f.value for k, f in wgan.items() if k != "outcome"}
    assert CLAIMS["c003-collapse-modes"].arms["wgan"].experiment == "r003-wgan"


def test_shared_arms_are_trained_once() -> None:
    needed = C.arms_needed(CLAIMS.values())
    uses = sum(len(c.arms) for c in CLAIMS.values())
    assert len(needed) < uses and "r003-wgan" in needed and all(k == a.key() for k, a in needed.items())
    one = ArmSpec("r003-wgan", (("clip_value", 0.1), ("epochs", 20)))
    assert one.key() == "r003-wgan{clip_value=0.1,epochs=20}" and one.folder() == "r003-wgan__clip_value-0.1__epochs-20"
    assert list(C.arms_needed([_fake_claim({"x": one}), _fake_claim({"y": one, "z": ArmSpec("r003-wgan")})])) == \
        ["r003-wgan{clip_value=0.1,epochs=20}", "r003-wgan"]


def _fake_claim(arms: dict[str, ArmSpec]) -> spec.ClaimSpec:
    return spec.ClaimSpec(id="c003-x", file=Path("t"), report="003", section="s", quote="q", paraphrase="p",
                          reading="", data="anime-faces", arms=arms, measure=None, rule=RuleSpec(kind="not_measurable"))


def test_docs_table_lists_every_claim() -> None:
    docs = (ROOT / "docs" / "claims.md").read_text(encoding="utf-8")
    assert markdown.claims_table(spec.claims()) in docs, \
        "docs/claims.md is stale: paste `python -m impl.claims` into it"


# ---------------------------------------------------------------- measurements on constructed run folders

def _lines(path: Path, rows: list, tail: str = "") -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows) + tail, encoding="utf-8")


def _latent(run: Path) -> None:
    rows = [{"position": p, "value": 1.0, "pixel_change": c, "row_spread": 0.3, "class_flips": 0}
            for p, c in ((0, 0.01), (20, 0.02), (40, 0.03))]
    rows += [{"position": p, "value": 10.0, "pixel_change": c, "row_spread": 0.2, "class_flips": f}
             for p, c, f in ((0, 0.1, 0), (20, 0.3, 2))]
    rows += [{"position": p, "value": 100.0, "pixel_change": 0.5, "row_spread": s, "class_flips": 8}
             for p, s in ((0, 0.05), (20, 0.15))]
    _lines(run / "latent" / "latent.json", [])
    (run / "latent" / "latent.json").write_text(json.dumps({"base_row_spread": 0.4, "rows": rows,
                                                            "direction_spread": {"10": 0.8}}), encoding="utf-8")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run folder with every source: metrics.json, epoch_metrics.jsonl, metrics.jsonl, latent/latent.json."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"data": "FashionMNIST train (60,000 images)"}), encoding="utf-8")
    (folder / "metrics.json").write_text(json.dumps({k: 0.5 + i for i, k in enumerate(KEYS)}), encoding="utf-8")
    fids = {1: 100.0, 2: 80.0, 3: 160.0, 4: 70.0, 5: 60.0}
    epochs = [{"epoch": e, "step": 100 * e, **{k: 0.5 for k in KEYS}, "domain_fid": f} for e, f in fids.items()]
    epochs.insert(2, {"epoch": 3, "step": 300, "domain_fid": 999.0})  # a resumed run logged epoch 3 again: last wins
    epochs += [{"epoch": e, "step": 100 * e, "domain_fid": 50.0 - e} for e in range(6, 52)]
    epochs.append({"epoch": 52, "domain_fid": float("nan")})  # not finite: skipped
    _lines(folder / "epoch_metrics.jsonl", epochs, tail='{"epoch": 53, "domain_f')  # cut short by a kill
    d = [50.0, 10.0, 2.0] + [1.0, 1.2] * 10 + [1.0]
    g = [1.0, 5.0, 1.0] + [1.0, 5.0] * 10 + [1.0]
    _lines(folder / "metrics.jsonl", [{"step": 50 * (i + 1), "epoch": i / 10, "d_loss": d[i], "g_loss": g[i],
                                       "d_real": 3 * g[i], "d_fake": 0.5, "wasserstein": -1.0} for i in range(24)],
           tail='{"step": 1250, "d_lo')
    _latent(folder)
    return folder


def read(run: Path, **kw) -> C.Reading:
    return C.read_measure(MeasureSpec(**kw), run)


@pytest.mark.parametrize("kw,expected", [
    ({"kind": "final", "key": "domain_fid"}, 0.5 + list(METRICS).index("domain_fid")),
    ({"kind": "final", "key": "fid"}, 0.5 + list(METRICS).index("domain_fid")),  # the role, on FashionMNIST
    ({"kind": "final", "key": "fid", "against": "above"}, list(METRICS).index("domain_fid")
     - list(METRICS).index("domain_fid_floor")),  # FID above its floor
    ({"kind": "final", "key": "sharpness", "against": "ratio"}, (0.5 + list(METRICS).index("sharpness"))
     / (0.5 + KEYS.index("real_sharpness"))),
    ({"kind": "final", "key": "sharpness", "against": "log_ratio"}, abs(math.log(
        (0.5 + list(METRICS).index("sharpness")) / (0.5 + KEYS.index("real_sharpness"))))),
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "max_rise"}, 80.0),  # epoch 2 -> 3
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "max_rel_rise"}, 1.0),  # 80 / 80
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "at_epoch", "epoch": 3}, 160.0),
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "last"}, -1.0),  # epoch 51: 50 - 51
    # last epoch 51, from epoch floor(0.8 * 51) = 40: (50 - 51) - (50 - 40)
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "late_change", "fraction": 0.8}, -11.0),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "early_peak", "fraction": 0.1}, 50.0),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "early_peak_ratio", "fraction": 0.1}, 50.0 / 1.1),  # median 1.1
    ({"kind": "loss_curve", "key": "g_loss", "reduce": "volatility", "fraction": 0.1}, 4.0),  # steps of +-4
    ({"kind": "loss_curve", "key": "d_real", "reduce": "volatility_ratio", "over": "g_loss", "fraction": 0.1}, 3.0),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "late_level"}, 1.1),
    ({"kind": "latent", "reduce": "pixel_change_max", "value": 1.0}, 0.075),  # 0.03 over base 0.4
    ({"kind": "latent", "reduce": "pixel_change_median", "value": 10.0}, 0.5),  # median 0.2 over base 0.4
    ({"kind": "latent", "reduce": "direction_spread", "value": 10.0}, 0.8),
    ({"kind": "latent", "reduce": "row_spread_max", "value": 100.0}, 0.375),  # 0.15 over base 0.4
    ({"kind": "latent", "reduce": "class_flips", "value": 10.0}, 1.0),
])
def test_measurement_on_constructed_files(run: Path, kw: dict, expected: float) -> None:
    reading = read(run, **kw)
    assert reading.value == pytest.approx(expected), reading.reason
    assert Path(reading.source).is_file()


def test_settling_and_trend_leave_the_early_transient_out(tmp_path: Path) -> None:
    """100 rows: a fall from 50 in the first tenth, then steps of +-2 up to 70 % of the run and +-1 after it. Settling
    compares the last 30 % with 20-50 % (the fall left out): half the fluctuation. The trend compares the second
    tenth's median (3) with the last fifth's (2.5), relative to both: 0.5 / 5.5."""
    values = [50.0 - 5 * i for i in range(10)] + [2.0, 4.0] * 30 + [2.0, 3.0] * 15
    _lines(tmp_path / "metrics.jsonl", [{"step": i, "g_loss": v} for i, v in enumerate(values)])
    assert read(tmp_path, kind="loss_curve", key="g_loss", reduce="settling").value == pytest.approx(0.5)
    assert read(tmp_path, kind="loss_curve", key="g_loss", reduce="trend").value == pytest.approx((3 - 2.5) / 5.5)


@pytest.mark.parametrize("kw,reason", [
    ({"kind": "final", "key": "confident_share"}, "FashionMNIST"),
    ({"kind": "final", "key": "inception_fid"}, "--inception-weights"),
    ({"kind": "final", "key": "face_detection_rate"}, "anime-face detector"),
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "at_epoch", "epoch": 60}, "claim reads epoch 60"),
    ({"kind": "loss_curve", "key": "wasserstein", "reduce": "early_peak_ratio", "fraction": 0.1}, "positive level"),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "volatility_ratio", "over": "d_fake"}, "does not fluctuate"),
    ({"kind": "latent", "reduce": "pixel_change_max", "value": 3.0}, "no rows at value 3"),
])
def test_what_cannot_be_measured_says_why(run: Path, kw: dict, reason: str) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("confident_share", "inception_fid", "face_detection_rate"):
        metrics.pop(key)
    (run / "metrics.json").write_text(json.dumps(metrics))
    reading = read(run, **kw)
    assert reading.value is None and reason in reading.reason and "\n" not in reading.reason


@pytest.mark.parametrize("damage,reason", [
    (lambda r: (r / "metrics.json").unlink(), "impl.evaluate"),
    (lambda r: (r / "metrics.json").write_text("{not json"), "not valid JSON"),
    (lambda r: (r / "metrics.json").write_text('{"domain_fid": NaN}'), "non-finite"),
    (lambda r: (r / "metrics.json").write_text("[1, 2]"), "not an object"),
    (lambda r: shutil.rmtree(r), "not a run folder"),
])
def test_damaged_metrics_json_is_not_measurable(run: Path, damage, reason: str) -> None:
    damage(run)
    reading = read(run, kind="final", key="domain_fid")
    assert reading.value is None and reason in reading.reason


def test_short_or_missing_logs_are_not_measurable(tmp_path: Path) -> None:
    _lines(tmp_path / "metrics.jsonl", [{"step": i, "d_loss": 1.0} for i in range(5)])
    assert "--log-every" in read(tmp_path, kind="loss_curve", key="d_loss", reduce="early_peak", fraction=0.1).reason
    assert "epoch_metrics.jsonl is missing" in read(tmp_path, kind="epoch_series", key="domain_fid",
                                                    reduce="last").reason
    _lines(tmp_path / "epoch_metrics.jsonl", [{"epoch": 1, "domain_fid": 3.0}, {"epoch": 3, "domain_fid": 9.0}])
    assert "two consecutive epochs" in read(tmp_path, kind="epoch_series", key="domain_fid", reduce="max_rise").reason
    assert "latent.json is missing" in read(tmp_path, kind="latent", reduce="pixel_change_max", value=1.0).reason


def test_max_rise_skips_gaps_and_late_change_needs_two_epochs() -> None:
    assert reductions.max_rise({1: 10.0, 2: 12.0, 4: 100.0}) == 2.0  # 2 -> 4 is not consecutive
    assert reductions.late_change({1: 10.0, 2: 7.0, 3: 4.0}, 0.8) == -3.0  # from epoch floor(2.4) = 2
    with pytest.raises(C.NotMeasurable):
        reductions.late_change({1: 10.0}, 0.8)


@pytest.fixture
def face_run(run: Path) -> Path:
    """The same run folder as a run on the anime faces: metrics.json holds the Inception keys and the face
    detector's, not the FashionMNIST classifier's."""
    (run / "config.json").write_text(json.dumps({"data": "71,314 images from faces/"}), encoding="utf-8")
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("domain_fid", "domain_fid_floor", "precision", "recall", "coverage", "realism_p05", "confident_share"):
        metrics.pop(key)
    (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    rows = [json.loads(line) for line in (run / "epoch_metrics.jsonl").read_text().splitlines()[:-1]]
    epochs = [{"epoch": r.get("epoch"), "inception_fid": r["domain_fid"], "inception_fid_floor": 1.0} for r in rows]
    _lines(run / "epoch_metrics.jsonl", epochs)
    return run


@pytest.mark.parametrize("claim_id", MEASURABLE)
def test_every_claims_measurement_reads_and_decides(claim_id: str, run: Path) -> None:
    """Each measurable claim's measurement is implemented: a full run folder gives a finite value, and three
    seeds of it give a verdict (identical seeds: no spread, so never a verdict from noise). A face-specific claim
    is never read on the FashionMNIST stand-in."""
    c = CLAIMS[claim_id]
    reading = C.read_measure(c.measure, run, c.face_specific)
    if c.face_specific:
        assert reading.value is None and reading.reason == C.STAND_IN
        return
    assert reading.value is not None and math.isfinite(reading.value), reading.reason
    result = V.decide(c, {name: [run, run, run] for name in c.arms})
    assert result.verdict in V.VERDICTS and result.n == 3


@pytest.mark.parametrize("claim_id", [k for k in MEASURABLE if CLAIMS[k].data == "anime-faces"])
def test_a_face_run_with_only_inception_and_detector_keys_gets_verdicts(claim_id: str, face_run: Path) -> None:
    """On the anime faces every face claim resolves its metric to the Inception or detector key: decided, never
    'not measurable' for want of a FashionMNIST classifier key."""
    c = CLAIMS[claim_id]
    reading = C.read_measure(c.measure, face_run, c.face_specific)
    assert reading.value is not None and math.isfinite(reading.value), reading.reason
    assert V.decide(c, {name: [face_run] * 3 for name in c.arms}).verdict != V.NOT_MEASURABLE
