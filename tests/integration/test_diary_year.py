"""The year change on a real worker: the diary's clock (PN_DIARY_CLOCK_START) starts shortly before
midnight of 31 December in Sweden; documents registered before midnight get `PN 2030/<last>`, those
after it `PN 2031/1`. A broker of its own, so no other test's documents share these years."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest

from shared.contract.topics import CASES_OPENED, DIARY_ENTRIES
from shared.kafka.broker import EmbeddedBroker
from shared.kafka.io import events_of, produce, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings

from ..unit.diary.factories import case_opened
from .test_diary import event

pytestmark = pytest.mark.broker

START = "2030-12-31T22:59:40+00:00"  # 23:59:40 in Stockholm: midnight 20 s after the worker starts
MIDNIGHT = datetime(2030, 12, 31, 23, 0, tzinfo=UTC)


def test_documents_of_31_december_and_1_january_get_last_and_first_numbers(tmp_path):
    broker = EmbeddedBroker(log_file=tmp_path / "broker.log").start()
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    stack = Stack(["diary"], work_dir=tmp_path, bootstrap=broker.bootstrap,
                  env={"PN_DIARY_CLOCK_START": START, "PN_DIARY_REGISTRATION_LAG_SECONDS": "1e12"})
    try:
        stack.start(timeout=90)
        asyncio.run(produce(settings, CASES_OPENED, [event(case_opened(f"Y-D{i}")) for i in range(3)]))
        december = events_of(asyncio.run(wait_for(settings, [DIARY_ENTRIES], lambda rs: len(rs) >= 3, timeout=30)))
        # The worker's clock read registered_at before now: midnight on it is at most this far away.
        time.sleep(max(0.0, (MIDNIGHT - max(e.data.registered_at for e in december)).total_seconds()) + 0.5)
        asyncio.run(produce(settings, CASES_OPENED, [event(case_opened(f"Y-J{i}")) for i in range(2)]))
        records = asyncio.run(wait_for(settings, [DIARY_ENTRIES], lambda rs: len(rs) >= 5, timeout=30))
    finally:
        stack.stop()
        broker.stop()
    numbers = {e.data.case_id: e.data.diary_number for e in events_of(records)}
    assert sorted(numbers[f"Y-D{i}"] for i in range(3)) == ["PN 2030/1", "PN 2030/2", "PN 2030/3"]
    assert sorted(numbers[f"Y-J{i}"] for i in range(2)) == ["PN 2031/1", "PN 2031/2"]
