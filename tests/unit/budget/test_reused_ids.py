"""Issue 22: a second budget under a used event id replaced a cost centre's budget; a posting under
a used id was counted. Now the same id with other content is dead-lettered (`event_id_reused`)."""

from __future__ import annotations

from shared.contract.topics import DEADLETTER
from shared.service.testing import envelope

from .harness import Budget, budget, posting


async def test_a_budget_under_a_used_event_id_does_not_replace_the_budget():
    b = Budget()
    await b.feed(envelope(budget(2091, "6101", "personnel", "1200000"), id="ev-b"))
    await b.feed(envelope(budget(2091, "6101", "personnel", "1"), id="ev-b"))
    await b.feed(envelope(posting("p1", "2091-01", "6101", "personnel", "-100000"), id="ev-p1"))
    [letter] = b.publisher.on(DEADLETTER)
    assert letter.data.errors[0].msg.startswith("event_id_reused")
    only_first = Budget()
    await only_first.feed(envelope(budget(2091, "6101", "personnel", "1200000"), id="ev-b"))
    await only_first.feed(envelope(posting("p1", "2091-01", "6101", "personnel", "-100000"), id="ev-p1"))
    assert b.latest("6101", 2091) == only_first.latest("6101", 2091)


async def test_a_posting_under_a_used_event_id_is_not_counted_and_the_same_one_again_is_a_duplicate():
    b = Budget()
    await b.feed(envelope(budget(2091, "6101", "personnel", "1200000"), id="ev-b"))
    await b.feed(envelope(posting("p1", "2091-01", "6101", "personnel", "-100000"), id="ev-p"))
    await b.feed(envelope(posting("p2", "2091-01", "6101", "personnel", "-5000"), id="ev-p"))
    await b.feed(envelope(posting("p1", "2091-01", "6101", "personnel", "-100000"), id="ev-p"))
    assert len(b.publisher.on(DEADLETTER)) == 1
    assert b.latest("6101", 2091)["total"]["actual_ytd"] == "-100000.00"
