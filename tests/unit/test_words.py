"""The platform's own words: a resolved alert is "upphört" (its condition no longer holds), never
"åtgärdat" (acted on), which nothing the platform sees can tell (issue 23, item 8)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_no_resolved_alert_is_called_atgardad_anywhere_the_platform_writes():
    offenders = []
    for folder in ("services", "shared", "rules", "docs"):
        for path in (ROOT / folder).rglob("*"):
            if path.suffix in (".py", ".yaml", ".md", ".html") and re.search(
                    r"åtgärdad|åtgärdat", path.read_text(encoding="utf-8"), re.IGNORECASE):
                offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_the_reports_alert_rows_say_upphorda():
    from shared.apps.report.figures import _alert_rows

    per = {c: {"budget.ytd_deficit": {"raised": 1, "resolved": 1}} for c in ("current", "previous", "year_before")}
    labels = [r["label"] for r in _alert_rows("Larm", per)["rows"]]
    assert [label.rsplit(": ", 1)[1] for label in labels] == ["larm", "upphörda"]
    assert all("budget.ytd_deficit" not in label for label in labels)  # the rule by its Swedish description
