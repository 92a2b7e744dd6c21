"""`gan-spec ingest REPORT --id r005`: a report's text -> spec files, every stated number checked.

find (printouts in the text) -> reprs / tables (parsed, after noise.clean) -> rebuild (spec network tables through
spec's strict reader) -> check (stated numbers against the built network) -> write (network files, draft errata,
draft experiment). The command is impl/ingest/command.py; docs/spec-format.md starts with it.
"""

from __future__ import annotations

from impl.ingest.command import main
from impl.ingest.pipeline import Ingested, ingest_text

__all__ = ["Ingested", "ingest_text", "main"]
