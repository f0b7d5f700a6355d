"""Held visits are found through an index kept in the store (`H|<assignment>`, `held`), never by
scanning it; state written before the index existed gets it built once, from one scan."""

from __future__ import annotations

from datetime import date
from typing import Any

from services.fees.handlers import HELD
from shared.state import Store

from .factories import assigned, visit
from .harness import Fees


class NoScanStore(Store):
    """A store that fails the test when a handler scans it."""

    scans = 0

    def items_with_prefix(self, prefix: str) -> Any:
        self.scans += 1
        return super().items_with_prefix(prefix)


def with_store(fees: Fees, table: dict[str, Any] | None = None) -> NoScanStore:
    store = NoScanStore("fees", table)
    fees.deps.fees = store
    fees.visits.stores = [store, *fees.visits.stores[1:]]
    return store


async def test_assignments_and_ticks_scan_the_store_at_most_once_in_its_life():
    fees = Fees(fees_hold_s=60)
    store = with_store(fees)
    await fees.send(visit("v1", assignment_id="a99", sp="sp99"))  # the first use builds the (empty) index
    await fees.send(*(assigned(f"a{i}", f"sp{i}") for i in range(50)))
    await fees.send(*(visit(f"v{i}-{k}", date(2023, 3, 1 + k), assignment_id=f"a{i}", sp=f"sp{i}")
                      for i in range(50) for k in range(3)))
    for _ in range(5):
        await fees.tick()
    await fees.send(assigned("a99", "sp99"))
    assert store.scans == 1
    assert [e.data.visit_id for e in fees.fees()][-1] == "v1"
    assert store[HELD] == {} and "H|a99" not in store and "h|a99|v1" not in store


async def test_held_visits_are_released_in_date_order_and_the_index_emptied():
    fees = Fees()
    await fees.send(visit("v3", date(2023, 3, 3)), visit("v1", date(2023, 3, 1)), visit("v2", date(2023, 3, 2)),
                    visit("w1", assignment_id="a2", sp="sp2"))
    assert fees.deps.fees["H|a1"] == ["v1", "v2", "v3"] and set(fees.deps.fees[HELD]) == {"a1", "a2"}
    await fees.send(assigned())
    assert [e.data.visit_id for e in fees.fees()] == ["v1", "v2", "v3"]
    assert set(fees.deps.fees[HELD]) == {"a2"} and "H|a1" not in fees.deps.fees


async def test_tick_rejects_only_expired_visits_and_keeps_the_rest_indexed():
    fees = Fees(fees_hold_s=60)
    await fees.send(visit("old"))
    fees.clock.advance(seconds=30)
    await fees.send(visit("new"))
    fees.clock.advance(seconds=31)
    await fees.tick()
    assert [e.data.visit_id for e in fees.rejected()] == ["old"]
    assert fees.deps.fees["H|a1"] == ["new"]
    assert fees.deps.fees[HELD] == {"a1": fees.deps.fees["h|a1|new"]["held_at"]}
    fees.clock.advance(seconds=30)
    await fees.tick()
    assert [e.data.visit_id for e in fees.rejected()] == ["old", "new"]
    assert fees.deps.fees[HELD] == {}


async def test_state_from_before_the_index_is_indexed_once_then_released_and_expired():
    """Held entries as the previous version wrote them (no `H|`, no `held`): both still leave."""
    old = Fees(fees_hold_s=60)
    await old.send(visit("v1"), visit("v2", assignment_id="a2", sp="sp2"))
    legacy = {k: v for k, v in old.deps.fees.table.items() if not (k == HELD or k.startswith("H|"))}
    assert set(legacy) == {"h|a1|v1", "h|a2|v2"}

    fees = Fees(fees_hold_s=60)
    store = with_store(fees, dict(legacy))
    fees.clock.advance(seconds=61)
    await fees.send(assigned())  # builds the index from one scan, releases v1
    await fees.tick()            # v2's hold has expired
    await fees.tick()
    assert store.scans == 1
    assert [e.data.visit_id for e in fees.fees()] == ["v1"]
    assert [(e.data.visit_id, e.data.reason) for e in fees.rejected()] == [("v2", "no_assignment")]
    assert store[HELD] == {} and not [k for k in store.table if k.startswith(("h|", "H|"))]


async def test_an_index_entry_without_its_held_visit_is_skipped():
    """An index restored ahead of its entries (changelog partitions replay in any order)."""
    fees = Fees(fees_hold_s=60)
    await fees.send(visit("v1"), visit("v2"))
    del fees.deps.fees.table["h|a1|v1"]
    await fees.send(assigned())
    assert [e.data.visit_id for e in fees.fees()] == ["v2"]
    await fees.send(visit("v3", assignment_id="a2", sp="sp2"))
    del fees.deps.fees.table["h|a2|v3"]
    fees.clock.advance(seconds=61)
    await fees.tick()
    assert fees.rejected() == [] and fees.deps.fees[HELD] == {}
