"""Issue 22: a visit sent under another visit's event id was paid. The id is the idempotency key:
the same id with the same content is a duplicate (no second effect), with other content it is
refused on `pn.fees.rejected` with reason `event_id_reused`; the first visit's fee stands."""

from __future__ import annotations

from datetime import date

from shared.contract.topics import DEADLETTER
from shared.service.testing import envelope

from .factories import assigned, visit
from .harness import Fees


async def test_a_reused_event_id_with_other_content_is_rejected_and_not_paid():
    fees = Fees()
    await fees.send(assigned(), envelope(visit("v1"), id="ev-1"))
    await fees.send(envelope(visit("v2", date(2023, 3, 20)), id="ev-1"))  # another visit, the same id
    assert [e.data.visit_id for e in fees.fees()] == ["v1"]
    [refused] = fees.rejected()
    assert (refused.data.visit_id, refused.data.reason) == ("v2", "event_id_reused")
    assert "ev-1" in refused.data.detail
    assert fees.on(DEADLETTER) == []


async def test_a_reused_event_id_with_the_same_content_is_a_duplicate_without_effect():
    fees = Fees()
    await fees.send(assigned(), envelope(visit("v1"), id="ev-1"))
    await fees.send(envelope(visit("v1"), id="ev-1", time=None))
    assert len(fees.fees()) == 1 and fees.rejected() == []


async def test_a_refusal_redelivered_is_the_same_event():
    fees = Fees()
    other = envelope(visit("v2", date(2023, 3, 20)), id="ev-1")
    await fees.send(assigned(), envelope(visit("v1"), id="ev-1"), other)
    await fees.send(other)
    refusals = fees.rejected()
    assert len({e.id for e in refusals}) == 1 and all(e.data.reason == "event_id_reused" for e in refusals)
    assert [e.data.visit_id for e in fees.fees()] == ["v1"]
