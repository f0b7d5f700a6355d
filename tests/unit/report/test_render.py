"""Rendering: one self-contained HTML file with inline SVG charts, JSON, CSV; build time of a year."""

from __future__ import annotations

import csv
import io
import json
import time

import pytest

from shared.apps.report.build import decode_records, write_report
from shared.apps.report.figures import report_from_events
from shared.apps.report.render import render
from shared.contract.events import encode

from .sample import generate


@pytest.fixture(scope="module")
def report():
    return report_from_events(generate(2023, scale=0.3), "2023-Q3")


def test_html_is_self_contained_with_four_charts(report, tmp_path):
    path = write_report(report, "html", tmp_path / "r.html")
    text = path.read_text()
    assert text.startswith("<!DOCTYPE html>") and "<style>" in text and "@page { size: A4" in text
    assert text.count("<svg") == 4  # trend, main areas, providers, budget
    assert "src=\"http" not in text and "href=\"http" not in text.replace('xmlns', '') and "<script" not in text
    assert "Kvartalsrapport kv. 3 2023" in text and "kv. 2 2023" in text and "kv. 3 2022" in text


def test_json_and_csv_carry_the_same_cells(report):
    data = json.loads(render(report, "json"))
    rows = list(csv.DictReader(io.StringIO(render(report, "csv"))))
    by = {(r["section"], r["key"], r["measure"]): r for r in rows}
    for name, sec in data["sections"].items():
        if "columns" in sec:  # the economy: one CSV line per row and column
            for row in sec["rows"]:
                for col, _ in sec["columns"]:
                    measure = f"{row['measure']}:{col}" if "measure" in row else col
                    got = by[(name, row["key"], measure)]
                    assert got["current"] == ("" if row[col] is None else str(row[col]))
            continue
        for row in sec["rows"]:
            got = by[(name, row["key"], row.get("measure", ""))]
            assert got["current"] == ("" if row["current"] is None else str(row["current"]))


def test_unknown_format():
    with pytest.raises(ValueError):
        render({"sections": {}}, "docx")


def test_a_demo_year_builds_well_under_30_s():
    raw = [encode(e) for e in generate(2023)]
    started = time.monotonic()
    report = report_from_events(decode_records(raw), "2023")
    render(report, "html")
    assert time.monotonic() - started < 30


def test_web_view_response_is_one_pure_call():
    from shared.apps.report.view import report_response

    events = generate(2023, scale=0.1)
    status, ctype, body = report_response(events, "2023-Q3", "json")
    assert status == 200 and ctype == "application/json" and json.loads(body)["period"] == "2023-Q3"
    assert report_response(events, "2023", "html")[1].startswith("text/html")
    assert report_response(events, "1999", "html")[0] == 404
    assert report_response(events, "2023-Q9", "html")[0] == 400
    assert report_response(events, "2023", "docx")[0] == 400
    status, ctype, body = report_response(events, "2023", "excel")
    assert status == 200 and ctype == "text/csv; charset=utf-8" and body.startswith("\ufeff")


def test_html_leaves_out_charts_with_nothing_to_draw():
    from .test_figures import diary

    only_diary = [diary(f"c{i}", "2023-05-02T10:00:00+02:00") for i in range(6)]
    text = render(report_from_events(only_diary, "2023"), "html")
    assert "<svg" not in text and "Inga ärenden." in text
