"""The one error of ingestion that refuses the whole report (exit 2, nothing written)."""

from __future__ import annotations

from impl.core.errors import BadInput


class IngestRefused(BadInput):
    """Input that ingest will not read at all: empty, binary, too big, a nesting bomb, absurd sizes, a taken id."""
