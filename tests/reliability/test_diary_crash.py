"""The diary killed with SIGKILL three times while 2,000 documents stream in, each time in the middle
of registering: afterwards every year's numbers on `pn.diary.entries` are still exactly 1..N, each
document has one number, and a letter dispatched more than once carries the same event id."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from services.diary.domain import document_of
from shared.contract.events import encode
from shared.contract.topics import BY_NAME, CARE_UNITS, DIARY_ENTRIES, LETTERS_DISPATCHED
from shared.kafka.broker import EmbeddedBroker
from shared.kafka.io import events_of, produce, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..integration.test_diary import check_numbering, documents, event, mine, unique_events, unit_id
from ..unit.diary.factories import care_unit

pytestmark = pytest.mark.broker

RUN = uuid.uuid4().hex[:10]
KILLS, CHUNKS, TOTAL = 3, 4, 2000
KILL_WHEN_PENDING = (400, 300, 200)  # the faster the worker, the more margin a 5 ms poll needs
# the JSON lines are compact (orjson) or spaced (stdlib json): both match
REGISTERED = re.compile(rf'"document": ?"([^"]*:{RUN}-[^"]*)", ?"case_id": ?"[^"]*", ?"event": ?"registered"')


def registered_in_log(log: Path) -> set[str]:
    """Documents of this run the worker has registered so far (a set: replays log again), from its
    DEBUG lines. Read by pattern, because a line cut by kill -9 runs into the next one."""
    return set(REGISTERED.findall(log.read_text(errors="replace")))


def dispatches(records) -> dict[str, list]:
    by_letter: dict[str, list] = defaultdict(list)
    for e in events_of(r for r in records if r.topic == LETTERS_DISPATCHED.name):
        if (e.data.case_id or "").startswith(f"{RUN}-"):
            by_letter[e.data.letter_id].append(e)
    return by_letter


@pytest.fixture(scope="module")
def own_broker(tmp_path_factory):
    """A broker of its own: numbering starts at 1, and each restart recovers only this test's state
    (on the session broker it would also recover every changelog the integration tests wrote)."""
    broker = EmbeddedBroker(log_file=tmp_path_factory.mktemp("diary-crash-broker") / "broker.log").start()
    yield broker
    broker.stop()


@pytest.fixture(scope="module")
def settings(own_broker) -> PnSettings:
    return PnSettings(kafka_bootstrap=own_broker.bootstrap)


@pytest.fixture(scope="module")
def crashed(own_broker, settings, tmp_path_factory):
    """Publish in chunks; after each of the first three, kill -9 while the worker is registering it."""
    stack = Stack(["diary"], work_dir=tmp_path_factory.mktemp("diary-crash"), bootstrap=own_broker.bootstrap,
                  # a short session lets the killed worker's membership expire sooner: faster restarts;
                  # DEBUG: the per-document `registered` line this test follows progress by
                  env={"PN_SESSION_TIMEOUT_S": "3", "PN_LOG_LEVEL": "DEBUG"})
    stack.start(timeout=90)  # creates the topics
    try:
        asyncio.run(produce(settings, CARE_UNITS, [event(care_unit(unit_id(RUN, i))) for i in range(8)]))
        log = stack.processes["diary"].log_path
        chunks: list[dict[str, list]] = [defaultdict(list) for _ in range(CHUNKS)]
        for name, events in documents(RUN, TOTAL, seed=7).items():
            for i, e in enumerate(events):
                chunks[i % CHUNKS][name].append(e)
        pending_at_kill, published = [], set()
        for index, chunk in enumerate(chunks):
            asyncio.run(_publish(settings, chunk))
            published |= {document_of(e.data).key for events in chunk.values() for e in events}
            if index < KILLS:  # kill while documents are still waiting: 400, then 250, then 100
                deadline = time.monotonic() + 30
                while len(published - registered_in_log(log)) > KILL_WHEN_PENDING[index] \
                        and time.monotonic() < deadline:
                    time.sleep(0.005)
                stack.processes["diary"].kill9()
                pending_at_kill.append(len(published - registered_in_log(log)))
                stack.restart("diary")
        records = asyncio.run(wait_for(settings, [DIARY_ENTRIES, LETTERS_DISPATCHED], lambda rs: len(
            {e.data.document_id for e in mine(events_of(r for r in rs if r.topic == DIARY_ENTRIES.name), RUN)})
            >= TOTAL and len(dispatches(rs)) >= TOTAL // 3, timeout=120))
        numbered = Counter(REGISTERED.findall(log.read_text(errors="replace")))
        yield stack, records, pending_at_kill, sum(n > 1 for n in numbered.values())
    finally:
        stack.stop()


async def _publish(settings: PnSettings, chunk: dict) -> None:
    await asyncio.gather(*(produce(settings, BY_NAME[name], events) for name, events in chunk.items()))


def test_numbering_is_gapless_and_unique_after_kill_9_mid_stream(crashed):
    _, records, pending_at_kill, renumbered = crashed
    # every kill must land mid-stream (documents published, not yet registered). Whether a kill also
    # cut uncommitted work (documents numbered again after it: 845-1,179 per run when measured) depends
    # on the machine's load, so it is reported, not asserted: a loaded CI machine must not fail it.
    assert pending_at_kill and all(p > 0 for p in pending_at_kill), pending_at_kill
    entries = unique_events([r for r in records if r.topic == DIARY_ENTRIES.name])
    assert sum(check_numbering(entries).values()) == TOTAL  # its own broker: these documents only
    print(f"documents pending at each kill: {pending_at_kill}; numbered again after a kill: {renumbered}")
    assert len({e.data.document_id for e in mine(entries, RUN)}) == TOTAL


def test_a_re_dispatched_letter_carries_the_same_event_id(crashed, settings):
    stack, records, _, _ = crashed
    sent = dispatches(records)
    assert len(sent) == TOTAL // 3
    assert all(len({e.id for e in events}) == 1 for events in sent.values())
    print(f"letters dispatched more than once after kill -9: {sum(len(v) > 1 for v in sent.values())}")
    # A re-delivery the dedup store cannot recognise (as after lost state): the same registration
    # under a new event id (from a test source, so numbering checks ignore it). The letter goes out
    # again, under the same dispatch event id.
    letter, [first, *_] = next(iter(sent.items()))
    [entry] = [e for e in unique_events([r for r in records if r.topic == DIARY_ENTRIES.name])
               if e.data.document_id == letter and e.data.direction == "out"]
    redelivered = entry.model_copy(update={"id": str(uuid.uuid4()), "source": "/test/redelivery"})
    asyncio.run(produce(settings, DIARY_ENTRIES, [encode(redelivered)], keys=[entry.data.diary_number.encode()]))
    again = asyncio.run(wait_for(settings, [LETTERS_DISPATCHED],
                                 lambda rs: len(dispatches(rs).get(letter, [])) >= 2, timeout=30))
    assert {e.id for e in dispatches(again)[letter]} == {first.id}
