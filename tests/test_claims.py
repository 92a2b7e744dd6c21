"""The claims in spec/claims/: every one loads, quotes its report verbatim, names arms that exist and a measurement
that can be read; the measurements on constructed run folders; broken claim files give one clear line."""

from __future__ import annotations

import json
import math
import re
import shutil
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spec
from impl import claims as C
from impl import overrides, reductions
from impl import verdict as V
from spec import SPEC_DIR, SpecError, load_registry
from spec.arm import OVERRIDE_KEYS, ArmSpec, check_override
from spec.claim import METRICS, MeasureSpec, RuleSpec

ROOT = Path(__file__).resolve().parent.parent
CLAIMS = {c.id: c for c in spec.claims()}
MEASURABLE = sorted(k for k, c in CLAIMS.items() if c.measurable)
# issue 12's minimum list, one id per statement it names
ISSUE_MINIMUM = ["c000-dcgan-not-better", "c000-dcgan-unstable", "c000-wgan-more-stable", "c000-dcgan-would-improve",
                 "c001-dcgan-better", "c001-wgan-needs-more-epochs", "c002-deeper-eyes-better",
                 "c002-deeper-blurrier", "c002-deeper-d-peak-near-100", "c002-deeper-d-settles-low",
                 "c002-architecture-no-improvement", "c003-wgan-better-than-dcgan", "c003-wgan-fewer-deformed",
                 "c003-collapse-modes", "c003-clip-001-mitigates", "c004-value-1-invisible", "c004-value-10-visible",
                 "c004-value-10-position-dependent", "c004-value-100-row-alike", "c004-mlp-garments",
                 "c004-conv-garments"]


def test_every_report_has_claims_and_the_issues_list_is_covered() -> None:
    assert {c.report for c in CLAIMS.values()} == {"000", "001", "002", "003", "004"}
    assert [i for i in ISSUE_MINIMUM if i not in CLAIMS] == []
    assert not CLAIMS["c002-deeper-eyes-better"].measurable  # "the eyes look pasted on": no honest proxy
    assert CLAIMS["c000-dcgan-not-better"].reading  # erratum e10: the ambiguous baseline, reading recorded


@pytest.mark.parametrize("claim_id", sorted(CLAIMS))
def test_quote_and_section_stand_in_the_report(claim_id: str, reports: Path) -> None:
    c = CLAIMS[claim_id]
    files = list(reports.glob(f"{c.report}_*.txt"))
    assert len(files) == 1, f"report {c.report} not found in {reports}"
    text = files[0].read_text(encoding="utf-8")
    assert c.quote in text, f"{claim_id}: quote not verbatim in report {c.report}"
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


def test_override_keys_are_recipe_keys_the_trainer_can_set() -> None:
    assert set(OVERRIDE_KEYS) - {"steps"} <= set(overrides.SETTABLE)


