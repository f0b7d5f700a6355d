"""Found by the fuzzer (tests/reliability/test_fuzz.py): an amount with more digits than the Decimal
context holds made a validator raise decimal.InvalidOperation out of the decoder, which crashed the
faust agent and lost the rest of its batch. It must be dead-lettered like any bad input."""

from __future__ import annotations

import asyncio
import json

from shared.contract.topics import DEADLETTER, SUPPORT_VISITS
from shared.service.processor import Message, Processor
from shared.service.testing import FakePublisher, FixedClock


def _visit(amount: str) -> bytes:
    data = {"visit_id": "V1", "assignment_id": "A1", "support_person_id": "SP1", "date": "2023-06-01",
            "kind": "hearing", "lost_income": amount, "submitted_on": "2023-06-02"}
    return json.dumps({"specversion": "1.0", "id": f"e-{amount}", "source": "/t", "type": "pn.support.visit_reported",
                       "time": "2023-06-01T12:00:00+00:00", "data": data}).encode()


def test_decimal_overflow_in_a_validator_is_dead_lettered_and_the_batch_goes_on() -> None:
    publisher = FakePublisher()
    proc = Processor(service="fees", handlers={}, deps=None, publisher=publisher, clock=FixedClock())
    bad = Message(SUPPORT_VISITS.name, 0, 0, None, _visit("123456789012345678901234567890.123"))
    garbage = Message(SUPPORT_VISITS.name, 0, 1, None, b"\x00")
    asyncio.run(proc.process_batch([bad, garbage]))
    letters = publisher.on(DEADLETTER)
    assert [e.data.offset for e in letters] == [0, 1]
    assert letters[0].data.errors[0].loc[-1] == "lost_income"  # a validation error naming the field
