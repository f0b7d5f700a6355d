"""Issue 27 item 1: every store read of a diary handler is local to the partition of its input, so
the diary is correct with several workers (docs/diary.md "Scale out")."""

from __future__ import annotations

from services.diary.app import wire
from services.diary.settings import Settings
from services.diary.spec import SPEC
from shared.contract.topics import (
    CARE_UNITS,
    CASES_OPENED,
    DIARY_DISPATCH,
    LETTERS_DISPATCHED,
    LETTERS_OUTGOING,
)
from shared.service.testing import message

from ..locality import LocalityRuntime
from .factories import care_unit, case_opened, letter_out

OTHER = "SE2321000180-2002"


async def test_no_handler_reads_a_store_of_another_partition_count():
    """Dispatch reads the unit and the waiting letters on the recipient's partition of
    `pn.diary.dispatch`; numbering reads only its one-partition registry. Only the directory that
    earlier versions (and the register's views) keep is read as a fallback."""
    config = Settings()
    runtime = LocalityRuntime(SPEC, config)
    wire(runtime, config)

    async def send(topic, payload, **kwargs):
        await runtime.processor_for(topic).process(message(topic, payload, **kwargs))
        await runtime.pump(one_by_one=True)

    await send(CARE_UNITS, care_unit())
    await send(CASES_OPENED, case_opened())
    await send(LETTERS_OUTGOING, letter_out("L1"))
    await send(LETTERS_OUTGOING, letter_out("L2", recipient=OTHER))  # waits for its unit
    await send(CARE_UNITS, care_unit(OTHER))
    assert sorted(d.data.letter_id for d in runtime.sent.on(LETTERS_DISPATCHED)) == ["L1", "L2"]
    assert runtime.remote_reads == []


async def test_letters_and_units_are_re_keyed_by_recipient():
    config = Settings()
    runtime = LocalityRuntime(SPEC, config)
    wire(runtime, config)
    await runtime.deliver(CARE_UNITS, care_unit(OTHER))
    await runtime.deliver(LETTERS_OUTGOING, letter_out("L2", recipient=OTHER))
    await runtime.pump(one_by_one=True)
    keys = [s.key for s in runtime.sent.sent if s.topic == DIARY_DISPATCH.name]
    assert keys == [OTHER.encode(), OTHER.encode()]  # the unit, then the registered letter
