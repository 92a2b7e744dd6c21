"""Numbers read from files are checked at the door (issue 24): caches replaced by anything (the decoded image cache
beside a data folder, the real-feature cache) are rebuilt, never used; Inception weights holding NaN or integers are
refused in one line before the network is built; nothing non-finite reaches LAPACK (FID's eigenvalues crash oneMKL
on NaN). Each test hashes a victim file beside the folder and proves it unchanged.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from impl.core import errors
from impl.core.errors import DataError, user_cache
from impl.data import folders as datafiles
from impl.measure import features, metrics
from tests.helpers import FAST, digest, victims

# ---------------------------------------------------------------- caches replaced by anything

def hostile_tensor() -> st.SearchStrategy:
    shapes = st.sampled_from([(5, 1, 28, 28), (5, 3, 8, 8), (2, 5, 1, 28, 28), (5, 28, 28), (0, 1, 28, 28),
                              (9, 1, 28, 28)])
    dtypes = st.sampled_from([torch.uint8, torch.float32, torch.int64, torch.float16])
    fills = st.sampled_from([0.0, float("nan"), float("inf"), 7.0])
    return st.tuples(shapes, dtypes, fills)


@FAST
@given(spec=hostile_tensor(), skipped=st.sampled_from([{}, {"too large": 1}, [1], {"x": "y"}, None]),
       wrap=st.sampled_from(["dict", "list", "tensor", "bytes"]))
def test_an_image_cache_is_used_only_when_it_holds_what_gan_spec_writes(tmp_path_factory: pytest.TempPathFactory,
                                                                        spec, skipped, wrap: str) -> None:
    shape, dtype, fill = spec
    base = tmp_path_factory.mktemp("faces")
    file, _ = victims(base)
    cache = base / ".gan-spec-28px-1c-0123456789abcdef.pt"
    images = torch.full(shape, fill).to(dtype) if dtype.is_floating_point else torch.full(shape, 7, dtype=dtype)
    payload = {"dict": {"images": images, "skipped": skipped}, "list": [images], "tensor": images}.get(wrap)
    if payload is None:
        cache.write_bytes(b"PK\x03\x04 not a torch file")
    else:
        torch.save(payload, cache)
    before = digest(file)
    got = datafiles.read_cache(cache, 28, 1, count=5)
    sound = (wrap == "dict" and dtype == torch.uint8 and shape in ((5, 1, 28, 28),) and isinstance(skipped, dict)
             and all(isinstance(v, int) for v in skipped.values()))
    assert (got is not None) == sound
    assert cache.exists() == sound  # a cache that is not ours is removed, then rebuilt by the caller
    assert digest(file) == before


def test_a_link_at_the_image_caches_temporary_name_is_not_followed(tmp_path: Path) -> None:
    file, _ = victims(tmp_path)
    cache = tmp_path / "faces" / ".gan-spec-28px-1c-0123456789abcdef.pt"
    cache.parent.mkdir()
    cache.with_suffix(".tmp").symlink_to(file)  # the name c4e8280 wrote through, planted by whoever owns faces/
    before = digest(file)
    datafiles.write_cache(cache, torch.zeros(5, 1, 28, 28, dtype=torch.uint8), {})
    assert digest(file) == before
    assert datafiles.read_cache(cache, 28, 1, 5) is not None


@pytest.mark.parametrize("damage", ["nan", "inf", "int", "shape", "radius", "garbage"])
def test_a_damaged_feature_cache_is_computed_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, damage: str,
                                                   capsys: pytest.CaptureFixture) -> None:
    from safetensors.torch import save_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    good = {"features": torch.randn(6, 4), "radius_pr": torch.rand(6), "radius_dc": torch.rand(6)}
    bad = dict(good)
    if damage in ("nan", "inf"):
        bad["features"] = torch.full((6, 4), float(damage))
    elif damage == "int":
        bad["features"] = torch.zeros(6, 4, dtype=torch.int8)
    elif damage == "shape":
        bad["features"] = torch.zeros(3, 7)
    elif damage == "radius":
        bad["radius_pr"] = torch.rand(2)
    path = features.cache_dir() / "real-features" / "k.safetensors"
    path.parent.mkdir(parents=True)
    if damage == "garbage":
        path.write_bytes(b"\x00" * 64)
    else:
        save_file(bad, path, metadata={"info": "{}"})
    calls = []
    tensors, _ = features.cached("k", lambda: calls.append(1) or (good, {"ok": 1}), {})
    assert calls == [1] and torch.equal(tensors["features"], good["features"])
    assert features.sound(features.cached("k", lambda: pytest.fail("recomputed a sound cache"), {})[0]) == ""
    if damage != "garbage":
        assert "damaged cache" in capsys.readouterr().err


@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_nothing_non_finite_reaches_lapack(bad: float) -> None:
    real, fake = torch.randn(30, 5), torch.randn(30, 5)
    fake[3, 2] = bad
    for measure in (metrics.frechet, metrics.kernel):
        with pytest.raises(DataError, match="NaN or infinite"):
            measure(real, fake)
        with pytest.raises(DataError, match="real features"):
            measure(fake, real)


@pytest.mark.parametrize("damage", ["nan", "inf", "int"])
def test_inception_weights_that_are_not_numbers_are_refused_in_one_line(tmp_path: Path, damage: str) -> None:
    state = {"Conv2d_1a_3x3.conv.weight": torch.randn(32, 3, 3, 3), "fc.bias": torch.zeros(8)}
    if damage == "int":
        state["fc.bias"] = torch.zeros(8, dtype=torch.int64)
    else:
        state["fc.bias"][3] = float(damage)
    path = tmp_path / features.INCEPTION_FILE
    torch.save(state, path)
    with pytest.raises(DataError) as caught:
        features.load_inception(path)
    assert "fc.bias" in str(caught.value) and "\n" not in str(caught.value)
    assert ("floating point" if damage == "int" else "NaN or infinite") in str(caught.value)


@pytest.mark.parametrize("value", ["", "relative/cache"])
def test_an_empty_or_relative_cache_home_is_not_the_current_folder(monkeypatch: pytest.MonkeyPatch,
                                                                   value: str) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", value)
    assert user_cache().is_absolute() and user_cache() == Path.home() / ".cache" / "gan-spec"
    assert features.cache_dir() == user_cache() and errors.crash_folder().parent == user_cache()


