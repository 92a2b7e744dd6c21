"""HTML pages: a report comparing runs (html) and its charts (charts)."""
