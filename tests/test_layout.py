"""The plan kept by the tree: impl/'s root holds the commands and nothing else (impl.console.COMMANDS is the one
list, which the console, these tests and the docs read), the shared machinery lives in packages, and the packages
import each other only in the order docs/design.md states."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from impl.console import COMMANDS
from tests.test_homes import imports

ROOT = Path(__file__).resolve().parent.parent
ENTRY = {"__init__", "__main__", "console"}  # the package itself, `python -m impl`, the `gan-spec` script


def documented_order() -> list[str]:
    """The package order of docs/design.md's line 'Package order: `core` < `networks` < ...'."""
    text = (ROOT / "docs" / "design.md").read_text(encoding="utf-8")
    found = re.search(r"^Package order: (.+)$", text, re.MULTILINE)
    assert found, "docs/design.md has no 'Package order:' line"
    return re.findall(r"`([a-z_]+)`", found.group(1))


def package_edges() -> set[tuple[str, str]]:
    """(package, package it imports) over impl/'s packages, type-only imports included."""
    edges = set()
    for module, used in imports("impl").items():
        parts = module.split(".")
        if len(parts) < 3:  # a command or a package's __init__ re-export at the top
            continue
        edges |= {(parts[1], u.split(".")[1]) for u in used
                  if u.count(".") >= 1 and u.split(".")[1] != parts[1] and (ROOT / "impl" / u.split(".")[1]).is_dir()}
    return edges


def test_impl_root_holds_exactly_the_commands() -> None:
    modules = {p.stem for p in (ROOT / "impl").glob("*.py")}
    assert modules - ENTRY == set(COMMANDS), "a module at impl/'s root that is no command belongs in a package"


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_each_command_is_a_parser_and_a_main(command: str) -> None:
    source = (ROOT / "impl" / f"{command}.py").read_text(encoding="utf-8")
    assert "\ndef main(" in source or "\nmain = " in source or "import main" in source, command


def test_every_package_is_in_the_documented_order_and_imports_only_earlier_ones() -> None:
    order = documented_order()
    packages = {p.parent.name for p in (ROOT / "impl").glob("*/__init__.py")}
    assert set(order) == packages, "docs/design.md's package order must name every package of impl/ once"
    rank = {name: i for i, name in enumerate(order)}
    backwards = sorted((a, b) for a, b in package_edges() if rank[b] >= rank[a])
    assert backwards == [], f"imports against docs/design.md's order: {backwards}"


@pytest.mark.parametrize("doc", ["README.md", "docs/design.md"])
def test_the_docs_name_every_command(doc: str) -> None:
    text = (ROOT / doc).read_text(encoding="utf-8")
    missing = [c for c in COMMANDS if f"impl.{c}" not in text and f"`{c}`" not in text]
    assert missing == [], f"{doc} does not name {missing}"
