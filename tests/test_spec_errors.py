"""Broken spec files give one clear line naming the file, the field and the fix; never a traceback."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import spec
from spec import SPEC_DIR, SpecError, load_registry

FILES = ["networks/r004-mlp-g.toml", "networks/r004-mlp-d.toml", "experiments/r004-mlp.toml", "datasets.toml"]


def small_tree(root: Path) -> Path:
    for rel in FILES:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(SPEC_DIR / rel, root / rel)
    return root


def edit(root: Path, rel: str, old: str, new: str) -> None:
    path = root / rel
    text = path.read_text(encoding="utf-8")
    assert old in text, f"test set-up: {old!r} not in {rel}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def error_of(root: Path) -> str:
    with pytest.raises(SpecError) as info:
        load_registry(root)
    message = str(info.value)
    assert "\n" not in message
    return message


def test_small_tree_loads(tmp_path: Path) -> None:
    reg = load_registry(small_tree(tmp_path))
    assert reg.names() == ["r004-mlp", "r004-mlp-d", "r004-mlp-g"]


CASES = [  # (file, old text, new text, expected message pattern)
    ("networks/r004-mlp-g.toml", 'role = "generator"', 'role = "generator', r"r004-mlp-g\.toml: malformed TOML"),
    ("networks/r004-mlp-g.toml", 'role = "generator"\n', "", r"r004-mlp-g\.toml:role: missing required field"),
    ("networks/r004-mlp-g.toml", "input = [100]", 'input = "100"', r"r004-mlp-g\.toml:input: expected an array"),
    ("networks/r004-mlp-g.toml", "input = [100]", "input = [0]", r":input\[0\]: must be a positive size"),
    ("networks/r004-mlp-g.toml", "out_features = 128", "out_features = -128",
     r"module\[0\]\.args\.out_features: must be a positive integer"),
    ("networks/r004-mlp-g.toml", 'type = "LeakyReLU"', 'type = "LeakyRelu"',
     r"unknown layer type 'LeakyRelu' \(did you mean 'LeakyReLU'\?\)"),
    ("networks/r004-mlp-g.toml", "in_features = 128", "in_features = 127",
     r"module 'fc2' \(Linear\): Linear cannot take input of shape \[128\]: in_features=127"),
    ("networks/r004-mlp-g.toml", 'class = "Generator"', 'clas = "Generator"',
     r":clas: unknown field \(did you mean 'class'\?\)"),
    ("networks/r004-mlp-g.toml", 'name = "r004-mlp-g"', 'name = "r004-mlp-d"', r"'r004-mlp-d' is already defined in"),
    ("networks/r004-mlp-g.toml", 'name = "r004-mlp-g"', 'name = "R004 MLP"', r"must be short, lowercase"),
    ("networks/r004-mlp-g.toml", '"fc1",', '"fc9",',
     r"forward\[0\]: no module 'fc9' \(did you mean 'fc[12]'\?\)"),
    ("networks/r004-mlp-g.toml", 'status = "inferred"', 'status = "guessed"', r"'guessed' is not one of"),
    ("experiments/r004-mlp.toml", 'value = "Adam"', 'value = "Adma"',
     r"unknown optimizer 'Adma' \(did you mean 'Adam'\?\)"),
    ("experiments/r004-mlp.toml", 'value = "bce"', 'value = "wgan"', r"needs n_critic"),
    ("experiments/r004-mlp.toml", "value = 64,", "value = -64,", r"batch_size\.value: must be positive"),
    ("experiments/r004-mlp.toml", 'value = "r004-mlp-g"', 'value = "r004-mlp-d"',
     r"is a discriminator, not a generator"),
    ("experiments/r004-mlp.toml", 'value = "fashion-mnist"', 'value = "fashion"', r"unknown data set 'fashion'"),
    ("experiments/r004-mlp.toml", 'value = "r004-mlp-d"', 'value = "r004-mlp"', r"no network 'r004-mlp'"),
]


@pytest.mark.parametrize("rel,old,new,pattern", CASES, ids=[c[3][:40] for c in CASES])
def test_broken_spec_is_named(tmp_path: Path, rel: str, old: str, new: str, pattern: str) -> None:
    root = small_tree(tmp_path)
    edit(root, rel, old, new)
    assert re.search(pattern, error_of(root))


def test_shapes_that_cannot_meet_are_refused(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    edit(root, "networks/r004-mlp-d.toml", "input = [1, 28, 28]", "input = [784]")
    edit(root, "networks/r004-mlp-d.toml", '{op = "flatten"', '{op = "relu"')
    assert "makes [1, 28, 28] but r004-mlp-d takes [784]" in error_of(root)


def test_unknown_name_suggests_the_closest() -> None:
    with pytest.raises(SpecError, match=r"unknown name 'course-dcgan' \(did you mean 'course-dcgan-[dg]'\?\)"):
        spec.load("course-dcgan")


def test_base_chain_must_exist(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    (root / "experiments/child.toml").write_text('base = "r004-mpl"\nname = "child"\n', encoding="utf-8")
    assert "base: no experiment 'r004-mpl' (did you mean 'r004-mlp'?)" in error_of(root)


@pytest.mark.parametrize("module", ["impl.summary", "impl.train"])
def test_cli_unknown_name_exits_2_without_traceback(module: str) -> None:
    run = subprocess.run([sys.executable, "-m", module, "r004-mpl"], capture_output=True, text=True, timeout=120)
    assert run.returncode == 2
    assert "Traceback" not in run.stderr
    assert run.stderr.strip().count("\n") == 0 and "did you mean 'r004-mlp" in run.stderr


# ---- property test: any damage to a spec file gives a SpecError, never another exception ----

def _mutations() -> st.SearchStrategy:
    text = (SPEC_DIR / "networks/r004-mlp-g.toml").read_text(encoding="utf-8")
    keys = sorted(set(re.findall(r"^(\w+) = ", text, re.M)) | set(re.findall(r"(\w+) = ", text)))
    values = st.one_of(st.integers(-3, 3), st.text(max_size=4), st.booleans(),
                       st.lists(st.integers(-2, 300), max_size=3), st.floats(allow_nan=True), st.just({}))
    return st.one_of(
        st.tuples(st.just("drop"), st.sampled_from(keys), st.none()),
        st.tuples(st.just("set"), st.sampled_from(keys), values),
        st.tuples(st.just("bytes"), st.binary(max_size=64), st.none()),
        st.tuples(st.just("cut"), st.integers(0, len(text)), st.none()),
    )


def _apply(text: str, mutation: tuple) -> bytes:
    kind, a, b = mutation
    if kind == "bytes":
        return a
    if kind == "cut":
        return text[:a].encode()
    data = tomllib.loads(text)
    targets = [data, *data.get("module", [])] + [m.get("args", {}) for m in data.get("module", [])]
    for table in targets:
        if a in table:
            if kind == "drop":
                del table[a]
            else:
                table[a] = b
            break
    return _dump(data).encode()


def _dump(data: dict) -> str:
    import json

    def val(v):
        if isinstance(v, dict):
            return "{" + ", ".join(f"{k} = {val(x)}" for k, x in v.items()) + "}"
        if isinstance(v, list):
            return "[" + ", ".join(val(x) for x in v) + "]"
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, float) and v != v:
            return "nan"
        if isinstance(v, float) and v in (float("inf"), float("-inf")):
            return "inf" if v > 0 else "-inf"
        return json.dumps(v) if isinstance(v, str) else repr(v)

    lines = [f"{k} = {val(v)}" for k, v in data.items() if k != "module"]
    for m in data.get("module", []):
        lines += ["[[module]]"] + [f"{k} = {val(v)}" for k, v in m.items()]
    return "\n".join(lines) + "\n"


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_mutations())
def test_damaged_spec_gives_only_clear_errors(tmp_path: Path, mutation: tuple) -> None:
    root = small_tree(tmp_path / str(abs(hash(repr(mutation)))))
    path = root / "networks/r004-mlp-g.toml"
    path.write_bytes(_apply(path.read_text(encoding="utf-8"), mutation))
    try:
        load_registry(root)
    except SpecError as exc:
        message = str(exc)
        assert "\n" not in message and str(root) in message or message.startswith("unknown name")
