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
    # optimizer arguments by type and range
    ("experiments/r004-mlp.toml", "value = [0.5, 0.999]", "value = [0.5, 1.0]",
     r"betas\.value\[1\]: must be in \[0, 1\)"),
    ("experiments/r004-mlp.toml", "value = [0.5, 0.999]", "value = [0.5]", r"betas\.value: betas are a pair"),
    ("experiments/r004-mlp.toml", "value = [0.5, 0.999]", 'value = ["0.5", 0.9]',
     r"betas\.value\[0\]: expected a number"),
    ("experiments/r004-mlp.toml", "value = 2e-4", "value = nan", r"optimizer\.lr\.value: must be a finite number"),
    ("experiments/r004-mlp.toml", "value = 2e-4", "value = 0.0", r"optimizer\.lr\.value: must be positive"),
    ("experiments/r004-mlp.toml", "value = 2e-4", 'value = "2e-4"', r"optimizer\.lr\.value: expected a number"),
    ("experiments/r004-mlp.toml", "betas = {", 'eps = {value = 0, status = "addition", source = "t", note = "t"}\n'
     "betas = {", r"optimizer\.eps\.value: must be positive"),
    ("experiments/r004-mlp.toml", 'value = "Adam"', 'value = "SGD"', r"optimizer\.betas: unknown field"),
    ("experiments/r004-mlp.toml", "value = 64,", "value = 1000000000,",
     r"batch_size\.value: a batch of 1,000,000,000 samples x 3,649 activation values each .* over the budget"),
    ("experiments/r004-mlp.toml", "value = [0, 20, 40, 60, 80]", "value = [20, 40, 60, 80, 100]",
     r"latent\.positions\.value: position 100 is not in the generator's latent vector"),
    ("experiments/r004-mlp.toml", "value = [0, 20, 40, 60, 80]", "value = [0, 20, 40, 60]", r"5 different positions"),
    ("experiments/r004-mlp.toml", "value = [15, 8]", "value = [15, 9]", r"latent\.grid\.value: 5 positions x 3 values"),
    ("experiments/r004-mlp.toml", ', excerpt = "训练三轮的损失曲线"', "", r"epochs\.excerpt: a documented value needs"),
    ("experiments/r004-mlp.toml", 'source = "004 原始版本 GAN", excerpt = "训练',
     'source = "the loss curve", excerpt = "训练', r"epochs\.source: a documented value's source starts with"),
    # layer arguments by type and range, module names
    ("networks/r004-mlp-g.toml", "negative_slope = 0.2", 'negative_slope = "0.2"',
     r"module\[1\]\.args\.negative_slope: expected a number"),
    ("networks/r004-mlp-g.toml", "negative_slope = 0.2", "negative_slope = inf",
     r"negative_slope: must be a finite number"),
    ("networks/r004-mlp-g.toml", "negative_slope = 0.2", "negative_slope = 0.2, inplace = 1",
     r"inplace: must be true or false"),
    ("networks/r004-mlp-g.toml", 'path = "nonlin1"', 'path = "forward"',
     r"'forward' in 'forward' is an attribute of torch's nn\.Module"),
    ("networks/r004-mlp-g.toml", 'path = "nonlin1"', 'path = "spec"', r"'spec' in 'spec' is an attribute"),
    ("networks/r004-mlp-g.toml", 'path = "nonlin1"', 'path = "_steps"', r"'_steps' in '_steps' is an attribute"),
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


