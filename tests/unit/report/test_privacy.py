"""The "< 5" rule: in one place (shared/apps/report/privacy.py) and applied to every count cell."""

from decimal import Decimal

from shared.apps.report import privacy
from shared.apps.report.figures import report_from_events

from .test_figures import case, diary, unit


def test_mask_hides_one_to_four_keeps_zero_and_five_up():
    assert [privacy.mask(n) for n in range(0, 7)] == [0, "< 5", "< 5", "< 5", "< 5", 5, 6]


def test_mask_with_hides_values_derived_from_small_counts():
    assert privacy.mask_with(4, Decimal("480.00")) == "< 5"
    assert privacy.mask_with(5, Decimal("600.00")) == Decimal("600.00")
    assert privacy.mask_with(0, None) is None


def test_chart_value_never_plots_a_masked_count():
    assert privacy.chart_value("< 5") == 0.0
    assert privacy.chart_value(7) == 7.0


def _cells(report):
    for name, sec in report["sections"].items():
        if "columns" in sec:  # the economy: tkr, not counts
            continue
        for row in sec["rows"]:
            for col in ("current", "previous", "year_before"):
                yield name, row, row[col]


def test_every_case_count_cell_in_a_report_is_masked_below_five():
    events = [case(f"c{i}", "2023-05-02T10:00:00+02:00", channel="1177", unit="SE2321000180-1") for i in range(6)]
    events += [case(f"p{i}", "2023-05-02T10:00:00+02:00", channel="phone", unit="SE2321000180-2",
                    code="vard.diagnos") for i in range(3)]
    events += [diary(f"c{i}", "2023-05-02T10:00:00+02:00") for i in range(2)]
    events += [unit("SE2321000180-1", "Vårdcentral Falun"), unit("SE2321000180-2", "Psykiatri Mora")]
    report = report_from_events(events, "2023")
    counts = [(n, r["key"], v) for n, r, v in _cells(report) if report["sections"][n]["unit"] in ("cases", "documents")]
    assert all(not (isinstance(v, int) and 0 < v < 5) for _, _, v in counts), counts
    ch = {r["key"]: r["current"] for r in report["sections"]["cases_by_channel"]["rows"]}
    assert ch == {"1177": 6, "phone": "< 5", "total": 9}
    units = {r["key"]: r["current"] for r in report["sections"]["cases_by_unit"]["rows"]}
    assert units["SE2321000180-2"] == "< 5" and units["SE2321000180-1"] == 6
    sub = {r["key"]: (r["current"], r["share"]) for r in report["sections"]["cases_by_sub_area"]["rows"]}
    assert sub["vard.diagnos"] == ("< 5", "< 5")  # the share would give the count away


def test_report_carries_no_free_text_or_names():
    events = [case(f"c{i}", "2023-05-02T10:00:00+02:00") for i in range(5)]
    events += [diary(f"c{i}", "2023-05-02T10:00:00+02:00", subject="Anna Andersson 19121212-1212 klagar") for i in range(5)]
    from shared.apps.report.render import render

    for fmt in ("json", "csv", "html"):
        text = render(report_from_events(events, "2023"), fmt)
        assert "Anna" not in text and "19121212" not in text and "klagar" not in text
