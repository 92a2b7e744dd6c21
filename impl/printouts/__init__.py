"""Reading a report's network printouts: the machinery behind `gan-spec ingest` (impl/ingest.py, the command).

find (printouts in the text) -> reprs / tables (parsed, after noise.clean) -> rebuild (spec network tables through
spec's strict reader) -> check (stated numbers against the built network) -> write (network files, draft errata,
draft experiment); docs/spec-format.md starts with it.
"""

from __future__ import annotations

from impl.printouts.pipeline import Ingested, ingest_text

__all__ = ["Ingested", "ingest_text"]
