"""Issue 27: two intake workers in one consumer group on the real broker, complaints on every
partition, then kill -9 of the worker that numbers the cases while it is opening them. The other
takes its partitions over: every complaint still has exactly one case, numbers stay gapless (the
survivor restores the counter from the changelog before it numbers), duplicates open nothing,
units are resolved and letters registered for a case reach its submitter (both re-keyed into
stage 2's one partition), whichever worker read them."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest

from shared.contract.events import DiaryRegistered, make_event
from shared.contract.topics import (
    CARE_UNITS,
    CASES_OPENED,
    COMPLAINTS_SUBMITTED,
    DIARY_ENTRIES,
    INTAKE_ACCEPTED,
    NOTIFICATIONS,
)
from shared.kafka.broker import EmbeddedBroker
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..conftest import ROOT
from ..unit.intake.factories import care_unit, complaint
from .workers import get, processed

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TOKEN, OFFICER = new_token("test-officer", "officer")

TAG = f"w{uuid.uuid4().hex[:8]}"
CHUNKS = (150, 300, 100)  # before the kill, during it, after it
UNITS = [f"SE2321000180-{TAG}{u}" for u in range(4)]


def complaints(chunk: int, n: int) -> list:
    """n complaints (every third naming a known unit, every seventh an unknown one), each tenth
    sent again under a new event id (the same reference: a duplicate), each eleventh twice."""
    out = []
    for i in range(n):
        unit = UNITS[i % 4] if i % 3 == 0 else (f"SE2321000180-{TAG}X" if i % 7 == 0 else None)
        data = complaint(external_ref=f"{TAG}-{chunk}-{i}", care_unit_hsa_id=unit, patient={},
                         description="Otrevligt bemötande" if i % 2 else "Lång väntetid till operation")
        first = make_event(data, source="/test/two", time=datetime.now(UTC), id=f"{TAG}-{chunk}-c{i}")
        out.append(first)
        if i % 10 == 0:
            out.append(make_event(data, source="/test/two", time=datetime.now(UTC), id=f"{TAG}-{chunk}-dup{i}"))
        if i % 11 == 0:
            out.append(first)
    return out


def mine(records) -> list:
    return [e for e in events_of(records) if e.type == "pn.case.opened" and e.data.complaint_event_id.startswith(TAG)]


def opened(records) -> set[str]:
    return {e.data.complaint_event_id for e in mine(records)}


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory):
    """Numbering from 1, and a takeover recovers only this test's changelogs."""
    broker = EmbeddedBroker(log_file=tmp_path_factory.mktemp("intake-two-broker") / "broker.log").start()
    yield broker
    broker.stop()