def test_the_mitigation_arm_is_the_collapse_recipe_with_clip_001() -> None:
    """c003-clip-001-mitigates trains r003-wgan for 'r003-collapse back at 0.01': the recipes must be equal."""
    back = overrides.apply(spec.load("r003-collapse"), {"clip_value": 0.01}).facts()
    wgan = spec.load("r003-wgan").facts()
    assert {k: f.value for k, f in back.items() if k != "outcome"} == \
           {k: f.value for k, f in wgan.items() if k != "outcome"}
    assert CLAIMS["c003-clip-001-mitigates"].arms["mitigated"].experiment == "r003-wgan"


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
    assert C.claims_table(spec.claims()) in docs, "docs/claims.md is stale: paste `python -m impl.claims` into it"


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
    (run / "latent" / "latent.json").write_text(json.dumps({"base_row_spread": 0.4, "rows": rows}), encoding="utf-8")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    """A run folder with every source: metrics.json, epoch_metrics.jsonl, metrics.jsonl, latent/latent.json."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "metrics.json").write_text(json.dumps({k: 0.5 + i for i, k in enumerate(METRICS)}), encoding="utf-8")
    fids = {1: 100.0, 2: 80.0, 3: 160.0, 4: 70.0, 5: 60.0}
    epochs = [{"epoch": e, "step": 100 * e, **{k: 0.5 for k in METRICS}, "domain_fid": f} for e, f in fids.items()]
    epochs.insert(2, {"epoch": 3, "step": 300, "domain_fid": 999.0})  # a resumed run logged epoch 3 again: last wins
    epochs += [{"epoch": e, "step": 100 * e, "domain_fid": 50.0 - e} for e in range(6, 52)]
    epochs.append({"epoch": 52, "domain_fid": float("nan")})  # not finite: skipped
    _lines(folder / "epoch_metrics.jsonl", epochs, tail='{"epoch": 53, "domain_f')  # cut short by a kill
    d = [50.0, 10.0, 2.0] + [1.0] * 21
    g = [0.0, 4.0, 0.0] + [0.0, 4.0] * 10 + [0.0]
    _lines(folder / "metrics.jsonl", [{"step": 50 * (i + 1), "epoch": i / 10, "d_loss": d[i], "g_loss": g[i],
                                       "d_real": 3 * g[i], "d_fake": 0.5, "wasserstein": -1.0} for i in range(24)],
           tail='{"step": 1250, "d_lo')
    _latent(folder)
    return folder


def read(run: Path, **kw) -> C.Reading:
    return C.read_measure(MeasureSpec(**kw), run)


@pytest.mark.parametrize("kw,expected", [
    ({"kind": "final", "key": "domain_fid"}, 0.5 + list(METRICS).index("domain_fid")),
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "max_rise"}, 80.0),  # epoch 2 -> 3
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "max_rel_rise"}, 1.0),  # 80 / 80
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "at_epoch", "epoch": 3}, 160.0),
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "last"}, -1.0),  # epoch 51: 50 - 51
    # last epoch 51, from epoch floor(0.8 * 51) = 40: (50 - 51) - (50 - 40)
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "late_change", "fraction": 0.8}, -11.0),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "early_peak", "fraction": 0.1}, 50.0),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "early_peak_ratio", "fraction": 0.1}, 50.0),  # late median 1
    ({"kind": "loss_curve", "key": "g_loss", "reduce": "volatility", "fraction": 0.1}, 4.0),  # steps of +-4
    ({"kind": "loss_curve", "key": "d_real", "reduce": "volatility_ratio", "over": "g_loss", "fraction": 0.1}, 3.0),
    ({"kind": "latent", "reduce": "pixel_change", "value": 1.0}, 0.02),
    ({"kind": "latent", "reduce": "position_spread", "value": 10.0}, 0.5),  # sd 0.1 over mean 0.2
    ({"kind": "latent", "reduce": "row_spread_ratio", "value": 100.0}, 0.25),  # 0.1 over base 0.4
    ({"kind": "latent", "reduce": "class_flips", "value": 10.0}, 1.0),
])
def test_measurement_on_constructed_files(run: Path, kw: dict, expected: float) -> None:
    reading = read(run, **kw)
    assert reading.value == pytest.approx(expected), reading.reason
    assert Path(reading.source).is_file()


def test_settling_compares_the_halves(tmp_path: Path) -> None:
    """First half steps of +-2, second half steps of +-1: the late fluctuation is half the early one."""
    values = [0.0, 2.0] * 5 + [0.0] + [1.0, 0.0] * 5 + [1.0]
    _lines(tmp_path / "metrics.jsonl", [{"step": i, "g_loss": v} for i, v in enumerate(values)])
    assert read(tmp_path, kind="loss_curve", key="g_loss", reduce="settling").value == pytest.approx(0.5)


@pytest.mark.parametrize("kw,reason", [
    ({"kind": "final", "key": "confident_share"}, "FashionMNIST"),
    ({"kind": "final", "key": "inception_fid"}, "--inception-weights"),
    ({"kind": "epoch_series", "key": "domain_fid", "reduce": "at_epoch", "epoch": 60}, "claim reads epoch 60"),
    ({"kind": "loss_curve", "key": "wasserstein", "reduce": "early_peak_ratio", "fraction": 0.1}, "positive level"),
    ({"kind": "loss_curve", "key": "d_loss", "reduce": "volatility_ratio", "over": "d_fake"}, "does not fluctuate"),
    ({"kind": "latent", "reduce": "pixel_change", "value": 3.0}, "no rows at value 3"),
])
def test_what_cannot_be_measured_says_why(run: Path, kw: dict, reason: str) -> None:
    metrics = json.loads((run / "metrics.json").read_text())
    for key in ("confident_share", "inception_fid"):
        metrics.pop(key)
    (run / "metrics.json").write_text(json.dumps(metrics))
    reading = read(run, **kw)
    assert reading.value is None and reason in reading.reason and "\n" not in reading.reason


@pytest.mark.parametrize("damage,reason", [
    (lambda r: (r / "metrics.json").unlink(), "impl.evaluate"),
    (lambda r: (r / "metrics.json").write_text("{not json"), "cannot be read"),
    (lambda r: (r / "metrics.json").write_text('{"domain_fid": NaN}'), "non-finite"),
    (lambda r: (r / "metrics.json").write_text("[1, 2]"), "not a JSON object"),
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
    assert "latent.json is missing" in read(tmp_path, kind="latent", reduce="pixel_change", value=1.0).reason


def test_max_rise_skips_gaps_and_late_change_needs_two_epochs() -> None:
    assert reductions.max_rise({1: 10.0, 2: 12.0, 4: 100.0}) == 2.0  # 2 -> 4 is not consecutive
    assert reductions.late_change({1: 10.0, 2: 7.0, 3: 4.0}, 0.8) == -3.0  # from epoch floor(2.4) = 2
    with pytest.raises(C.NotMeasurable):
        reductions.late_change({1: 10.0}, 0.8)


@pytest.mark.parametrize("claim_id", MEASURABLE)
def test_every_claims_measurement_reads_and_decides(claim_id: str, run: Path) -> None:
    """Each measurable claim's measurement is implemented: a full run folder gives a finite value, and three
    seeds of it give a verdict (identical seeds: no spread, so never a verdict from noise)."""
    c = CLAIMS[claim_id]
    reading = C.read_measure(c.measure, run)
    assert reading.value is not None and math.isfinite(reading.value), reading.reason
    result = V.decide(c, {name: [run, run, run] for name in c.arms})
    assert result.verdict in V.VERDICTS and result.n == 3


# ---------------------------------------------------------------- broken claim files: one line naming file and field

TREE = ["networks/r004-mlp-g.toml", "networks/r004-mlp-d.toml", "experiments/r004-mlp.toml", "datasets.toml"]
SMALL = '''report = "004"

[[claim]]
id = "c004-a"
section = "s"
quote = "q"
paraphrase = "p"
data = "fashion-mnist"
arms.mlp = {experiment = "r004-mlp"}
arms.fast = {experiment = "r004-mlp", overrides = {epochs = 1, optimizer.lr = 2e-4}}
measure = {kind = "final", key = "domain_fid"}
rule = {kind = "compare", a = "mlp", b = "fast", expect = "better"}

[[claim]]
id = "c004-b"
section = "s"
quote = "q"
paraphrase = "p"
data = "fashion-mnist"
arms = {mlp = {experiment = "r004-mlp"}}
measure = {kind = "latent", reduce = "pixel_change", value = 1.0}
rule = {kind = "threshold", arm = "mlp", expect = "below", bound = 0.05, note = "why"}

[[claim]]
id = "c004-c"
section = "s"
quote = "q"
paraphrase = "p"
data = "fashion-mnist"
measurable = false
reason = "why not"
'''


def small_tree(root: Path) -> Path:
    for rel in TREE:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SPEC_DIR / rel, root / rel)
    (root / "claims").mkdir()
    (root / "claims" / "r004.toml").write_text(SMALL, encoding="utf-8")
    return root


def test_small_claims_file_loads(tmp_path: Path) -> None:
    reg = load_registry(small_tree(tmp_path))
    assert list(reg.claims) == ["c004-a", "c004-b", "c004-c"]
    fast = reg.claims["c004-a"].arms["fast"]
    assert fast.overrides_dict() == {"epochs": 1, "optimizer.lr": 2e-4}  # a nested optimizer table is flattened
    assert reg.claims["c004-a"].arm_keys() == {"mlp": "r004-mlp", "fast": 'r004-mlp{epochs=1,optimizer.lr=0.0002}'}


OVERRIDE = "overrides = {epochs = 1, optimizer.lr = 2e-4}"
CASES = [  # (old text, new text, expected message pattern)
    ('report = "004"', 'report = "004', r"r004\.toml: malformed TOML"),
    ('report = "004"', 'report = "004"\nauthor = "x"', r"r004\.toml:author: unknown field"),
    ('report = "004"', 'report = "003"', r"r004\.toml:report: '003' does not match the file name"),
    ('id = "c004-a"', 'id = "c003-a"', r"claim\[0\]\.id: 'c003-a' must start with 'c004-'"),
    ('id = "c004-b"', 'id = "c004-a"', r"claim c004-a: id already used"),
    ('quote = "q"\n', "", r"claim\[0\]\.quote: missing required field"),
    ('quote = "q"', 'quote = " "', r"claim\[0\]\.quote: must not be empty"),
    ('paraphrase = "p"', 'paraphrase = "p"\nparaphrse = "p"',
     r"paraphrse: unknown field \(did you mean 'paraphrase'\?\)"),
    ('mlp = {experiment = "r004-mlp"}\narms.fast', 'mlp = {experiment = "r004-mpl"}\narms.fast',
     r"arms\.mlp\.experiment: no experiment 'r004-mpl' \(did you mean 'r004-mlp'\?\)"),
    ('{experiment = "r004-mlp", overrides', '{experiment = "r004-mlp", override',
     r"arms\.fast\.override: unknown field \(did you mean 'overrides'\?\)"),
    ("epochs = 1,", "epoch = 1,", r"overrides\.epoch: 'epoch' is not an override key \(did you mean 'epochs'\?\)"),
    ("epochs = 1,", "epochs = 0,", r"overrides\.epochs: must be a positive integer"),
    ("epochs = 1,", "epochs = 1.5,", r"overrides\.epochs: expected an integer"),
    ("epochs = 1,", "epochs = true,", r"overrides\.epochs: expected an integer"),
    ("lr = 2e-4", "lr = -2e-4", r"overrides\.optimizer\.lr: must be a positive finite number"),
    ("lr = 2e-4", "lr = nan", r"overrides\.optimizer\.lr: must be a positive finite number"),
    ("lr = 2e-4", "betas = [0.5, 1.0]", r"overrides\.optimizer\.betas\[1\]: must be in \[0, 1\)"),
    ("lr = 2e-4", "betas = [0.5]", r"overrides\.optimizer\.betas: must be a pair"),
    ("lr = 2e-4", "momentum = 0.9", r"overrides\.optimizer\.momentum: r004-mlp's optimizer Adam takes no momentum"),
    ("epochs = 1,", 'd_loss = "avg",', r"overrides\.d_loss: must be \"mean\" or \"sum\""),
    ("epochs = 1,", "clip_value = 0.1,", r"overrides\.clip_value: r004-mlp uses the bce loss, which has no clip_value"),
    ("epochs = 1,", "n_critic = -5,", r"overrides\.n_critic: must be a positive integer"),
    ('data = "fashion-mnist"', 'data = "anime-faces"',
     r"arms\.mlp\.experiment: r004-mlp trains on fashion-mnist, but the claim's data is anime-faces"),
    ('data = "fashion-mnist"', 'data = "fashion"', r"claim c004-a\.data: unknown data set 'fashion'"),
    ('kind = "final"', 'kind = "finale"',
     r"measure\.kind: unknown measurement kind 'finale' \(did you mean 'final'\?\)"),
    ('key = "domain_fid"', 'key = "domain_fd"', r"measure\.key: final has no key 'domain_fd' \(did you mean"),
    ('key = "domain_fid"', 'key = "domain_fid", reduce = "last"',
     r"measure\.reduce: a final measurement reads metrics.json as it is; remove reduce"),
    ('reduce = "pixel_change"', 'reduce = "pixel"', r"measure\.reduce: latent has no reduction 'pixel'"),
    (", value = 1.0}", "}", r"measure\.value: missing; latent pixel_change needs `value = \.\.\.`"),
    ("value = 1.0}", "value = 1.0, epoch = 3}", r"measure\.epoch: not used by latent pixel_change; remove it"),
    ("value = 1.0}", "value = inf}", r"measure\.value: must be a finite number"),
    ("value = 1.0}", 'value = "one"}', r"measure\.value: expected a number, got str 'one'"),
    ('kind = "final", key = "domain_fid"}', 'kind = "epoch_series", key = "domain_fid", reduce = "late_change", '
     'fraction = 1.5}', r"measure\.fraction: must be between 0 and 1"),
    ('kind = "final", key = "domain_fid"}', 'kind = "epoch_series", key = "domain_fid", reduce = "at_epoch"}',
     r"measure\.epoch: missing; epoch_series at_epoch needs"),
    ('kind = "final", key = "domain_fid"}', 'kind = "loss_curve", key = "d_loss", reduce = "volatility_ratio", '
     'over = "d_loss"}', r"measure\.over: must be another logged series than 'd_loss'"),
    ('a = "mlp"', 'a = "mpl"', r"rule\.a: no arm 'mpl' \(did you mean 'mlp'\?\)"),
    ('b = "fast"', 'b = "mlp"', r"rule\.b: compares arm 'mlp' with itself"),
    ('expect = "better"', 'expect = "bigger"', r"rule\.expect: compare expects one of higher, lower, better, worse"),
    ('key = "domain_fid"', 'key = "sharpness"', r"rule\.kind: final\.sharpness has no better direction"),
    (', note = "why"', "", r"claim\[1\]\.rule\.note: a threshold rule needs a note"),
    ('kind = "threshold"', 'kind = "treshold"', r"rule\.kind: unknown rule 'treshold' \(did you mean 'threshold'\?\)"),
    ("bound = 0.05", "bound = nan", r"rule\.bound: must be a finite number"),
    ('expect = "below"', 'expect = "under"', r"rule\.expect: threshold expects one of above, below"),
    ('rule = {kind = "compare", a = "mlp", b = "fast", expect = "better"}',
     'rule = {kind = "not_better", a = "mlp", b = "fast", margin = -0.1, note = "n"}',
     r"rule\.margin: must be a positive finite number"),
    ('arms = {mlp = {experiment = "r004-mlp"}}\nmeasure = {kind = "latent"',
     'arms = {mlp = {experiment = "r004-mlp"}, x = {experiment = "r004-mlp"}}\nmeasure = {kind = "latent"',
     r"claim\[1\]\.arms\.x: not used by the rule"),
    ('arms = {mlp = {experiment = "r004-mlp"}}', 'arms = {"M L P" = {experiment = "r004-mlp"}}',
     r"arms\.M L P: arm name 'M L P' must use lowercase"),
    ('reason = "why not"', 'reason = "why not"\nmeasure = {kind = "final", key = "domain_fid"}',
     r"claim\[2\]\.measure: a claim with `measurable = false` has no measure"),
    ('reason = "why not"', "", r"claim\[2\]\.reason: a claim with `measurable = false` needs the reason"),
    ('paraphrase = "p"', 'paraphrase = "p"\nreason = "r"',
     r"claim\[0\]\.reason: only a claim with `measurable = false`"),
    ('measurable = false', 'measurable = "no"', r"claim\[2\]\.measurable: expected true/false"),
    ('arms = {mlp = {experiment = "r004-mlp"}}\n', "", r"claim\[1\]\.arms: a measurable claim needs its arms"),
    ('measure = {kind = "latent", reduce = "pixel_change", value = 1.0}\n', "",
     r"claim\[1\]\.measure: missing required field"),
]


@pytest.mark.parametrize("old,new,pattern", CASES, ids=[re.sub(r"\W+", "-", c[2])[:50] for c in CASES])
def test_broken_claim_file_is_named(tmp_path: Path, old: str, new: str, pattern: str) -> None:
    root = small_tree(tmp_path)
    path = root / "claims" / "r004.toml"
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test set-up: {old!r} not in the claims file"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")
    with pytest.raises(SpecError) as info:
        load_registry(root)
    message = str(info.value)
    assert "\n" not in message and str(path) in message
    assert re.search(pattern, message), message


def test_check_override_is_what_the_set_flag_can_reuse() -> None:
    assert check_override("optimizer.betas", [0.5, 0.9], "--set") == [0.5, 0.9]
    assert check_override("d_loss", "sum", "--set") == "sum"
    with pytest.raises(SpecError, match=r"^--set: 'lr' is not an override key \(did you mean 'optimizer\.lr'\?\)"):
        check_override("lr", 1e-3, "--set")


def _dump(value: object) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_dump(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_dump(v) for v in value) + "]"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if value != value else ("inf" if value > 0 else "-inf")
    return json.dumps(value)


_VALUES = st.one_of(st.integers(-3, 3), st.floats(allow_nan=True), st.text(max_size=6), st.booleans(),
                    st.lists(st.floats(-2, 2), max_size=3), st.just({}), st.just({"experiment": "r004-mlp"}))
_FIELDS = ["id", "section", "quote", "data", "arms", "measure", "rule", "measurable", "reason", "proxy",
           "arms.mlp", "arms.fast.overrides", "arms.fast.overrides.epochs", "measure.kind", "measure.key",
           "measure.value", "measure.reduce", "rule.kind", "rule.a", "rule.bound", "rule.margin", "rule.expect"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(index=st.integers(0, 2), field=st.sampled_from(_FIELDS), value=st.one_of(st.none(), _VALUES))
def test_damaged_claims_give_only_clear_errors(tmp_path: Path, index: int, field: str, value: object) -> None:
    """Any field of any claim dropped or set to any value: it loads or gives one SpecError line, nothing else."""
    root = small_tree(tmp_path / f"t{abs(hash((index, field, repr(value))))}")
    data = tomllib.loads(SMALL)
    *path, last = field.split(".")
    table = data["claim"][index]
    for part in path:
        table = table.get(part) if isinstance(table, dict) else None
    if not isinstance(table, dict):
        return
    if value is None:
        table.pop(last, None)
    else:
        table[last] = value
    lines = ['report = "004"'] + ["[[claim]]\n" + "\n".join(f"{k} = {_dump(v)}" for k, v in c.items())
                                   for c in data["claim"]]
    (root / "claims" / "r004.toml").write_text("\n".join(lines) + "\n", encoding="utf-8")
    try:
        load_registry(root)
    except SpecError as exc:
        assert "\n" not in str(exc) and str(root) in str(exc)
