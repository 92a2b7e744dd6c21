"""HTML pages: a report comparing runs (html) and its charts (charts); a scorecard as a summary and a page per report
with its images as files (site); scorecards compared and exported as CSV (scorecards)."""
