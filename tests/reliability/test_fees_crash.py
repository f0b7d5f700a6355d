"""kill -9 fees three times while a stream of visits is being priced, restart it each time: no visit is priced twice
(one fee id and one event id per visit; re-emits after the crash carry the same id) and none is
missing."""

from __future__ import annotations

import asyncio
import random
from collections import defaultdict

import pytest

from shared.contract.topics import (
    FEES_CALCULATED,
    FEES_REJECTED,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
)
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..conftest import ROOT
from ..unit.fees.factories import year_of_visits

pytestmark = [pytest.mark.broker, pytest.mark.slow]

YEAR = random.Random().randrange(2300, 2900)
TAG = f"k{YEAR}-{random.Random().randrange(10**6)}"
VISITS, CHUNK, KILLS = 6_000, 500, 3


def ours(records) -> list:
    return [e for e in events_of(records) if getattr(e.data, "visit_id", "").startswith(f"{TAG}-")]


async def test_kill_9_mid_stream_prices_every_visit_exactly_once(broker, tmp_path):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    year = year_of_visits(TAG, YEAR, visits=VISITS, orphans=0, conflicts=0, seed=3)
    stream = year.early_visits + year.visits
    env = {"PN_RULES_DIR": str(ROOT / "rules"), "PN_EXACT_HIGHWATERS": "true", "PN_FEES_HOLD_S": "600"}
    stack = Stack(["fees"], work_dir=tmp_path, bootstrap=broker.bootstrap, env=env)
    await asyncio.to_thread(stack.start, 90)
    try:
        await produce(settings, SUPPORT_ASSIGNMENTS, year.assignments)
        sent, at_kills = 0, []
        for kill in range(KILLS):  # each kill with a quarter more of the stream out, visits still pricing
            decided_before = len({e.data.visit_id for e in ours(await read_all(settings, [FEES_CALCULATED]))})
            while sent < len(stream) * (kill + 1) // (KILLS + 1):
                await produce(settings, SUPPORT_VISITS, stream[sent:sent + CHUNK])
                sent += CHUNK
            await wait_for(settings, [FEES_CALCULATED], lambda rs, n=decided_before: len(
                {e.data.visit_id for e in ours(rs)}) >= n + 100, timeout=60, poll_s=0.05)
            await produce(settings, SUPPORT_VISITS, stream[sent:sent + CHUNK])  # in flight at the kill
            sent += CHUNK
            stack.processes["fees"].kill9()
            at_kills.append(len({e.data.visit_id
                                 for e in ours(await read_all(settings, [FEES_CALCULATED, FEES_REJECTED]))}))
            await asyncio.to_thread(stack.restart, "fees")
        await produce(settings, SUPPORT_VISITS, stream[sent:])  # the rest of the stream
        await wait_for(settings, [FEES_CALCULATED, FEES_REJECTED],
                       lambda rs: len({e.data.visit_id for e in ours(rs)}) == VISITS, timeout=90)
        await asyncio.sleep(1.0)
        out = ours(await read_all(settings, [FEES_CALCULATED, FEES_REJECTED]))
    finally:
        stack.stop()

    assert all(n < VISITS for n in at_kills), "a kill came after the stream: nothing was tested"
    ids, fee_ids = defaultdict(set), defaultdict(set)
    for e in out:
        ids[e.data.visit_id].add(e.id)
        if e.type == "pn.fee.calculated":
            fee_ids[e.data.visit_id].add(e.data.fee_id)
    assert {v for v, s in ids.items() if len(s) > 1} == set(), "a visit decided twice"
    assert {v for v, s in fee_ids.items() if len(s) > 1} == set(), "a visit priced under two fee ids"
    assert set(ids) == {v.visit_id for v in year.all_visits}
    print(f"\nfees crash: {at_kills} of {VISITS} visits decided at the {KILLS} kills -9, "
          f"{len(out) - len({e.id for e in out})} re-emitted with the same id")
