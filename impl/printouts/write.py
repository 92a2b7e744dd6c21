"""Spec files out of an ingestion: one network file per rebuilt network (spec's TOML, readable by its strict
loader), and two drafts beside them in drafts/ (errata in the form of spec/errata.toml, and the experiment's
recipe), which the registry does not read until a person moves them. Nothing is written if anything would be
overwritten without --force, and the files are written only after every one of them was rendered."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from impl.core.files import Root
from impl.printouts.errors import IngestRefused


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} cannot be written to a spec file")
        text = repr(value)
        return text if any(c in text for c in ".e") else text + ".0"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {toml_value(v)}" for k, v in value.items() if v is not None) + "}"
    raise ValueError(f"{value!r} cannot be written to a spec file")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def _multiline(text: str) -> str:
    return f"'''\n{text}\n'''" if "'''" not in text and text.isprintable() is not None else toml_value(text)


def render(top: dict[str, Any], arrays: dict[str, list[dict[str, Any]]], header: str = "") -> str:
    """A TOML document: `top` as key = value lines, then each array of tables (`[[module]]`, ...)."""
    lines = [f"# {line}" for line in header.splitlines()]
    for key, value in top.items():
        if key == "forward":
            lines.append("forward = [")
            lines += [f"  {toml_value(step)}," for step in value]
            lines.append("]")
        elif value is not None:
            lines.append(f"{_key(key)} = {toml_value(value)}")
    for name, items in arrays.items():
        for item in items:
            lines += ["", f"[[{name}]]"]
            for key, value in item.items():
                if key == "text":
                    lines.append(f"text = {_multiline(value)}")
                elif value is not None and value != {}:
                    lines.append(f"{_key(key)} = {toml_value(value)}")
    return "\n".join(lines) + "\n"


def network_file(table: dict[str, Any], evidence: list[dict[str, Any]]) -> str:
    top = {k: v for k, v in table.items() if k != "module"}
    return render(top, {"module": table["module"], "evidence": evidence},
                  header="written by `gan-spec ingest`: values read from the report's printout are documented,\n"
                         "values inferred carry a note saying how; check the notes before trusting them")


def errata_file(drafts: list[dict[str, Any]]) -> str:
    return render({}, {"erratum": drafts}, header="draft errata from `gan-spec ingest`: every stated number the "
                  "rebuilt network does not reproduce.\nReview each; move the real ones into spec/errata.toml with "
                  "a check (docs/errata.md).")


def experiment_file(recipe: dict[str, Any], networks: dict[str, str]) -> str:
    top = {**networks, **recipe}
    return render(top, {}, header="draft experiment from `gan-spec ingest`: each value with the line it was read "
                  "from.\nComplete it (data set, loss family) into spec/experiments/ (docs/spec-format.md).")


def write_all(root: Path, files: dict[str, str], force: bool) -> list[Path]:
    """Write every file (paths relative to the spec folder `root`) or none: refused (exit 2) if one exists and
    `force` is not given. Links inside `root` are refused, never followed (impl.core.files.Root)."""
    taken = [name for name in files if (root / name).exists()]
    if taken and not force:
        raise IngestRefused(f"{root / taken[0]} already exists ({len(taken)} of the {len(files)} files would be "
                            "overwritten); choose another --id or pass --force")
    folder = Root(root)
    return [folder.write_text(name, text) for name, text in files.items()]
