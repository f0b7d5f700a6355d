"""Issue 22: a care day under another care day's event id was billed. Now the same id with other
content is dead-lettered with reason `event_id_reused`; the same id and content has no effect."""

from __future__ import annotations

from shared.contract.topics import DEADLETTER
from shared.service.testing import envelope

from .factories import care_day
from .harness import Billing


async def test_a_care_day_under_a_used_event_id_is_refused_and_not_billed(rules):
    billing = Billing(rules)
    await billing.record(envelope(care_day(on="2024-03-01", care_day_id="D-a"), id="ev-day"))
    await billing.record(envelope(care_day(on="2024-03-02", care_day_id="D-b"), id="ev-day"))
    [letter] = billing.on(DEADLETTER)
    assert letter.data.errors[0].loc == ["id"] and letter.data.errors[0].msg.startswith("event_id_reused")
    invoices = await billing.close("2024-03")
    assert [i for inv in invoices for line in inv.data.lines for i in line.care_day_ids] == ["D-a"]


async def test_the_same_care_day_under_its_own_id_again_is_a_duplicate(rules):
    billing = Billing(rules)
    day = care_day(on="2024-03-01", care_day_id="D-a")
    await billing.record(envelope(day, id="ev-day"))
    await billing.record(envelope(day, id="ev-day"))
    assert billing.on(DEADLETTER) == []
    invoices = await billing.close("2024-03")
    assert sum(len(line.care_day_ids) for inv in invoices for line in inv.data.lines) == 1
