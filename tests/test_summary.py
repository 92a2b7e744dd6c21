"""`python -m impl.summary` prints report 000's tables line for line and marks every mismatch."""

from __future__ import annotations

import dataclasses
import json

import pytest

import spec
from impl import summary
from impl.networks.tables import table_for

DOCUMENTED = [n for n in spec.names("network") if any(e.kind == "summary" for e in spec.load(n).evidence)]


def test_report_000_networks_have_tables() -> None:
    assert DOCUMENTED == ["course-dcgan-d", "course-dcgan-g", "r000-wgan-d", "r000-wgan-g"]


@pytest.mark.parametrize("name", DOCUMENTED)
def test_printed_table_is_the_reports_text(name: str, capsys: pytest.CaptureFixture) -> None:
    assert summary.main([name]) == 0
    out = capsys.readouterr().out.splitlines()
    documented = next(e for e in spec.load(name).evidence if e.kind == "summary").text.strip("\n").splitlines()
    start = out.index(documented[0])
    assert out[start:start + len(documented)] == documented
    assert "matches the report" in out


def test_mismatches_are_marked(capsys: pytest.CaptureFixture) -> None:
    net = spec.load("course-dcgan-d")
    ev = next(e for e in net.evidence if e.kind == "summary")
    wrong = ev.text.replace("4,864", "4,865").replace("4,316,545", "4,316,546").replace("18.83", "18.84")
    net = dataclasses.replace(net, evidence=(dataclasses.replace(ev, text=wrong),))
    table, _ = table_for(net)
    rendered = table.render()
    assert "Conv2d-1     [-1, 64, 32, 32]         4,864  <-- report: Conv2d-1 [-1, 64, 32, 32] 4,865" in rendered
    assert "Total params: 4,316,545  <-- report: 4,316,546" in rendered
    assert "Estimated Total Size (MB): 18.83  <-- report: 18.84" in rendered
    assert len(table.marks) == 3


def test_experiment_json_has_both_networks(capsys: pytest.CaptureFixture) -> None:
    assert summary.main(["r000-wgan", "--json"]) == 0
    payload = json.loads(capsys.readouterr().out)
    assert [p["network"] for p in payload] == ["r000-wgan-g", "r000-wgan-d"]
    assert payload[0]["total"] == 3_380_227 and payload[1]["total"] == 4_316_545
    assert payload[0]["mismatches"] == {} and payload[0]["documented"]["total"] == 3_380_227


def test_undocumented_network_uses_torchsummary_widths(capsys: pytest.CaptureFixture) -> None:
    assert summary.main(["r004-conv-g"]) == 0
    out = capsys.readouterr().out
    assert "-" * 64 in out and "no documented table" in out and "Total params: " in out


def test_list_and_unknown_name(capsys: pytest.CaptureFixture) -> None:
    assert summary.main(["--list"]) == 0
    assert "r003-collapse" in capsys.readouterr().out
    assert summary.main(["course-dcgan"]) == 2
    assert "did you mean" in capsys.readouterr().err
