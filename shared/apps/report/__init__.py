"""Reports to the health board (quarter) and the annual analysis (year), built from the public topics.

`figures` counts (pure), `privacy` hides small counts, `render` writes HTML/JSON/CSV, `build`
reads the topics. `report_from_events(events, period)` is the pure entry for a web view.
"""

from shared.apps.report.figures import NoDataError, Period, parse_period, report_from_events

__all__ = ["NoDataError", "Period", "parse_period", "report_from_events"]
