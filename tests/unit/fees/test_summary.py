"""The summary view answers the same with one worker or N: each worker's part (its partitions of
the persons store) merged (shared/runtime/views.py `spread="all"`) equals the one worker's answer."""

from __future__ import annotations

from datetime import date

from services.fees import keys
from services.fees.handlers import person_partition
from services.fees.web import merge, summarise
from shared.service.state import Store

from .factories import assigned, visit
from .harness import Fees


async def test_the_parts_of_two_workers_merge_into_the_one_workers_answer():
    fees = Fees()
    people = [f"sp{i}" for i in range(8)]
    await fees.send(*(assigned(f"a{i}", sp, date(2023, 1, 1)) for i, sp in enumerate(people)))
    await fees.send(*(visit(f"v{i}-{m}", date(2023, m, 10), assignment_id=f"a{i}", sp=sp, km="10.0")
                      for i, sp in enumerate(people) for m in (1, 2, 3)))
    await fees.close("2023-01")
    await fees.close("2023-02")
    table = fees.deps.fees.table
    assert fees.runtime.spreads[("GET", "/fees/summary")][0] == "all"
    whole = summarise(fees.deps.fees, 2023)

    def part(partitions: set[int]) -> Store:  # a worker's store: its partitions' persons only
        def own(key: str, value: object) -> bool:
            if key.startswith(keys.CLOSED):
                return int(key.rsplit("|", 1)[1]) in partitions
            return not isinstance(value, dict) or "sp" not in value or person_partition(value["sp"]) in partitions
        return Store("persons", {k: v for k, v in table.items() if own(k, v)})

    parts = [summarise(part({0, 1}), 2023), summarise(part({2, 3}), 2023)]
    assert parts[0] != whole and merge(parts) == whole
    assert [(m["period"], m["fees"], m["paid_fees"], m["closed"]) for m in whole["months"]] == [
        ("2023-01", 8, 8, True), ("2023-02", 8, 8, True), ("2023-03", 8, 0, False)]
