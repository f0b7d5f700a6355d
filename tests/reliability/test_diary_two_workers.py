"""Issue 27: two diary workers in one consumer group on the real broker, documents on every
partition, then kill -9 of the worker that numbers them while it is registering. The other takes
its partitions over: every year's numbers are still exactly 1..N, each document has one number
(the survivor restores the registry from the changelog before it numbers), and every outgoing
letter is dispatched under one event id, also those that waited for a unit published later (the
letter and the unit meet on the recipient's partition of `pn.diary.dispatch`, whichever worker
holds it)."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import defaultdict

import pytest

from services.diary.domain import document_of
from shared.contract.topics import (
    ALERTS_OPS,
    BY_NAME,
    CARE_UNITS,
    DIARY_DISPATCH,
    DIARY_ENTRIES,
    DIARY_QUEUE,
    LETTERS_DISPATCHED,
)
from shared.kafka.broker import EmbeddedBroker
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..integration.test_diary import check_numbering, documents, event, mine, unique_events, unit_id
from ..unit.diary.factories import care_unit
from .workers import get, processed

pytestmark = [pytest.mark.broker, pytest.mark.slow]

TOKEN, OFFICER = new_token("test-officer", "officer")

RUN = uuid.uuid4().hex[:10]
TOTAL, CHUNKS = 900, 3
REGISTERED = re.compile(rf'"document": ?"([^"]*:{RUN}-[^"]*)", ?"case_id": ?"[^"]*", ?"event": ?"registered"')


def waiting_alerts(records) -> set[str]:
    return {e.data.facts["letter_id"] for e in events_of(records) if e.data.rule_id == "diary.unknown_recipient"
            and e.data.facts.get("letter_id", "").startswith(f"{RUN}-")}


def dispatches(records) -> dict[str, set[str]]:
    out: dict[str, set[str]] = defaultdict(set)
    for e in events_of(r for r in records if r.topic == LETTERS_DISPATCHED.name):
        if (e.data.case_id or "").startswith(f"{RUN}-"):
            out[e.data.letter_id].add(e.id)
    return out


def entries_of(records) -> list:
    return mine(unique_events([r for r in records if r.topic == DIARY_ENTRIES.name]), RUN)


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory):
    """Numbering from 1, and a takeover recovers only this test's changelogs."""
    broker = EmbeddedBroker(log_file=tmp_path_factory.mktemp("diary-two-broker") / "broker.log").start()
    yield broker
    broker.stop()


async def _publish(settings: PnSettings, docs: dict) -> None:
    await asyncio.gather(*(produce(settings, BY_NAME[name], events) for name, events in docs.items()))


async def test_two_workers_then_kill_9_of_the_numbering_one(own_broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=own_broker.bootstrap)
    stack = Stack(["diary"], work_dir=tmp_path, bootstrap=own_broker.bootstrap,
                  env={"PN_SESSION_TIMEOUT_S": "3", "PN_LOG_LEVEL": "DEBUG",
                       "PN_TOKENS": OFFICER.line()}, workers=2)
    started = time.monotonic()
    await asyncio.to_thread(stack.start, 90)
    first, second = stack.workers_of("diary")
    docs = documents(RUN, TOTAL, unknown_every=50, seed=3)
    outgoing = {d.document_id for events in docs.values() for e in events
                if (d := document_of(e.data)).kind == "letter" and d.direction == "out"}
    waiting = {d.document_id for events in docs.values() for e in events
               if (d := document_of(e.data)).counterpart == unit_id(RUN, "X")}
    chunks: list[dict[str, list]] = [defaultdict(list) for _ in range(CHUNKS)]
    for name, events in docs.items():
        for i, e in enumerate(events):
            chunks[i % CHUNKS][name].append(e)
    try:
        deadline = time.monotonic() + 60
        await produce(settings, CARE_UNITS, [event(care_unit(unit_id(RUN, i))) for i in range(8)])
        await _publish(settings, chunks[0])
        first_keys = {document_of(e.data).key for events in chunks[0].values() for e in events}
        await wait_for(settings, [DIARY_ENTRIES], lambda rs: len(entries_of(rs)) >= len(first_keys), timeout=60)
        work = {w: processed(w) for w in (first, second)}
        for w in work.values():  # both workers had documents to take in, and letters to dispatch
            assert {t for t, _ in w} >= {DIARY_ENTRIES.name, DIARY_DISPATCH.name}, work
        [numbering] = [w for w in (first, second) if (DIARY_QUEUE.name, 0) in work[w]]
        survivor = second if numbering is first else first
        # the register's views answer the same on both workers (the registry is on one of them)
        some = entries_of(await read_all(settings, [DIARY_ENTRIES]))[0].data
        year, n = some.diary_number.rsplit(" ", 1)[1].split("/")
        for path in (f"/diary/{year}/{n}", f"/diary?case_id={some.case_id}", f"/diary/export?year={year}"):
            answers = [get(w, path, TOKEN) for w in (first, second)]
            assert answers[0] == answers[1] and answers[0][0] == 200 and some.diary_number.encode() in answers[0][1], \
                (path, answers)

        await _publish(settings, chunks[1])
        while len(set(REGISTERED.findall(numbering.log_path.read_text(errors="replace")))) < len(first_keys) + 60:
            assert time.monotonic() < deadline + 60, "the numbering worker registered nothing of the second chunk"
            await asyncio.sleep(0.02)
        numbering.kill9()
        before = len(entries_of(await read_all(settings, [DIARY_ENTRIES])))
        killed_at = time.monotonic()
        await _publish(settings, chunks[2])
        await wait_for(settings, [DIARY_ENTRIES], lambda rs: len(
            {e.data.document_id for e in entries_of(rs)}) >= TOTAL, timeout=90)
        took_over_s = time.monotonic() - killed_at
        await wait_for(settings, [ALERTS_OPS], lambda rs: waiting_alerts(rs) >= waiting, timeout=30)
        await produce(settings, CARE_UNITS, [event(care_unit(unit_id(RUN, "X")))])
        records = await wait_for(settings, [DIARY_ENTRIES, LETTERS_DISPATCHED],
                                 lambda rs: set(dispatches(rs)) >= outgoing, timeout=30)
        assert survivor.alive() and (DIARY_QUEUE.name, 0) in processed(survivor)
        await asyncio.sleep(1.0)
        records = await read_all(settings, [DIARY_ENTRIES, LETTERS_DISPATCHED])
    finally:
        stack.stop()
    entries = entries_of(records)
    print(f"\ndiary, two workers: {before} of {TOTAL} documents registered at the kill -9 of the numbering "
          f"worker, all {took_over_s:.1f} s after it; {len(waiting)} letters waited for their unit; "
          f"{time.monotonic() - started:.0f} s in all")
    assert 0 < before < TOTAL, "the kill did not land mid-stream"
    assert sum(check_numbering(entries).values()) == TOTAL  # its own broker: these documents only, 1..N
    assert len({e.data.document_id for e in entries}) == TOTAL
    sent = dispatches(records)
    assert set(sent) == outgoing and waiting <= outgoing and waiting
    assert all(len(ids) == 1 for ids in sent.values()), "a letter dispatched under two event ids"