def test_eps_and_momentum_of_batch_norm_are_checked(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    for args, pattern in (("eps = 0", r"args\.eps: must be positive, got 0"),
                          ("momentum = 1.5", r"args\.momentum: must be in \[0, 1\], got 1\.5"),
                          ('momentum = "0.1"', r"args\.momentum: expected a number")):
        path = root / "networks/r004-mlp-g.toml"
        path.write_text(path.read_text(encoding="utf-8") + f'\n[[module]]\npath = "bn"\ntype = "BatchNorm1d"\n'
                        f"args = {{num_features = 784, {args}}}\n", encoding="utf-8")
        assert re.search(pattern, error_of(root)), pattern
        small_tree(root)


def test_size_budget_is_checked_before_anything_is_allocated(tmp_path: Path) -> None:
    """Parameters and per-sample activations are counted from the layer arguments, and the size named."""
    root = small_tree(tmp_path)
    edit(root, "networks/r004-mlp-g.toml", "out_features = 128}", "out_features = 20000000}")
    edit(root, "networks/r004-mlp-g.toml", "in_features = 128,", "in_features = 20000000,")
    assert re.search(r"r004-mlp-g\.toml:module: 17,700,000,784 parameters \(65\.9 GiB in fp32; 'fc2' alone has "
                     r"15,680,000,784\), over the budget of 2,147,483,648", error_of(root))
    small_tree(root)
    (root / "networks/wide.toml").write_text(
        'name = "wide"\nrole = "generator"\ntitle = "t"\ninput = [1, 100, 100]\nsource = "t"\n'
        'init = {value = "default", status = "inferred", source = "t", note = "t"}\n[[module]]\npath = "up"\n'
        'type = "ConvTranspose2d"\nargs = {in_channels = 1, out_channels = 1, kernel_size = 1, stride = 2000}\n',
        encoding="utf-8")
    assert re.search(r"wide\.toml:forward: 39,204,396,001 activation values per sample \(146\.0 GiB in fp32\), "
                     r"over the budget of 268,435,456", error_of(root))


def test_a_budget_error_on_an_inherited_batch_names_the_file_that_sets_it(tmp_path: Path) -> None:
    """r004-conv takes r004-mlp's batch size: the error is about r004-conv, the value to fix is in r004-mlp.toml."""
    root = tmp_path / "spec"
    shutil.copytree(SPEC_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    edit(root, "experiments/r004-mlp.toml", "batch_size = {value = 64,", "batch_size = {value = 64000000,")
    assert re.search(r"r004-conv\.toml:batch_size\.value \(inherited from .*r004-mlp\.toml\): a batch of 64,000,000",
                     error_of(root))


def test_network_without_forward_steps_is_refused(tmp_path: Path) -> None:
    root = small_tree(tmp_path)
    (root / "networks/r004-mlp-g.toml").write_text(
        'name = "r004-mlp-g"\nrole = "generator"\ntitle = "t"\ninput = [100]\nsource = "t"\nforward = ["seq"]\n'
        'init = {value = "default", status = "inferred", source = "t", note = "t"}\n'
        '[[module]]\npath = "seq"\ntype = "Sequential"\n', encoding="utf-8")
    assert "r004-mlp-g.toml:forward: the network has no forward step" in error_of(root)


@pytest.mark.parametrize("depth,pattern", [(20, r"nested more than 12 deep"), (5000, r"nested too deep to read")])
def test_absurdly_deep_toml_is_one_line(tmp_path: Path, depth: int, pattern: str) -> None:
    root = small_tree(tmp_path)
    (root / "networks/deep.toml").write_text("a = " + "[" * depth + "]" * depth + "\n", encoding="utf-8")
    assert re.search(r"deep\.toml: .*" + pattern, error_of(root))


def test_spec_dir_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = small_tree(tmp_path / "copy")
    monkeypatch.setenv("GAN_SPEC_DIR", str(root))
    assert spec.spec_dir() == root and load_registry().names() == ["r004-mlp", "r004-mlp-d", "r004-mlp-g"]
    monkeypatch.setenv("GAN_SPEC_DIR", str(tmp_path / "nowhere"))
    with pytest.raises(SpecError, match=r"nowhere: not a spec folder \(it has no networks/\); check \$GAN_SPEC_DIR"):
        load_registry()


def test_reserved_names_cover_the_built_module() -> None:
    """A module named like an attribute of the built network would shadow it: the loader's list is complete."""
    import impl
    from spec.network import RESERVED

    model = impl.build("r004-mlp-g")
    attributes = {a for a in dir(model) if not a.startswith("_")} - {"fc1", "fc2", "nonlin1"}
    assert attributes <= RESERVED, f"add to spec.network.RESERVED: {sorted(attributes - RESERVED)}"


# ---- property test: any damage to any spec file gives a SpecError, never another exception ----

SPEC_FILES = sorted(str(p.relative_to(SPEC_DIR)) for p in SPEC_DIR.rglob("*.toml"))
WRONG = st.one_of(
    st.integers(-3, 3), st.integers(-2**70, 2**70), st.floats(allow_nan=True, allow_infinity=True), st.booleans(),
    st.text(max_size=5), st.just(""), st.lists(st.one_of(st.integers(-2, 300), st.floats(), st.text(max_size=3)),
                                                max_size=3),
    st.dictionaries(st.sampled_from(["value", "status", "x", "op", "path"]), st.integers(-1, 3), max_size=2),
    st.recursive(st.integers(0, 2), lambda inner: st.lists(inner, min_size=1, max_size=2), max_leaves=20),
)


def _paths(value: object, path: tuple = ()) -> list[tuple]:
    out = [path]
    if isinstance(value, dict):
        out += [p for k, v in value.items() for p in _paths(v, (*path, k))]
    elif isinstance(value, list):
        out += [p for i, v in enumerate(value) for p in _paths(v, (*path, i))]
    return out


def _damage(data: dict, path: tuple, action: str, value: object) -> None:
    parent = data
    for key in path[:-1]:
        parent = parent[key]
    if action == "drop":
        del parent[path[-1]]
    elif action == "add" and isinstance(parent[path[-1]], dict):
        parent[path[-1]]["surplus"] = value
    else:
        parent[path[-1]] = value


@pytest.mark.slow
@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_wrong_values_anywhere_give_one_line(tmp_path: Path, data: st.DataObject) -> None:
    """Any field of any spec file set to a value of the wrong type or range (or dropped, or given a surplus key):
    the registry loads, or one SpecError line names the file; a network the loader accepts, torch builds."""
    from tools.mutate import dump

    root = tmp_path / "spec"
    if not root.exists():
        shutil.copytree(SPEC_DIR, root, ignore=shutil.ignore_patterns("*.py", "__pycache__"))
    rel = data.draw(st.sampled_from(SPEC_FILES), label="file")
    original = (root / rel).read_text(encoding="utf-8")
    parsed = tomllib.loads(original)
    path = data.draw(st.sampled_from([p for p in _paths(parsed) if p]), label="field")
    _damage(parsed, path, data.draw(st.sampled_from(["set", "drop", "add"]), label="action"),
            data.draw(WRONG, label="value"))
    (root / rel).write_text(dump(parsed), encoding="utf-8")
    try:
        reg = load_registry(root)
    except SpecError as exc:
        message = str(exc)
        assert "\n" not in message and str(root) in message, message
    else:
        import impl

        if rel.startswith("networks/") and parsed.get("name") in reg.networks:
            impl.build_spec(reg.networks[parsed["name"]])
    finally:
        (root / rel).write_text(original, encoding="utf-8")


def _mutations() -> st.SearchStrategy:
    text = (SPEC_DIR / "networks/r004-mlp-g.toml").read_text(encoding="utf-8")
    return st.one_of(
        st.tuples(st.just("bytes"), st.binary(max_size=64)),
        st.tuples(st.just("cut"), st.integers(0, len(text))),
    )


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(mutation=_mutations())
def test_damaged_spec_gives_only_clear_errors(tmp_path: Path, mutation: tuple) -> None:
    """Random bytes, or a file cut anywhere: one clear line."""
    root = small_tree(tmp_path / str(abs(hash(repr(mutation)))))
    path = root / "networks/r004-mlp-g.toml"
    kind, arg = mutation
    path.write_bytes(arg if kind == "bytes" else path.read_text(encoding="utf-8")[:arg].encode())
    try:
        load_registry(root)
    except SpecError as exc:
        message = str(exc)
        assert "\n" not in message and str(root) in message