async def test_two_workers_then_kill_9_of_the_numbering_one(own_broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=own_broker.bootstrap)
    # DEBUG: the per-case `case_opened` line the test follows progress by; a 3 s session lets the
    # killed member leave the group soon
    stack = Stack(["intake"], work_dir=tmp_path, bootstrap=own_broker.bootstrap,
                  env={"PN_RULES_DIR": str(ROOT / "rules"), "PN_LOG_LEVEL": "DEBUG", "PN_SESSION_TIMEOUT_S": "3",
                       "PN_TOKENS": OFFICER.line()}, workers=2)
    started = time.monotonic()
    await asyncio.to_thread(stack.start, 90)
    first, second = stack.workers_of("intake")
    try:
        deadline = time.monotonic() + 60
        await produce(settings, CARE_UNITS, [make_event(care_unit(u), source="/test/two", time=datetime.now(UTC))
                                             for u in UNITS])
        batches = [complaints(c, n) for c, n in enumerate(CHUNKS)]
        await produce(settings, COMPLAINTS_SUBMITTED, batches[0])
        await wait_for(settings, [CASES_OPENED], lambda rs: len(opened(rs)) >= CHUNKS[0], timeout=60)
        # both workers had work: stage 1's partitions are shared between them
        work = {w: processed(w) for w in (first, second)}
        for w in work.values():
            assert any(t == COMPLAINTS_SUBMITTED.name for t, _ in w), work
        [numbering] = [w for w in (first, second) if (INTAKE_ACCEPTED.name, 0) in work[w]]
        survivor = second if numbering is first else first
        # the case view answers the same on both workers (the one without the cases asks the other)
        case_id = sorted({e.data.case_id for e in mine(await read_all(settings, [CASES_OPENED]))})[0]
        answers = [get(w, f"/cases/{case_id}", TOKEN) for w in (first, second)]
        assert answers[0] == answers[1] and answers[0][0] == 200, answers
        assert [get(w, "/cases/PN-1999-99999", TOKEN)[0] for w in (first, second)] == [404, 404]

        await produce(settings, COMPLAINTS_SUBMITTED, batches[1])
        while numbering.log_path.read_text(errors="replace").count(f'{TAG}-1-c') < 60:
            assert time.monotonic() < deadline + 60, "the numbering worker opened no case of the second chunk"
            await asyncio.sleep(0.02)
        numbering.kill9()
        before = len(opened(await read_all(settings, [CASES_OPENED])))
        killed_at = time.monotonic()
        await produce(settings, COMPLAINTS_SUBMITTED, batches[2])
        records = await wait_for(settings, [CASES_OPENED], lambda rs: len(opened(rs)) >= sum(CHUNKS), timeout=90)
        took_over_s = time.monotonic() - killed_at
        assert survivor.alive()
        assert (INTAKE_ACCEPTED.name, 0) in processed(survivor)

        # letters registered for some cases, on every partition of pn.diary.entries: the survivor
        # forwards them to stage 2, which knows the cases' contacts
        cases = sorted({e.data.case_id for e in mine(records)})[:12]
        entries = [make_event(DiaryRegistered(
            diary_number=f"T{TAG} 2099/{i + 1}", registered_at=datetime.now(UTC), direction="out", document_kind="letter",
            case_id=case, counterpart=UNITS[0], subject="Skrivelse till vårdgivare", confidential=True,
            confidentiality_ref="25 kap. 1 § OSL", document_id=f"{TAG}-L{i}"), source="/test/two",
            time=datetime.now(UTC)) for i, case in enumerate(cases)]
        await produce(settings, DIARY_ENTRIES, entries)

        def notified(rs):
            return {e.data.case_id for e in events_of(rs)
                    if e.type == "pn.notification.requested" and e.data.template == "sent_to_provider"}

        await wait_for(settings, [NOTIFICATIONS], lambda rs: set(cases) <= notified(rs), timeout=30)
        await asyncio.sleep(1.0)
        records = await read_all(settings, [CASES_OPENED, NOTIFICATIONS])
    finally:
        stack.stop()
    cases_opened = mine(records)
    print(f"\nintake, two workers: {before} of {sum(CHUNKS)} cases out at the kill -9 of the numbering worker, "
          f"all {took_over_s:.1f} s after it; {len(cases_opened) - sum(CHUNKS)} re-emitted with the same id; "
          f"{time.monotonic() - started:.0f} s in all")
    assert before < sum(CHUNKS) - CHUNKS[2], "the kill came too late to test anything"
    expected = {e.id for batch in batches for e in batch if "-dup" not in e.id}
    case_of: dict[str, set[str]] = {}
    complaint_of: dict[str, set[str]] = {}
    content: dict[str, str] = {}
    for e in cases_opened:
        case_of.setdefault(e.data.complaint_event_id, set()).add(e.data.case_id)
        complaint_of.setdefault(e.data.case_id, set()).add(e.data.complaint_event_id)
        assert content.setdefault(e.id, e.data.case_id) == e.data.case_id  # a re-emit is the same event
    assert set(case_of) == expected  # every complaint, and no duplicate reference, opened a case
    assert all(len(c) == 1 for c in case_of.values()), "a complaint got two case ids"
    assert all(len(c) == 1 for c in complaint_of.values()), "a case id was given twice"
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in complaint_of)
    assert numbers == list(range(1, len(expected) + 1)), "a case number was skipped or repeated"
    status = {e.data.complaint_event_id: e.data.care_unit_status for e in cases_opened}
    for batch in batches:
        for e in batch:
            if e.id in expected:
                hsa = e.data.care_unit_hsa_id
                assert status[e.id] == ("none" if hsa is None else "resolved" if hsa in UNITS else "unresolved")
    receipts = {e.data.case_id for e in events_of(records) if e.type == "pn.notification.requested"
                and e.data.template == "receipt"}
    assert set(complaint_of) <= receipts
