"""Broken claim files give one line naming the file and the field: each field's wrong values (hand-written cases
and hypothesis), on a small copy of the spec tree."""

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
from impl.training import overrides
from spec import SPEC_DIR, SpecError, load_registry
from spec.arm import check_override

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
rule = {kind = "compare", a = "mlp", b = "fast", expect = "better", min_effect = 0.1, scale = "of_b", ''' \
    '''at_least = 1.0, note = "why"}

[[claim]]
id = "c004-b"
section = "s"
quote = "q"
paraphrase = "p"
data = "fashion-mnist"
arms = {mlp = {experiment = "r004-mlp"}}
measure = {kind = "latent", reduce = "pixel_change_max", value = 1.0}
rule = {kind = "threshold", arm = "mlp", expect = "below", bound = 0.05, min_effect = 0.005, ''' \
    '''reference = "base", note = "why"}

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


def test_arm_with_a_pair_is_hashable_and_applies(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    path = root / "claims" / "r004.toml"
    path.write_text(path.read_text().replace("lr = 2e-4", "betas = [0.5, 0.9]"), encoding="utf-8")
    arm = load_registry(root).claims["c004-a"].arms["fast"]
    assert arm.key() == "r004-mlp{epochs=1,optimizer.betas=[0.5, 0.9]}"
    assert arm.folder() == "r004-mlp__epochs-1__optimizer.betas-0.5-0.9" and len({arm, arm}) == 1
    exp = overrides.apply(spec.load("r004-mlp"), arm.overrides_dict())
    assert exp.optimizer_kwargs()["betas"] == (0.5, 0.9) and exp.epochs.value == 1


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
    ("epochs = 1,", "epoch = 1,", r"overrides\.epoch: 'epoch' is not a value .* \(did you mean 'epochs'\?\)"),
    ("epochs = 1,", "epochs = 0,", r"overrides\.epochs: must be a positive integer"),
    ("epochs = 1,", "epochs = 1.5,", r"overrides\.epochs: expected an integer"),
    ("epochs = 1,", "epochs = true,", r"overrides\.epochs: expected an integer"),
    ("lr = 2e-4", "lr = -2e-4", r"optimizer\.lr: must be positive, got -0\.0002; e\.g\. optimizer\.lr = 2e-4"),
    ("lr = 2e-4", "lr = nan", r"overrides\.optimizer\.lr: must be a finite number"),
    ("lr = 2e-4", "betas = [0.5, 1.0]", r"overrides\.optimizer\.betas\[1\]: must be in \[0, 1\)"),
    ("lr = 2e-4", "betas = [0.5]", r"betas: betas are a pair .*; e\.g\. optimizer\.betas = \[0\.5, 0\.999\]"),
    ("lr = 2e-4", "momentum = 0.9", r"overrides\.optimizer\.momentum: r004-mlp's optimizer Adam takes no momentum"),
    ("epochs = 1,", 'd_loss = "avg",', r"overrides\.d_loss: must be one of 'mean', 'sum', got 'avg'"),
    ("epochs = 1,", "clip_value = 0.1,", r"clip_value: r004-mlp uses the bce loss, which never reads clip_value"),
    ("epochs = 1,", "n_critic = -5,", r"overrides\.n_critic: must be a positive integer"),
    ('data = "fashion-mnist"', 'data = "anime-faces"',
     r"arms\.mlp\.experiment: r004-mlp trains on fashion-mnist, but the claim's data is anime-faces"),
    ('data = "fashion-mnist"', 'data = "fashion"', r"claim c004-a\.data: unknown data set 'fashion'"),
    ('kind = "final"', 'kind = "finale"',
     r"measure\.kind: unknown measurement kind 'finale' \(did you mean 'final'\?\)"),
    ('key = "domain_fid"', 'key = "domain_fd"', r"measure\.key: final has no key 'domain_fd' \(did you mean"),
    ('key = "domain_fid"', 'key = "domain_fid", reduce = "last"',
     r"measure\.reduce: a final measurement reads metrics.json as it is; remove reduce"),
    ('reduce = "pixel_change_max"', 'reduce = "pixel"', r"measure\.reduce: latent has no reduction 'pixel'"),
    (", value = 1.0}", "}", r"measure\.value: missing; latent pixel_change_max needs `value = \.\.\.`"),
    ("value = 1.0}", "value = 1.0, epoch = 3}", r"measure\.epoch: not used by latent pixel_change_max; remove it"),
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
    ('kind = "threshold", arm = "mlp", expect = "below", bound = 0.05, min_effect = 0.005, reference = "base"',
     'kind = "event", arm = "mlp", expect = "below", bound = 0.05, rate = 1.5', r"rule\.rate: a rate of seeds must be"),
    (', reference = "base", note = "why"', ', reference = "base"', r"claim\[1\]\.rule\.note: missing required field"),
    (', reference = "base", note = "why"', ', reference = "base", note = " "', r"claim\[1\]\.rule\.note: say why"),
    (', min_effect = 0.1, scale = "of_b", at_least = 1.0', "", r"claim\[0\]\.rule\.min_effect: missing required field"),
    (', at_least = 1.0', "", r"claim\[0\]\.rule\.at_least: missing required field"),
    ('bound = 0.05, min_effect = 0.005', 'bound = 0.05', r"claim\[1\]\.rule\.min_effect: missing required field"),
    ('min_effect = 0.1', 'min_effect = 0.0', r"rule\.min_effect: must be a positive finite number"),
    ('scale = "of_b"', 'scale = "relative"', r"rule\.scale: must be one of absolute, of_b"),
    ('reference = "base", ', "", r"claim\[1\]\.rule\.reference: missing required field"),
    ('reference = "base"', 'reference = "guess"', r"rule\.reference: must be one of real, floor, base, convention"),
    ('reduce = "pixel_change_max", value = 1.0}', 'reduce = "pixel_change_max", value = 1.0}\nx = 1',
     r"claim\[1\]\.x: unknown field"),
    ('paraphrase = "p"', 'paraphrase = "p"\nface_specific = true',
     r"claim\[0\]\.face_specific: only a claim about the anime faces can be face-specific"),
    ('paraphrase = "p"', 'paraphrase = "p"\nerrata = ["e99-004-none"]',
     r"claim c004-a\.errata: 'e99-004-none' is no erratum"),
    ('arms.fast = {experiment = "r004-mlp", overrides = {epochs = 1, optimizer.lr = 2e-4}}',
     'arms.fast = {experiment = "r004-mlp"}', r"claim\[0\]\.arms: two arms are the same training \(r004-mlp\)"),
    ('arms.fast = {experiment = "r004-mlp", overrides = {epochs = 1, optimizer.lr = 2e-4}}',
     'arms.fast = {experiment = "r004-mlp", overrides = {optimizer.lr = 2e-4, epochs = 3}}',
     r"claim c004-a\.arms: mlp and fast are the same training \(r004-mlp\{epochs=3,optimizer\.lr=0\.0002\}"),
    ('key = "domain_fid"}', 'key = "kl_to_uniform", against = "ratio"}',
     r"measure\.against: kl_to_uniform has no reference value"),
    ('kind = "threshold"', 'kind = "treshold"', r"rule\.kind: unknown rule 'treshold' \(did you mean 'threshold'\?\)"),
    ("bound = 0.05", "bound = nan", r"rule\.bound: must be a finite number"),
    ('expect = "below"', 'expect = "under"', r"rule\.expect: threshold expects one of above, below, near"),
    ('rule = {kind = "compare", a = "mlp", b = "fast", expect = "better", min_effect = 0.1, scale = "of_b", '
     'at_least = 1.0, note = "why"}',
     'rule = {kind = "not_better", a = "mlp", b = "fast", min_effect = -0.1, note = "n"}',
     r"rule\.min_effect: must be a positive finite number"),
    ('arms = {mlp = {experiment = "r004-mlp"}}\nmeasure = {kind = "latent"',
     'arms = {mlp = {experiment = "r004-mlp"}, x = {experiment = "r004-mlp", overrides = {epochs = 2}}}\n'
     'measure = {kind = "latent"',
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
    ('measure = {kind = "latent", reduce = "pixel_change_max", value = 1.0}\n', "",
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
    with pytest.raises(SpecError, match=r"^--set: 'lr' is not a value .* \(did you mean 'optimizer\.lr'\?\)"):
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
           "measure.value", "measure.reduce", "measure.against", "rule.kind", "rule.a", "rule.bound", "rule.min_effect",
           "rule.scale", "rule.at_least", "rule.reference", "rule.rate", "rule.expect", "also", "errata",
           "face_specific"]


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
