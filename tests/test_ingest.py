"""impl.ingest on printouts made here: module trees, torchsummary and torchinfo tables read and rebuilt, every
stated number checked, spec files written that spec's strict loader reads; and bad input refused in one line
(exit 2) with nothing written."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
from torch import nn

import spec
from impl import ingest as command
from impl.networks.build import build_spec
from impl.networks.tables import measure
from impl.printouts.find import find_printouts
from impl.printouts.noise import clean
from impl.printouts.pipeline import ingest_text
from impl.printouts.reprs import read_args


def _report(*blocks: str) -> str:
    return "\n\n".join(["# Report 9", "batch size = 32, epochs = 7, optimizer = Adam(lr=2e-4, betas=(0.5, 0.999))",
                        *(f"```\n{b}\n```" for b in blocks), "The end."])


def _generator() -> nn.Module:
    return nn.Sequential(nn.Linear(16, 32 * 4 * 4), nn.Unflatten(1, (32, 4, 4)), nn.BatchNorm2d(32), nn.ReLU(True),
                         nn.ConvTranspose2d(32, 3, 4, 2, 1), nn.Tanh())


def _discriminator() -> nn.Module:
    return nn.Sequential(nn.utils.parametrizations.spectral_norm(nn.Conv2d(3, 8, 4, 2, 1)), nn.LeakyReLU(0.2),
                         nn.Dropout(0.3), nn.Flatten(), nn.Linear(8 * 4 * 4, 1), nn.Sigmoid())


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


@pytest.fixture()
def spec_copy(tmp_path: Path) -> Path:
    root = tmp_path / "spec"
    shutil.copytree(spec.spec_dir(), root, ignore=shutil.ignore_patterns("__pycache__", "*.py"))
    return root


def test_a_module_tree_is_rebuilt_exactly_and_prints_back() -> None:
    g, d = _generator(), _discriminator()
    result = ingest_text(_report(repr(g), repr(d)), "009", "r009", spec.spec_dir())
    gen, dis = result.networks
    assert (gen.role, dis.role) == ("generator", "discriminator")
    assert gen.spec.parameters == sum(p.numel() for p in g.parameters())
    assert dis.spec.input == gen.spec.output == (3, 8, 8)  # paired: the discriminator takes the generator's output
    assert repr(build_spec(gen.spec)) == repr(g) and not gen.mismatches
    assert dis.spec.module("0").spectral_norm and dis.spec.module("2").args["p"] == 0.3


def test_a_torchsummary_table_is_rebuilt_and_every_stated_number_checked() -> None:
    g = _generator()
    table = measure(g, (16,)).render()
    result = ingest_text(_report(table), "009", "r009", spec.spec_dir())
    (net,) = result.networks
    assert net.spec.parameters == measure(g, (16,)).total and not net.mismatches
    wrong = table.replace("Total params: 10,307", "Total params: 10,370").replace("Params size (MB): 0.04",
                                                                                   "Params size (MB): 0.05")
    assert wrong.count("10,370") == 1 and "(MB): 0.05" in wrong
    (bad,) = ingest_text(_report(wrong), "009", "r009", spec.spec_dir()).networks
    assert [(m.what, m.said, m.built) for m in bad.mismatches] == [
        ("total", "10,370", "10,307"), ("arithmetic", "10,370", "the rows sum to 10,307"),
        ("arithmetic", "10,307 + 0", "10,370"), ("size", "0.05", "0.04")]  # the sizes add up within rounding


def test_a_torchinfo_table_is_read_at_depth() -> None:
    torchinfo = pytest.importorskip("torchinfo")
    g = nn.Sequential(nn.Sequential(nn.Linear(16, 512), nn.ReLU()), nn.Unflatten(1, (32, 4, 4)),
                      nn.Sequential(nn.ConvTranspose2d(32, 3, 4, 2, 1), nn.Tanh()))
    text = str(torchinfo.summary(g, input_size=(2, 16), verbose=0))
    (net,) = ingest_text(_report(text), "009", "r009", spec.spec_dir()).networks
    assert net.parsed.kind == "torchinfo" and net.spec.parameters == sum(p.numel() for p in g.parameters())
    assert net.spec.output == (3, 8, 8) and not net.mismatches


def test_extra_repr_spellings_of_torch_versions_read_alike() -> None:
    new = read_args("BatchNorm2d", "64, eps=1e-05, momentum=0.1, affine=True, bias=True, track_running_stats=True")
    assert new == read_args("BatchNorm2d", "64, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True")
    assert read_args("Conv2d", "3, 64 kernel_size=(4, 4), stride=(2, 2)") == \
        {"in_channels": 3, "out_channels": 64, "kernel_size": 4, "stride": 2}  # a lost comma restored
    with pytest.raises(ValueError, match="given twice"):
        read_args("Conv2d", "52, 5, 12, kernel_size=(4, 4)")


def test_full_width_characters_are_narrowed() -> None:
    text = "Ｌｉｎｅａｒ－１　　　　［－１，　１２８］　　　１２，９１２"
    assert clean(text) == "Linear-1    [-1, 128]   12,912"


def test_the_command_writes_files_the_strict_loader_reads(spec_copy: Path, tmp_path: Path,
                                                          capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.md"
    report.write_text(_report(repr(_generator()), measure(_discriminator(), (3, 8, 8)).render()), encoding="utf-8")
    assert command.main([str(report), "--id", "r009", "--out", str(spec_copy), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert [p["rebuilt"] for p in summary["printouts"]] == [True, True]
    reg = spec.load_registry(spec_copy)
    assert {"r009-g", "r009-d"} <= set(reg.networks)
    assert (spec_copy / "drafts" / "r009-experiment.toml").read_text(encoding="utf-8").count("line 3") == 5


@pytest.mark.parametrize("content,expect", [
    (b"", "empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00", "binary"),
    (b"\xff\xfe text", "not UTF-8"),
    (b"just prose, no printout", "no network printout"),
    (b"```\nSequential(\n  (0): Linear(in_features=1000000, out_features=1000000, bias=True)\n)\n```", "budget"),
    (b"Sequential(\n" + b"(0): Sequential(\n" * 100 + b")\n" * 101, "nested more than 64"),
    (b"Sequential(\n  (0): Linear(in_features=10000000000000000, out_features=1)\n)", "absurd"),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(content: bytes, expect: str, spec_copy: Path,
                                                          tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(torch.nn.Linear, "__init__", lambda *a, **k: pytest.fail("a layer was allocated"))
    report = tmp_path / "bad.txt"
    report.write_bytes(content)
    before = _files(spec_copy)
    assert command.main([str(report), "--id", "r009", "--out", str(spec_copy)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and expect in err[0], err
    assert _files(spec_copy) == before


def test_a_huge_file_is_refused_unread(spec_copy: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "huge.txt"
    with report.open("wb") as f:
        f.truncate(100 * 2**20)  # 100 MB, sparse
    assert command.main([str(report), "--id", "r009", "--out", str(spec_copy)]) == 2
    assert "over 16 MB" in capsys.readouterr().err


def test_an_id_taken_is_refused_without_force(spec_copy: Path, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    report = tmp_path / "r.md"
    report.write_text(_report(repr(_generator())), encoding="utf-8")
    assert command.main([str(report), "--id", "r009", "--out", str(spec_copy)]) == 0
    before = _files(spec_copy)
    capsys.readouterr()
    assert command.main([str(report), "--id", "r009", "--out", str(spec_copy)]) == 2
    assert "already taken" in capsys.readouterr().err and _files(spec_copy) == before
    assert command.main([str(report), "--id", "r004", "--out", str(spec_copy)]) == 2  # the reports' own ids
    assert command.main([str(report), "--id", "r009", "--out", str(spec_copy), "--force"]) == 0


def test_printouts_are_found_among_prose_and_code() -> None:
    text = clean(_report("G = nn.Sequential(\n    nn.Linear(1, 2),\n)", repr(_generator()),
                         measure(_generator(), (16,)).render()))
    assert [p.kind for p in find_printouts(text)] == ["repr", "torchsummary"]


def test_a_broken_spec_file_refuses_itself_and_the_other_reports_keep_working(
        spec_copy: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """Issue 30 point 6: a new report's bad file (an unknown layer) no longer breaks --list and every command."""
    bad = spec_copy / "networks" / "r009-d.toml"
    bad.write_text((spec_copy / "networks" / "r004-mlp-d.toml").read_text(encoding="utf-8")
                   .replace('name = "r004-mlp-d"', 'name = "r009-d"').replace('"LeakyReLU"', '"LeakyReLu"'),
                   encoding="utf-8")
    with pytest.raises(spec.SpecError, match="r009-d.toml"):
        spec.load_registry(spec_copy)  # the strict loader still refuses the folder
    reg = spec.load_tolerant(spec_copy)
    assert list(reg.broken) == [str(bad)] and "r004-mlp-d" in reg.networks and "r009-d" not in reg.networks
    with pytest.raises(spec.SpecError, match=r"r009-d\.toml.*LeakyReLu"):
        reg.load("r009-d")
    monkeypatch.setenv("GAN_SPEC_DIR", str(spec_copy))
    spec.registry.cache_clear()
    try:
        from impl import summary

        assert summary.main(["--list"]) == 0 and "r004-mlp-d" in capsys.readouterr().out
    finally:
        spec.registry.cache_clear()


class _Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.conv, self.act = nn.Conv2d(8, 8, 3, 1, 1), nn.LeakyReLU(0.2, inplace=True)


class _Critic(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = nn.ModuleList([nn.Conv2d(3, 8, 4, 2, 1), nn.ReLU()])
        self.blocks = nn.ModuleDict({"a": _Block(), "b": _Block()})
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(8 * 8 * 8, 1))


def test_module_lists_dicts_and_custom_classes_are_read_as_called_in_order() -> None:
    critic = _Critic()
    (net,) = ingest_text("Images are 16x16.\n```\n" + repr(critic) + "\n```", "009", "r009", spec.spec_dir()).networks
    assert net.spec.class_name == "_Critic" and net.spec.input == (3, 16, 16) and not net.mismatches
    assert net.spec.parameters == sum(p.numel() for p in critic.parameters())
    assert net.spec.module("blocks.a").status == "inferred" and net.spec.module("blocks.b.act").args["inplace"]
