"""Reports to the health board (quarter) and the annual report (year), built from the topics.

`figures` counts (pure), `economy` the account rows in tkr, `activity` assignments and advice
contacts, `names` what a reader sees instead of codes, `texts` the nämnd's own words, `privacy`
hides small counts, `render` writes HTML/PDF/PNG/JSON/CSV/Excel CSV, `build` reads the topics.
`report_from_events(events, period)` is the pure entry for a web view.
"""

from shared.apps.report.figures import NoDataError, Period, parse_period, report_from_events

__all__ = ["NoDataError", "Period", "parse_period", "report_from_events"]
