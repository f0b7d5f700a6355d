"""Issue 22's part of the fuzz run: on every input topic, an oversized poison record (1.2 MB of
random bytes, more than a dead letter can carry whole) followed on the same partition by a valid
record that must take effect, and then a record reusing that valid record's event id with other
content, which every consumer must refuse with a reason and which must take no effect.

`build(tag, seed)` returns the records to send, in order, with their keys, and what must come of
them; `tests/reliability/fuzz_run.py` sends them after the mixed bad and valid messages and
`test_fuzz.py` checks them per service.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from services.billing.handlers import day_key
from shared.contract.events import BudgetSet, LedgerPosted, PeriodCloseRequested, encode, make_event
from shared.contract.topics import (
    CARE_DAYS,
    CARE_UNITS,
    CASES_OPENED,
    COMMANDS,
    COMPLAINTS_SUBMITTED,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    Topic,
)

from ..unit.billing.factories import care_day
from ..unit.diary.factories import case_opened, letter_in, letter_out
from ..unit.fees.factories import assigned, visit
from ..unit.intake.factories import care_unit, complaint
from .fuzz_messages import CONSUMERS, HAS_BUDGET, HAS_FEES

OVERSIZED_BYTES = 1_200_000
BUDGET_YEAR = 2091  # the fuzz run has a broker of its own: no other budget of this year
REUSED = "event_id_reused"


@dataclass
class Record:
    kind: str  # oversized | valid | reused
    topic: str
    value: bytes
    key: bytes
    event_id: str | None = None
    partition: int = -1
    offset: int = -1


@dataclass
class Plan:
    records: list[Record] = field(default_factory=list)
    complaints: set[str] = field(default_factory=set)  # complaint event ids that must open a case
    documents: set[tuple[str, str, str]] = field(default_factory=set)  # diary entries that must come
    not_documents: set[tuple[str, str, str]] = field(default_factory=set)  # of reused ids: must not
    days: set[str] = field(default_factory=set)  # billing day keys that must be stored
    not_days: set[str] = field(default_factory=set)
    visits: set[str] = field(default_factory=set)  # visit ids that must be paid
    not_visits: set[str] = field(default_factory=set)  # visit ids that must be refused, never paid
    postings_total: str = "0.00"  # the cost centre's actual year-to-date after the postings

    def of(self, kind: str) -> list[Record]:
        return [r for r in self.records if r.kind == kind]


def _event(data: Any, id: str) -> Any:
    return make_event(data, source="/test/fuzz", time=datetime.now(UTC), id=id)


def build(tag: str, seed: int) -> Plan:
    rng = random.Random(seed)
    plan = Plan()

    def pair(topic: Topic, first: Any, other: Any, key: str) -> None:
        """Poison, then the valid record, then the same id with other content: one key, one partition."""
        event_id = f"{tag}-p22-{topic.name}"
        plan.records.append(Record("oversized", topic.name, rng.randbytes(OVERSIZED_BYTES), key.encode()))
        plan.records.append(Record("valid", topic.name, encode(_event(first, event_id)), key.encode(), event_id))
        plan.records.append(Record("reused", topic.name, encode(_event(other, event_id)), key.encode(), event_id))

    unit = f"SE2321000180-Q{tag}"
    pair(CARE_UNITS, care_unit(unit), care_unit(f"{unit}9"), unit)
    pair(COMPLAINTS_SUBMITTED,
         complaint(external_ref=f"{tag}-p22", care_unit_hsa_id=unit, description="Fuzz p22: första klagomålet"),
         complaint(external_ref=f"{tag}-p22b", care_unit_hsa_id=unit, description="Fuzz p22: ett annat klagomål"),
         f"{tag}-p22")
    plan.complaints.add(f"{tag}-p22-{COMPLAINTS_SUBMITTED.name}")
    case, other_case = f"FZ-{tag}-p22", f"FZ-{tag}-p22b"
    pair(CASES_OPENED, case_opened(case, care_unit_hsa_id=unit), case_opened(other_case, care_unit_hsa_id=unit), case)
    pair(LETTERS_INCOMING, letter_in(f"{tag}-p22-R", case), letter_in(f"{tag}-p22-R2", other_case), case)
    pair(LETTERS_OUTGOING, letter_out(f"{tag}-p22-L", case, recipient=unit),
         letter_out(f"{tag}-p22-L2", other_case, recipient=unit), case)
    plan.documents |= {(case, "in", "complaint"), (case, "in", "letter"), (case, "out", "letter")}
    plan.not_documents |= {(other_case, "in", "complaint"), (other_case, "in", "letter"),
                           (other_case, "out", "letter")}
    day = care_day(home="21", on="2023-05-05", care_day_id=f"{tag}-p22-D", patient=f"{tag}-p22-P",
                   stay=f"{tag}-p22-S")
    other_day = care_day(home="21", on="2023-05-06", care_day_id=f"{tag}-p22-D2", patient=f"{tag}-p22-P2",
                         stay=f"{tag}-p22-S2")
    pair(CARE_DAYS, day, other_day, f"{tag}-p22-P")
    plan.days.add(day_key(day))
    plan.not_days.add(day_key(other_day))
    pair(COMMANDS, PeriodCloseRequested(service="billing", period="2099-11"),
         PeriodCloseRequested(service="billing", period="2099-12"), "billing")
    if HAS_FEES:
        person, assignment = f"{tag}-p22-SP", f"{tag}-p22-A"
        pair(SUPPORT_ASSIGNMENTS, assigned(assignment, person, date(2023, 1, 1)),
             assigned(f"{assignment}2", person, date(2023, 1, 1)), person)
        pair(SUPPORT_VISITS, visit(f"{tag}-p22-V", date(2023, 3, 1), assignment_id=assignment, sp=person),
             visit(f"{tag}-p22-V2", date(2023, 3, 8), assignment_id=assignment, sp=person), person)
        plan.visits.add(f"{tag}-p22-V")
        plan.not_visits.add(f"{tag}-p22-V2")
    if HAS_BUDGET:
        monthly = ["-1000.00"] * 12
        pair(FINANCE_BUDGETS, BudgetSet(year=BUDGET_YEAR, cost_centre="6101", account_group="other", monthly=monthly),
             BudgetSet(year=BUDGET_YEAR, cost_centre="6101", account_group="other", monthly=["-1.00"] * 12), "6101")
        pair(FINANCE_POSTINGS, LedgerPosted(posting_id=f"{tag}-p22-post", period=f"{BUDGET_YEAR}-01",
                                            cost_centre="6101", account_group="other", amount="-120.00", text="p22"),
             LedgerPosted(posting_id=f"{tag}-p22-post2", period=f"{BUDGET_YEAR}-01", cost_centre="6101",
                          account_group="other", amount="-7.00", text="p22"), "6101")
        plan.postings_total = "-120.00"
    covered = {r.topic for r in plan.records}
    for name in CONSUMERS:  # topics without a valid record of ours (diary entries, ticks): the poison alone
        if name not in covered:
            plan.records.append(Record("oversized", name, rng.randbytes(OVERSIZED_BYTES), f"{tag}-p22".encode()))
    return plan


def problems(plan: Plan, records: dict[str, list[Any]], data_of: Any, key_of: Any) -> dict[str, list[str]]:
    """What is missing or wrong, per service: {} when every promise held. `records` by topic name."""
    out: dict[str, list[str]] = {}

    def fail(service: str, what: str) -> None:
        out.setdefault(service, []).append(what)

    letters: dict[tuple[Any, ...], dict[str, Any]] = {}
    for r in records.get("pn.deadletter", []):
        d = data_of(r.value)
        if "service" in d:
            letters[(d["service"], d["source_topic"], d["partition"], d["offset"])] = d
    for rec in plan.of("oversized"):
        for service in CONSUMERS[rec.topic]:
            d = letters.get((service, rec.topic, rec.partition, rec.offset))
            if d is None:
                fail(service, f"oversized record on {rec.topic} not dead-lettered")
            elif not (d.get("raw_truncated") and d.get("raw_size") == OVERSIZED_BYTES and d.get("raw_sha256")):
                fail(service, f"oversized record on {rec.topic}: dead letter not marked truncated with sha256/size")
    rejected_complaints = {(d.get("complaint_event_id"), d.get("reason"))
                           for d in (data_of(r.value) for r in records.get("pn.complaints.rejected", []))}
    fees_rejected = {(d.get("visit_id"), d.get("reason"))
                     for d in (data_of(r.value) for r in records.get("pn.fees.rejected", []))}
    for rec in plan.of("reused"):
        for service in CONSUMERS[rec.topic]:
            if rec.topic == COMPLAINTS_SUBMITTED.name:
                ok = (rec.event_id, REUSED) in rejected_complaints
            elif rec.topic == SUPPORT_VISITS.name:
                ok = all((v, REUSED) in fees_rejected for v in plan.not_visits)
            else:
                d = letters.get((service, rec.topic, rec.partition, rec.offset))
                ok = d is not None and d["errors"][0]["msg"].startswith(REUSED)
            if not ok:
                fail(service, f"reused id on {rec.topic} not refused with {REUSED}")
    opened = [data_of(r.value).get("complaint_event_id") for r in records.get("pn.cases.opened", [])]
    for event_id in plan.complaints:
        if opened.count(event_id) != 1:
            fail("intake", f"complaint {event_id} opened {opened.count(event_id)} cases, not 1")
    entries = [(d.get("case_id"), d.get("direction"), d.get("document_kind"))
               for d in (data_of(r.value) for r in records.get("pn.diary.entries", []))]
    for doc in plan.documents:
        if entries.count(doc) != 1:
            fail("diary", f"document {doc} registered {entries.count(doc)} times, not once")
    for doc in plan.not_documents:
        if doc in entries:
            fail("diary", f"document {doc} of a reused id was registered")
    stored = {key_of(r.key) for r in records.get("pn-billing-days-changelog", [])}
    for key in plan.days - stored:
        fail("billing", f"care day {key} behind the poison record not stored")
    for key in plan.not_days & stored:
        fail("billing", f"care day {key} of a reused id was stored")
    if HAS_FEES:
        paid = [data_of(r.value).get("visit_id") for r in records.get("pn.fees.calculated", [])]
        for v in plan.visits:
            if paid.count(v) != 1:
                fail("fees", f"visit {v} paid {paid.count(v)} times, not once")
        for v in plan.not_visits:
            if v in paid:
                fail("fees", f"visit {v} of a reused id was paid")
    if HAS_BUDGET:
        status = [d for d in (data_of(r.value) for r in records.get("pn.budget.status", []))
                  if d.get("cost_centre") == "6101" and d.get("year") == BUDGET_YEAR]
        actual = status[-1]["total"]["actual_ytd"] if status else None
        if actual != plan.postings_total:
            fail("budget", f"cost centre 6101 {BUDGET_YEAR} actual {actual}, not {plan.postings_total}")
        budget = status[-1]["total"]["budget_ytd"] if status else None
        if budget not in ("-1000.00", "-12000.00"):  # the first budget's, not the reused id's (-1.00 a month)
            fail("budget", f"cost centre 6101 {BUDGET_YEAR} budget {budget}: the reused id's budget took effect")
    return out
