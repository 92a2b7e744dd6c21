"""One home per fact: each fact that several modules use is defined once, and every derived copy is tied to it here
(a change to one side alone fails a test). Also the plan of the tree: no import circle, no package importing a
command, and each run-folder file named in at most two modules."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import spec
from impl import console
from impl.pages.charts import COLUMNS
from impl.train import parser as train_parser
from impl.training import overrides
from impl.training.losses import FAMILIES
from spec.metrics import METRICS
from spec.recipe import FAMILY_VALUES, LOSSES, OPTIMIZERS, OVERRIDES

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = set(console.COMMANDS)  # the one list (tests/test_layout.py ties impl/'s root to it)


def test_the_trainer_has_a_record_for_every_loss_family_and_follows_its_rules() -> None:
    assert set(FAMILIES) == set(LOSSES)
    for name, family in FAMILIES.items():
        rules = LOSSES[name]
        assert family.clips == ("clip_value" in rules.reads), name
        assert family.penalty == ("gp_weight" in rules.reads), name
        assert family.n_critic == rules.n_critic, name


@pytest.mark.parametrize("name", spec.names("experiment"))
def test_an_experiment_records_exactly_the_family_values_its_loss_reads(name: str) -> None:
    exp = spec.load(name)
    reads = LOSSES[exp.loss.value].reads
    assert {k for k in FAMILY_VALUES if k in exp.facts()} <= set(reads)
    for needed in LOSSES[exp.loss.value].needs:
        assert getattr(exp, needed) is not None


def test_every_optimizer_argument_can_be_overridden_and_nothing_else() -> None:
    arguments = {"lr"} | {arg for args in OPTIMIZERS.values() for arg in args}
    assert {k.removeprefix("optimizer.") for k in OVERRIDES if k.startswith("optimizer.")} == arguments


def test_set_offers_the_recipe_keys_of_the_one_table() -> None:
    assert overrides.SETTABLE == tuple(k for k, rule in OVERRIDES.items() if rule.recipe)
    assert "steps" not in overrides.SETTABLE and "optimizer.nesterov" in overrides.SETTABLE
    assert all(key in train_parser().format_help().replace("\n", " ") for key in ("optimizer.lr", "clip_value"))


def test_the_report_takes_each_metric_direction_from_spec() -> None:
    for column in COLUMNS:
        if column.key in METRICS:
            assert column.better == (METRICS[column.key].better or None), column.key


def test_docs_state_each_metric_direction_as_spec_does() -> None:
    """docs/metrics.md's 'better' column begins with the direction spec/metrics.py gives (or says what it is read
    against, for a metric with no better direction)."""
    rows = {}
    for line in (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and line.startswith("| `"):
            for key in re.findall(r"`([a-z0-9_]+)`", cells[0]):
                rows[key] = cells[-1]
    for key, metric in METRICS.items():
        assert key in rows, f"docs/metrics.md has no row for {key}"
        if metric.better:
            assert rows[key].startswith(metric.better), (key, rows[key])
        else:
            assert not rows[key].startswith(("lower", "higher")), (key, rows[key])


def imports(package: str) -> dict[str, set[str]]:
    """module -> the modules of the same top package it imports (at any depth of the file)."""
    graph: dict[str, set[str]] = {}
    for path in (ROOT / package).rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        found = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == package:
                found |= {f"{node.module}.{a.name}" if node.module == package else node.module for a in node.names}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.split(".")[0] == package}
        graph[name] = {m for m in found if m != name}
    return graph


def cycle(graph: dict[str, set[str]]) -> list[str]:
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str]:
        state[node] = 1
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path + [node, nxt]
            if nxt in graph and not state.get(nxt) and (found := visit(nxt, path + [node])):
                return found
        state[node] = 2
        return []

    for start in sorted(graph):
        if not state.get(start) and (found := visit(start, [])):
            return found
    return []


@pytest.mark.parametrize("package", ["impl", "spec"])
def test_no_import_circle(package: str) -> None:
    graph = imports(package)
    graph = {k: {m for m in v if m in graph} for k, v in graph.items()}
    assert cycle(graph) == []


def test_no_package_imports_a_command() -> None:
    """impl's packages are the machinery; the commands at impl/'s root are thin users of it, never used by it."""
    for module, used in imports("impl").items():
        if module.count(".") >= 2:  # impl.<package>.<module>
            assert not {m for m in used if m.removeprefix("impl.") in COMMANDS}, module


def test_each_run_folder_file_is_named_in_at_most_two_modules() -> None:
    names = ("config.json", "metrics.jsonl", "metrics.json", "epoch_metrics.jsonl", "latent.json", "loss.png")
    spelled: dict[str, set[str]] = {name: set() for name in names}
    for path in (ROOT / "impl").rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        docstrings = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, ast.Module | ast.FunctionDef |
                      ast.ClassDef) and n.body and isinstance(n.body[0], ast.Expr)}
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
                for name in names:
                    if re.search(rf"(^|[/ ]){re.escape(name)}($|[ ,;)])", node.value):
                        spelled[name].add(path.relative_to(ROOT).as_posix())
    assert {name: sorted(where) for name, where in spelled.items() if len(where) > 2} == {}
