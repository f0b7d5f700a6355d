"""`pn report` on the real broker: a known set of events published straight onto the contract's
output topics (the reader is under test, not the services), every count checked against an
independent count made here from the events themselves."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from shared.apps.report.economy import tkr
from shared.contract.topics import (
    ADVICE_CONTACTS,
    ALERTS_BUDGET,
    ALERTS_OPS,
    BILLING_INVOICES,
    BUDGET_STATUS,
    CARE_UNITS,
    CASES_OPENED,
    DIARY_ENTRIES,
    FEES_CALCULATED,
    FEES_PAYOUTS,
    LETTERS_DISPATCHED,
    SUPPORT_ASSIGNMENTS,
)
from shared.kafka.io import produce

from ..unit.report.sample import generate
from ..unit.report.test_figures import case

pytestmark = pytest.mark.broker
SE = ZoneInfo("Europe/Stockholm")
TOPIC_OF = {"pn.case.opened": CASES_OPENED, "pn.diary.registered": DIARY_ENTRIES, "pn.letter.dispatched": LETTERS_DISPATCHED,
            "pn.fee.calculated": FEES_CALCULATED, "pn.fee.payout": FEES_PAYOUTS, "pn.invoice.issued": BILLING_INVOICES,
            "pn.budget.status": BUDGET_STATUS, "pn.care_unit.upserted": CARE_UNITS,
            "pn.support.assigned": SUPPORT_ASSIGNMENTS, "pn.support.ended": SUPPORT_ASSIGNMENTS,
            "pn.advice.contact_registered": ADVICE_CONTACTS}


def pn_report(bootstrap: str, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "PN_KAFKA_BOOTSTRAP": bootstrap}
    return subprocess.run([sys.executable, "-m", "shared.cli", "report", *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


async def publish(settings, events) -> None:
    by_topic, topics = defaultdict(list), {}
    for e in events:
        if e.type in ("pn.alert.raised", "pn.alert.resolved"):
            t = ALERTS_BUDGET if e.data.rule_id.startswith("budget.") else ALERTS_OPS
        else:
            t = TOPIC_OF[e.type]
        topics[t.name] = t
        by_topic[t.name].append(e)
    await asyncio.gather(*(produce(settings, topics[n], evs) for n, evs in by_topic.items()))


def masked(n: int):
    return "< 5" if 0 < n < 5 else n


def local_year(at: datetime) -> int:
    return at.astimezone(SE).year


def rows(report, section, col="current"):
    return {(r["key"], r.get("measure")) if "measure" in r else r["key"]: r[col] for r in report["sections"][section]["rows"]}


@pytest.fixture(scope="module")
def year_events(broker):
    from shared.service.settings import PnSettings

    unique = os.urandom(4).hex()
    year = 2060 + int(unique, 16) % 39
    events = generate(year, scale=0.06, seed=int(unique, 16), tag=f"it{unique}")
    # the same event twice on its topic must not count twice (the contract's idempotency key)
    events.append(next(e for e in events if e.type == "pn.case.opened"))
    asyncio.run(publish(PnSettings(kafka_bootstrap=broker.bootstrap), events))
    return year, events


def test_pn_report_json_counts_equal_independent_counts(broker, year_events, tmp_path: Path):
    year, events = year_events
    out = tmp_path / "r.json"
    res = pn_report(broker.bootstrap, "--period", str(year), "--format", "json", "--out", str(out))
    assert res.returncode == 0, res.stderr
    report = json.loads(out.read_text())
    assert report["period"] == str(year) and report["periods"]["previous"]["name"] == str(year - 1)

    def of(t):
        return list({e.id: e.data for e in events if e.type == t}.values())

    for col, y in (("current", year), ("previous", year - 1)):
        cases = [c for c in of("pn.case.opened") if local_year(c.opened_at) == y]
        ch = rows(report, "cases_by_channel", col)
        assert ch.pop("total") == masked(len(cases))
        assert {k: v for k, v in ch.items() if v != 0} == {k: masked(v) for k, v in Counter(c.channel for c in cases).items()}
        sub = rows(report, "cases_by_sub_area", col)
        assert {k: v for k, v in sub.items() if v} == {k: masked(v) for k, v in Counter(
            "ovrigt" if c.categories[0].code in ("ovrigt", "other") else c.categories[0].code for c in cases).items()}
        for section, attr in (("cases_by_unit", "care_unit_hsa_id"), ("cases_by_provider", "care_provider")):
            counted = Counter(getattr(c, attr) for c in cases)
            got = rows(report, section, col)
            rest = got.pop("rest")
            assert len(got) == min(10, len(counted)) or col != "current"
            for key, v in got.items():
                assert v == masked(counted[key]), (section, key)
            assert rest == masked(sum(v for k, v in counted.items() if k not in got))

        diary = [d for d in of("pn.diary.registered") if local_year(d.registered_at) == y]
        lt = rows(report, "letters", col)
        assert lt == {"complaints_registered": masked(sum(d.document_kind == "complaint" for d in diary)),
                      "letters_registered_in": masked(sum(d.document_kind == "letter" and d.direction == "in" for d in diary)),
                      "letters_registered_out": masked(sum(d.document_kind == "letter" and d.direction == "out" for d in diary)),
                      "letters_dispatched": masked(sum(local_year(d.dispatched_at) == y for d in of("pn.letter.dispatched")))}

        fees = [f for f in of("pn.fee.calculated") if f.visit_date.year == y]
        pays = [p for p in of("pn.fee.payout") if p.period.startswith(f"{y}-")]
        sp = rows(report, "support", col)
        assert sp["visits"] == masked(len(fees))
        assert sp["support_persons_active"] == masked(len({f.support_person_id for f in fees}))
        assert sp["fees_total"] == tkr(sum(f.total for f in fees))
        assert sp["payouts"] == masked(len(pays)) and sp["payouts_total"] == tkr(sum(p.total for p in pays))
        advice = [a for a in of("pn.advice.contact_registered") if a.date.year == y]
        assert rows(report, "advice", col)["total"] == masked(len(advice))
        if col == "current":
            started = [a for a in of("pn.support.assigned") if a.start_date.year == y]
            assert sp["assignments_new"] == masked(len(started))

        inv = [i for i in of("pn.invoice.issued") if i.period.startswith(f"{y}-")]
        days = rows(report, "out_of_region_days", col)
        amounts = rows(report, "out_of_region_amount", col)
        for region in {i.home_region for i in inv}:
            n = sum(line.quantity for i in inv if i.home_region == region for line in i.lines)
            assert days[region] == masked(n)
            assert amounts[region] == ("< 5" if 0 < n < 5 else tkr(sum(i.total for i in inv if i.home_region == region)))

        last = {}
        for s in of("pn.budget.status"):
            if s.year == y and s.period >= last.get(s.cost_centre, (None, ""))[1]:
                last[s.cost_centre] = (s, s.period)
        bud = {(r["key"], r["measure"]): r for r in report["sections"]["budget"]["rows"]}
        forecast = {r["key"]: r for r in report["sections"]["forecast"]["rows"]}
        for cc, (s, _) in last.items():  # tkr, the net row of each cost centre; the previous year beside it
            if col == "current":
                assert bud[(cc, "netto")]["deviation"] == tkr(s.total.deviation)
                assert bud[(cc, "netto")]["actual"] == tkr(s.total.actual_ytd)
                assert forecast[cc]["forecast_run_rate"] == tkr(s.total.forecast_run_rate)
            else:
                assert bud[(cc, "netto")]["previous_year"] == tkr(s.total.actual_ytd)

        raised = [a for a in of("pn.alert.raised") if local_year(a.raised_at) == y]
        resolved = [a for a in of("pn.alert.resolved") if local_year(a.resolved_at) == y]
        spikes = rows(report, "spike_alerts", col)
        assert spikes[("intake.complaint_spike", "raised")] == sum(a.rule_id == "intake.complaint_spike" for a in raised)
        assert spikes[("intake.complaint_spike", "resolved")] == sum(a.rule_id == "intake.complaint_spike" for a in resolved)
        balerts = rows(report, "budget_alerts", col)
        assert balerts[("budget.forecast_deficit", "raised")] == sum(a.rule_id.startswith("budget.") for a in raised)

    trend = {r["year"]: r["cases"] for r in report["trend"]["rows"]}
    assert trend == {y: masked(sum(local_year(c.opened_at) == y for c in of("pn.case.opened"))) for y in range(year - 5, year + 1)}


def test_pn_report_quarter_boundary_csv_and_html(broker, year_events, tmp_path: Path):
    from shared.service.settings import PnSettings

    year = year_events[0] - 30  # a year nothing else in this session uses
    events = [case(f"qa{year}-{i}", f"{year}-03-31T23:59:00+02:00") for i in range(5)]
    events += [case(f"qb{year}-{i}", f"{year}-04-01T00:00:00+02:00", channel="phone") for i in range(6)]
    asyncio.run(publish(PnSettings(kafka_bootstrap=broker.bootstrap), events))
    out = tmp_path / "q.json"
    res = pn_report(broker.bootstrap, "--period", f"{year}-Q2", "--format", "json", "--out", str(out))
    assert res.returncode == 0, res.stderr
    ch = rows(json.loads(out.read_text()), "cases_by_channel")
    prev = rows(json.loads(out.read_text()), "cases_by_channel", "previous")
    assert (ch["total"], ch["phone"], ch.get("1177", 0)) == (6, 6, 0)
    assert (prev["total"], prev["1177"]) == (5, 5)
    text = tmp_path / "texts.md"
    text.write_text("## Mål\nBudget i balans.\n", encoding="utf-8")
    for fmt in ("csv", "html", "excel", "pdf"):
        res = pn_report(broker.bootstrap, "--period", f"{year}-Q1", "--format", fmt, "--text", str(text),
                        "--out", str(tmp_path / f"q.{fmt}"))
        assert res.returncode == 0, res.stderr
        assert (tmp_path / f"q.{fmt}").stat().st_size > 500
    assert "Budget i balans." in (tmp_path / "q.html").read_text()
    assert (tmp_path / "q.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / "q.excel").read_bytes().startswith(b"\xef\xbb\xbf")
    text.write_text("## Ekonomi\növerskott\n", encoding="utf-8")
    res = pn_report(broker.bootstrap, "--period", f"{year}-Q1", "--text", str(text), "--out", str(tmp_path / "x.html"))
    assert res.returncode == 2 and "unknown heading 'Ekonomi'" in res.stderr


def test_period_without_data_and_unreachable_broker_give_clear_errors(broker, tmp_path: Path):
    res = pn_report(broker.bootstrap, "--period", "2001-Q3", "--format", "json", "--out", str(tmp_path / "x.json"))
    assert res.returncode == 1 and "no data for 2001-Q3" in res.stderr
    assert not (tmp_path / "x.json").exists()
    res = pn_report("127.0.0.1:1", "--period", "2023", "--out", str(tmp_path / "y.html"), timeout=60)
    assert res.returncode == 1 and "cannot read the topics from the broker at 127.0.0.1:1" in res.stderr
    assert "Traceback" not in res.stderr
