"""The report as a web response, pure: decoded events in, (status, content type, body) out.

For `GET /reports/{period}` on the intake service's web port (officer role); the view reads the
topics (`shared.apps.report.build.read_events`) and makes one call to `report_response`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from shared.apps.report.figures import NoDataError, parse_period, report_from_events
from shared.apps.report.render import FORMATS, render

CONTENT_TYPES = {"html": "text/html; charset=utf-8", "json": "application/json", "csv": "text/csv; charset=utf-8",
                 "excel": "text/csv; charset=utf-8", "pdf": "application/pdf", "png": "image/png"}


def report_response(events: Iterable[Any], period: str, fmt: str = "html", *,
                    generated_at: datetime | None = None, region: str | None = None,
                    cost_centres: dict[str, str] | None = None) -> tuple[int, str, str | bytes]:
    """200 with the report (text, or bytes for pdf and png); 400 for a bad period or format; 404
    when the period has no data."""
    if fmt not in FORMATS:
        return 400, CONTENT_TYPES["json"], json.dumps({"error": f"format must be one of {', '.join(FORMATS)}"})
    try:
        report = report_from_events(events, parse_period(period), generated_at=generated_at, region=region,
                                    cost_centres=cost_centres)
    except NoDataError as exc:
        return 404, CONTENT_TYPES["json"], json.dumps({"error": str(exc)})
    except ValueError as exc:
        return 400, CONTENT_TYPES["json"], json.dumps({"error": str(exc)})
    return 200, CONTENT_TYPES[fmt], render(report, fmt)
