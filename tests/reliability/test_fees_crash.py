"""Two fees workers in one consumer group (issue 27); kill -9 one while a stream of visits is being
priced: the survivor takes the dead worker's partitions over and prices the rest alone. No visit is decided twice (one outcome event id and one fee id per visit;
re-emits after a crash carry the same id and content; corrections aside, which are fees of their
own), none is missing, and the fees sum to what the visits earn."""

from __future__ import annotations

import asyncio
import random
import time
from collections import defaultdict
from decimal import Decimal

import pytest

from shared.contract.topics import (
    FEES_CALCULATED,
    FEES_PERSONS,
    FEES_REJECTED,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
)
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.fees.factories import year_of_visits
from ..unit.fees.harness import Fees
from ..workers import partitions_processed

pytestmark = [pytest.mark.broker, pytest.mark.slow]

YEAR = random.Random().randrange(2300, 2900)
TAG = f"k{YEAR}-{random.Random().randrange(10**6)}"
VISITS, CHUNK, KILLS = 3_000, 400, 1


def ours(records) -> list:
    return [e for e in events_of(records) if getattr(e.data, "visit_id", "").startswith(f"{TAG}-")]


async def until(predicate, timeout: float, what: str) -> float:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await asyncio.to_thread(predicate):
            return time.monotonic()
        await asyncio.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


async def test_kill_9_one_of_two_workers_mid_stream_prices_every_visit_exactly_once(broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    year = year_of_visits(TAG, YEAR, visits=VISITS, orphans=0, conflicts=0, seed=3)
    stream = year.early_visits + year.visits
    env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_EXACT_HIGHWATERS": "true", "PN_FEES_HOLD_S": "600",
           "PN_SESSION_TIMEOUT_S": "3"}
    stack = Stack(["fees"], work_dir=tmp_path, bootstrap=broker.bootstrap, env=env, workers=2)
    await asyncio.to_thread(stack.start, 90)
    takeovers = []
    try:
        await produce(settings, SUPPORT_ASSIGNMENTS, year.assignments)
        sent, at_kills = 0, []
        for kill in range(KILLS):  # each kill with a third more of the stream out, visits still pricing
            decided_before = len({e.data.visit_id for e in ours(await read_all(settings, [FEES_CALCULATED]))})
            while sent < len(stream) * (kill + 1) // (KILLS + 1):
                await produce(settings, SUPPORT_VISITS, stream[sent:sent + CHUNK])
                sent += CHUNK
            await wait_for(settings, [FEES_CALCULATED], lambda rs, n=decided_before: len(
                {e.data.visit_id for e in ours(rs)}) >= n + 100, timeout=60, poll_s=0.05)
            await produce(settings, SUPPORT_VISITS, stream[sent:sent + CHUNK])  # in flight at the kill
            sent += CHUNK
            key = "fees" if kill % 2 == 0 else "fees#2"
            victim, survivor = stack.processes[key], next(p for k, p in stack.processes.items() if k != key)
            theirs = partitions_processed(victim, FEES_PERSONS.name) - partitions_processed(survivor, FEES_PERSONS.name)
            assert theirs, "the victim held no partition of its own: nothing to take over"
            killed = time.monotonic()
            victim.kill9()
            at_kills.append(len({e.data.visit_id
                                 for e in ours(await read_all(settings, [FEES_CALCULATED, FEES_REJECTED]))}))
            await produce(settings, SUPPORT_VISITS, stream[sent:sent + CHUNK])  # for the survivor alone
            sent += CHUNK
            taken = await until(lambda t=theirs, s=survivor: t <= partitions_processed(s, FEES_PERSONS.name), 60,
                                f"the survivor processing partitions {sorted(theirs)}")
            takeovers.append(taken - killed)
            if kill < KILLS - 1:  # after the last kill the survivor alone prices the rest
                await asyncio.to_thread(stack.restart, key)
        await produce(settings, SUPPORT_VISITS, stream[sent:])  # the rest of the stream
        await wait_for(settings, [FEES_CALCULATED, FEES_REJECTED],
                       lambda rs: len({e.data.visit_id for e in ours(rs)}) == VISITS, timeout=90)
        await asyncio.sleep(1.0)
        out = ours(await read_all(settings, [FEES_CALCULATED, FEES_REJECTED]))
    finally:
        stack.stop()

    assert all(n < VISITS for n in at_kills), "a kill came after the stream: nothing was tested"
    ids, fee_ids, contents = defaultdict(set), defaultdict(set), defaultdict(set)
    for e in out:
        contents[e.id].add(e.data.model_dump_json())
        if getattr(e.data, "corrects", None):
            continue
        ids[e.data.visit_id].add(e.id)
        if e.type == "pn.fee.calculated":
            fee_ids[e.data.visit_id].add(e.data.fee_id)
    assert {i for i, c in contents.items() if len(c) > 1} == set(), "an event id published with two contents"
    assert {v for v, s in ids.items() if len(s) > 1} == set(), "a visit decided twice"
    assert {v for v, s in fee_ids.items() if len(s) > 1} == set(), "a visit priced under two fee ids"
    assert set(ids) == {v.visit_id for v in year.all_visits}
    fees = {e.id: e.data for e in out if e.type == "pn.fee.calculated"}  # each once, corrections included
    reference = Fees()  # the same input in one process, no crash: the same sum
    await reference.send(*year.assignments)
    await reference.send(*stream)
    assert sum((f.total for f in fees.values()), Decimal(0)) == sum((f.data.total for f in reference.fees()), Decimal(0))
    print(f"\nfees crash, two workers: {at_kills} of {VISITS} visits decided at the {KILLS} kills -9, "
          f"takeover {', '.join(f'{t:.1f}' for t in takeovers)} s, "
          f"{len(out) - len({e.id for e in out})} re-emitted with the same id")
