"""The whole system: all five services as processes on their own embedded broker, the demo's
year at a small scale, and the facts that only hold when the services work together."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from decimal import Decimal

import pytest

from shared.auth import new_token
from shared.broker import EmbeddedBroker
from shared.demo.runner import collect, run_scenario
from shared.demo.scenario import Scenario
from shared.settings import SERVICES, PnSettings
from shared.supervisor import Stack

pytestmark = [pytest.mark.broker, pytest.mark.slow]

OFFICER, OFFICER_ENTRY = new_token("e2e-officer", "officer")
SUBMITTER, SUBMITTER_ENTRY = new_token("e2e-submitter", "submitter")
TOKENS = ";".join(e.line() for e in (OFFICER_ENTRY, SUBMITTER_ENTRY))


@pytest.fixture(scope="module")
def system(tmp_path_factory):
    work = tmp_path_factory.mktemp("e2e")
    broker = EmbeddedBroker(log_file=work / "broker.log").start()  # a broker of its own: numbering starts at 1
    stack = Stack(SERVICES, work_dir=work, bootstrap=broker.bootstrap, env={"PN_FEES_HOLD_S": "3", "PN_FEES_TICK_S": "1", "PN_DIARY_BACKFILL": "true",
                                            "PN_TOKENS": TOKENS})
    try:
        stack.start(timeout=180)
        settings = PnSettings(kafka_bootstrap=broker.bootstrap)
        scenario = Scenario(year=2023, scale=0.04)
        asyncio.run(run_scenario(settings, scenario, list(SERVICES), hold_seconds=4))
        asyncio.run(_every_case_registered(settings))  # under load the diary may trail the last settle
        events = asyncio.run(collect(settings))
        yield scenario, events, stack
    finally:
        stack.stop()
        broker.stop()


async def _every_case_registered(settings: PnSettings) -> None:
    from shared.kafka_io import events_of, wait_for

    def done(records) -> bool:
        events = events_of(records)
        cases = {e.data.case_id for e in events if e.type == "pn.case.opened"}
        registered = {e.data.case_id for e in events if e.type == "pn.diary.registered"
                      and e.data.document_kind == "complaint"}
        return bool(cases) and cases <= registered

    await wait_for(settings, ["pn.cases.opened", "pn.diary.entries"], done, timeout=90)


def test_every_case_has_a_diary_entry(system):
    _, events, _ = system
    cases = {e.data.case_id for e in events["pn.cases.opened"]}
    registered = {e.data.case_id for e in events["pn.diary.entries"] if e.data.document_kind == "complaint"}
    assert cases and cases <= registered
    holders: dict[str, set[str]] = {}  # diary number → the documents registered under it
    for e in events["pn.diary.entries"]:
        holders.setdefault(e.data.diary_number, set()).add(f"{e.data.direction}:{e.data.document_kind}:"
                                                            f"{e.data.document_id or e.data.case_id}")
    assert {n: docs for n, docs in holders.items() if len(docs) > 1} == {}


def test_every_outgoing_letter_is_dispatched_with_its_diary_number(system):
    scenario, events, _ = system
    entries = {e.data.diary_number: e.data for e in events["pn.diary.entries"]}
    dispatched = {e.data.letter_id: e.data for e in events["pn.letters.dispatched"]}
    sent = scenario.expect.letters_out
    assert sent > 0 and len(dispatched) == sent
    for letter in dispatched.values():
        entry = entries[letter.diary_number]
        assert entry.direction == "out" and entry.document_kind == "letter"


def test_fee_and_invoice_postings_show_up_in_the_budget_status(system):
    _, events, _ = system
    fees = sum((e.data.total for e in events["pn.fees.calculated"]), Decimal(0))
    invoiced = sum((e.data.total for e in events["pn.billing.invoices"] if e.data.period.startswith("2023")),
                   Decimal(0))
    assert fees > 0 and invoiced > 0
    booked, platform = {}, {}
    for e in events["pn.finance.postings"]:
        if e.data.period.startswith("2023"):
            key = (e.data.cost_centre, e.data.account_group)
            booked[key] = booked.get(key, Decimal(0)) + e.data.amount
            if e.source.startswith("/pn/"):  # fees and billing; the rest is the finance system's fixed postings
                platform[key] = platform.get(key, Decimal(0)) + e.data.amount
    status = {}
    for e in events["pn.budget.status"]:
        if e.data.year == 2023:
            status[e.data.cost_centre] = e.data
    own = {"6101", "6102", "6103"}  # the nämnd's cost centres: the only ones the budget monitor counts
    for (cc, group), amount in booked.items():
        if cc in own:
            assert status[cc].account_groups[group].actual_ytd == amount
        else:  # the health-care administration's invoice income (rules/billing.yaml `revenue`)
            assert cc not in status
    assert -sum(a for (cc, g), a in platform.items() if g != "revenue") == fees
    assert sum(a for (cc, g), a in platform.items() if g == "revenue") == invoiced  # the transfer nets to 0


def test_invoices_price_every_billed_day_at_120_kr(system):
    _, events, _ = system
    for e in events["pn.billing.invoices"]:
        days = sum(line.quantity for line in e.data.lines)
        assert sum((line.amount for line in e.data.lines), Decimal(0)) == days * Decimal("120.00")


def test_the_scenarios_alerts_are_raised(system):
    _, events, _ = system
    raised = [e.data for e in events["pn.alerts.ops"] + events["pn.alerts.budget"] if e.type == "pn.alert.raised"]
    rules = {a.rule_id for a in raised}
    assert sum(a.rule_id == "intake.unknown_care_unit" for a in raised) == 3
    assert "intake.complaint_spike" in rules
    assert any(r.startswith("budget.") for r in rules)


def test_nothing_is_dead_lettered_but_the_injected_bad_input(system):
    scenario, events, _ = system
    letters = events["pn.deadletter"]
    assert len(letters) == scenario.expect.malformed
    assert {e.data.source_topic for e in letters} == {"pn.complaints.submitted"}


def test_every_complaint_is_a_case_or_a_rejection(system):
    scenario, events, _ = system
    assert len(events["pn.cases.opened"]) == scenario.expect.complaints_valid + scenario.expect.complaints_history
    assert len(events["pn.complaints.rejected"]) == scenario.expect.complaints_invalid


def _get(stack, service: str, path: str, token: str | None) -> tuple[int, dict, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.processes[service].web_port}{path}")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def test_every_protected_view_of_every_service_needs_the_right_role(system):
    _, events, stack = system
    case_id = events["pn.cases.opened"][0].data.case_id
    number = events["pn.diary.entries"][0].data.diary_number  # "PN 2023/7"
    year, n = number.split(" ")[1].split("/")
    views = [("intake", f"/cases/{case_id}"), ("intake", "/reports/2023?format=json"),
             ("diary", f"/diary/{year}/{n}"), ("diary", f"/diary?case_id={case_id}"),
             ("diary", "/diary/export?year=2023"), ("fees", "/fees/summary?year=2023"),
             ("billing", "/billing/summary?year=2023"), ("budget", "/budget/2023")]
    for service, path in views:
        status, headers, _ = _get(stack, service, path, None)
        assert status == 401 and "Bearer" in headers.get("WWW-Authenticate", ""), (service, path)
        assert _get(stack, service, path, "pn_not-a-real-token")[0] == 401, (service, path)
        assert _get(stack, service, path, SUBMITTER)[0] == 403, (service, path)
        assert _get(stack, service, path, OFFICER)[0] == 200, (service, path)
    for service in ("intake", "diary", "fees", "billing", "budget"):
        assert _get(stack, service, "/health", None)[0] == 200
        status, _, body = _get(stack, service, "/metrics", None)
        assert status == 200 and b"pn_events_in_total" in body
        # an operator watches memory next to throughput: the process's RSS and RocksDB's part of it
        rss = _metric(body, b"process_resident_memory_bytes")
        budget = PnSettings().rocksdb_memory_mb * 2**20  # the stack runs with the defaults
        assert 20e6 < rss < 1e9 and 0 <= _metric(body, b"pn_rocksdb_memory_bytes{") <= 1.5 * budget


def _metric(body: bytes, name: bytes) -> float:
    line = next(line for line in body.splitlines() if line.startswith(name))
    return float(line.rsplit(b" ", 1)[1])


def test_case_reads_are_audited_without_content(system):
    import asyncio

    from shared.kafka_io import events_of, read_all

    _, events, stack = system
    case = events["pn.cases.opened"][1].data
    assert _get(stack, "intake", f"/cases/{case.case_id}", OFFICER)[0] == 200
    settings = PnSettings(kafka_bootstrap=stack.bootstrap)
    audits = [e for e in events_of(asyncio.run(read_all(settings, ["pn.audit.reads"])))
              if case.case_id in e.model_dump_json()]
    assert len(audits) == 1 and audits[0].data.who == "e2e-officer"
    text = json.dumps([json.loads(a.model_dump_json()) for a in audits])
    assert "description" not in text and "personnummer" not in text
