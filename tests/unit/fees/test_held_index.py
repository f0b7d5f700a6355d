"""Held visits are found by their assignment through an index in the store (`H|<assignment>`),
never by scanning it; the tick only rejects expired ones."""

from __future__ import annotations

from datetime import date
from typing import Any

from shared.service.state import Store

from .factories import assigned, visit
from .harness import Fees


class CountingStore(Store):
    """Counts the scans handlers make."""

    scans = 0

    def items_with_prefix(self, prefix: str) -> Any:
        self.scans += 1
        return super().items_with_prefix(prefix)


def with_store(fees: Fees, table: dict[str, Any] | None = None) -> CountingStore:
    store = CountingStore("fees", table)
    fees.deps.fees = store
    fees.visits.stores = [store, *fees.visits.stores[1:]]
    return store


async def test_assignments_and_visits_never_scan_the_store():
    fees = Fees()
    store = with_store(fees)
    await fees.send(visit("v1", assignment_id="a99", sp="sp99"))
    await fees.send(*(assigned(f"a{i}", f"sp{i}") for i in range(50)))
    await fees.send(*(visit(f"v{i}-{k}", date(2023, 3, 1 + k), assignment_id=f"a{i}", sp=f"sp{i}")
                      for i in range(50) for k in range(3)))
    await fees.send(assigned("a99", "sp99"))
    assert store.scans == 0
    assert [e.data.visit_id for e in fees.fees()][-1] == "v1"
    assert not [k for k in store.table if k.startswith(("h|", "H|"))]


async def test_held_visits_are_released_in_date_order_and_the_index_removed():
    fees = Fees()
    await fees.send(visit("v3", date(2023, 3, 3)), visit("v1", date(2023, 3, 1)), visit("v2", date(2023, 3, 2)),
                    visit("w1", assignment_id="a2", sp="sp2"))
    assert fees.deps.fees["H|a1"] == ["v1", "v2", "v3"] and fees.deps.fees["H|a2"] == ["w1"]
    await fees.send(assigned())
    assert [e.data.visit_id for e in fees.fees()] == ["v1", "v2", "v3"]
    assert "H|a1" not in fees.deps.fees and fees.deps.fees["H|a2"] == ["w1"]


async def test_tick_rejects_only_expired_visits_and_the_index_follows():
    fees = Fees(fees_hold_s=60)
    await fees.send(visit("old"))
    fees.clock.advance(seconds=30)
    await fees.send(visit("new"))
    fees.clock.advance(seconds=31)
    await fees.tick()
    assert [e.data.visit_id for e in fees.rejected()] == ["old"]
    await fees.send(visit("newest"))  # the hold drops the rejected id from the index
    assert fees.deps.fees["H|a1"] == ["new", "newest"]
    fees.clock.advance(seconds=61)
    await fees.tick()
    assert [e.data.visit_id for e in fees.rejected()] == ["old", "new", "newest"]
    assert "H|a1" not in fees.deps.fees


async def test_a_visit_under_another_persons_assignment_stays_held_and_expires():
    """Stage 2 keeps every fact of one support person on that person's partition: a visit naming an
    assignment of someone else is not that person's to claim, whichever partition it lands on."""
    fees = Fees(fees_hold_s=60)
    await fees.send(visit("v1", sp="sp2"), visit("v2"))
    await fees.send(assigned())
    assert [e.data.visit_id for e in fees.fees()] == ["v2"]
    assert fees.deps.fees["H|a1"] == ["v1"]
    fees.clock.advance(seconds=61)
    await fees.tick()
    assert [(e.data.visit_id, e.data.reason) for e in fees.rejected()] == [("v1", "no_assignment")]
    assert not [k for k in fees.deps.fees.table if k.startswith(("h|", "H|"))]


async def test_an_index_entry_without_its_held_visit_is_skipped():
    fees = Fees()
    await fees.send(visit("v1"), visit("v2"))
    del fees.deps.fees.table["h|a1|v1"]
    await fees.send(assigned())
    assert [e.data.visit_id for e in fees.fees()] == ["v2"]
