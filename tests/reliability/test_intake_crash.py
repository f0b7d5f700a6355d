"""kill -9 intake three times in the middle of 1,000 complaints, restart it each time: still exactly one case per
complaint, no case id used twice, no number skipped, and no personnummer in its log."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, datetime

import pytest

from shared.contract.events import make_event
from shared.contract.topics import CASES_OPENED, COMPLAINTS_SUBMITTED, NOTIFICATIONS
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.intake.factories import complaint, personnummer

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TOTAL, KILL_AFTER, CHUNK, KILLS = 1000, 100, 25, 3


def complaints(tag: str) -> list:
    return [make_event(complaint(external_ref=f"{tag}-{i}", patient={"personnummer": personnummer(i)},
                                 care_unit_hsa_id=None),
                       source="/test/crash", time=datetime.now(UTC), id=f"{tag}-c{i}")
            for i in range(TOTAL)]


def cases_of(records, tag: str) -> list:
    return [e for e in events_of(records) if e.type == "pn.case.opened" and e.data.complaint_event_id.startswith(tag)]


async def test_kill_9_mid_stream_and_restart_gives_exactly_one_case_per_complaint(broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    tag = f"k{uuid.uuid4().hex[:10]}"
    events = complaints(tag)
    # DEBUG: the per-case `case_opened` lines (with the complaint's event id) this test follows progress by
    stack = Stack(["intake"], work_dir=tmp_path, bootstrap=broker.bootstrap,
                  env={"PN_RULES_DIR": str(ROOT / "rules"), "PN_LOG_LEVEL": "DEBUG"})
    await asyncio.to_thread(stack.start, 90)  # Stack.start runs its own event loop
    try:
        log = stack.processes["intake"].log_path
        sent, befores = 0, []
        for kill in range(KILLS):  # each kill with a quarter more of the stream out, cases still opening
            cap, deadline = TOTAL * (kill + 1) // (KILLS + 1), time.monotonic() + 60
            while True:
                if sent < cap:  # never more than `cap` before this kill, however fast the worker is
                    await produce(settings, COMPLAINTS_SUBMITTED, events[sent:sent + CHUNK])
                    sent += CHUNK
                opened_so_far = log.read_text(errors="replace").count(f"{tag}-c")
                if opened_so_far >= KILL_AFTER * (kill + 1) or (sent >= cap and opened_so_far > 0):
                    break
                assert time.monotonic() < deadline, "the worker opened no case within 60 s"
                await asyncio.sleep(0.05)
            stack.processes["intake"].kill9()
            befores.append(len({e.data.complaint_event_id
                                for e in cases_of(await read_all(settings, [CASES_OPENED]), tag)}))
            await asyncio.to_thread(stack.restart, "intake")
        started = time.monotonic()
        await produce(settings, COMPLAINTS_SUBMITTED, events[sent:])  # the rest of the stream
        records = await wait_for(settings, [CASES_OPENED], lambda rs: len(
            {e.data.complaint_event_id for e in cases_of(rs, tag)}) >= TOTAL, timeout=90)
        recovered_s = time.monotonic() - started
        await asyncio.sleep(1.0)
        records = await read_all(settings, [CASES_OPENED, NOTIFICATIONS])
    finally:
        stack.stop()
    opened = cases_of(records, tag)
    print(f"\nintake crash: {befores} of {TOTAL} cases out at the {KILLS} kills -9, all {TOTAL} {recovered_s:.1f} s "
          f"after the last restart, "
          f"{len(opened) - TOTAL} re-emitted with the same id")
    assert all(b < TOTAL for b in befores), "a kill came too late to test anything"
    case_of: dict[str, set[str]] = {}
    complaint_of: dict[str, set[str]] = {}
    for e in opened:
        case_of.setdefault(e.data.complaint_event_id, set()).add(e.data.case_id)
        complaint_of.setdefault(e.data.case_id, set()).add(e.data.complaint_event_id)
    assert set(case_of) == {e.id for e in events}
    twice = {c: sorted(ids) for c, ids in case_of.items() if len(ids) > 1}
    assert not twice, f"complaints with two case ids: {sorted(twice.items())[:5]} of {len(twice)}"
    reused = {c: ids for c, ids in complaint_of.items() if len(ids) > 1}
    assert not reused, f"case ids used twice: {sorted(reused)[:5]} of {len(reused)}"
    # a re-emit after the crash carries the same event id and the same content as before it
    by_id: dict[str, str] = {}
    for e in opened:
        assert by_id.setdefault(e.id, e.data.case_id) == e.data.case_id
    numbers = sorted(int(c.rsplit("-", 1)[1]) for c in complaint_of)
    assert numbers == list(range(numbers[0], numbers[0] + TOTAL)), "a case number was skipped"

    receipts = {e.data.case_id for e in events_of(records) if e.type == "pn.notification.requested"}
    assert set(complaint_of) <= receipts
    log = stack.processes["intake"].log_path.read_text(encoding="utf-8", errors="replace")
    assert not [pnr for pnr in (personnummer(i) for i in range(TOTAL)) if pnr in log]
