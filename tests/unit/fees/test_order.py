"""Order does not change a result (issue 27): the same visits in any order, in any batches, give the
same fees per visit (a visit's fee and its corrections summed), the same costs and the same payouts.

The week's arvode belongs to the week's earliest contact by (date, visit id), the day's lost-income
cap is shared out in visit-id order; a visit processed after a later one of its week or day takes
its share, and the later one gets a correction (docs/fees.md, "Order")."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shared.contract.events import EventData
from shared.contract.topics import FEES_PAYOUTS, FINANCE_POSTINGS

from .factories import assigned, visit
from .harness import Fees

START = date(2022, 12, 24)  # a week across new year, a month end and the schedule versions' boundary
ASSIGNMENTS = [assigned("a1", "sp1", date(2022, 12, 1)), assigned("a2", "sp1", date(2022, 12, 1)),
               assigned("a3", "sp2", date(2022, 12, 1))]
PERSON = {"a1": "sp1", "a2": "sp1", "a3": "sp2"}


@st.composite
def visits(draw: st.DrawFn) -> list[EventData]:
    out = []
    for i in range(draw(st.integers(1, 9))):
        aid = draw(st.sampled_from(sorted(PERSON)))
        kind = draw(st.sampled_from(["visit", "phone", "hearing", "training"]))
        lost = draw(st.sampled_from([None, "400.00", "900.00", "1400.00"])) if kind in ("hearing", "training") else None
        out.append(visit(f"v{draw(st.integers(0, 99)):02d}-{i}", START + timedelta(days=draw(st.integers(0, 13))),
                         assignment_id=aid, sp=PERSON[aid], kind=kind, lost=lost, certified=lost is not None,
                         km=draw(st.sampled_from([None, "12.0"]))))
    return out


async def outcome(events: list[EventData], *, one_by_one: bool) -> tuple[dict, dict, dict]:
    """Per visit its net lines (code → amount, a fee and its corrections summed), the costs per
    period and the payouts per (person, period) after closing every month."""
    fees = Fees()
    if one_by_one:
        for e in events:
            await fees.send(e)
    else:
        await fees.send(*events)
    for period in ("2022-12", "2023-01"):
        await fees.close(period)
    net: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for fee in fees.fees():
        by_code = net[fee.data.visit_id]
        for line in fee.data.lines:
            by_code[line.code] += line.amount
    lines = {v: {c: a for c, a in by_code.items() if a} for v, by_code in net.items()}
    costs: dict[str, Decimal] = defaultdict(Decimal)
    for posting in fees.on(FINANCE_POSTINGS):
        costs[posting.data.period] += posting.data.amount
    paid: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for p in fees.on(FEES_PAYOUTS):
        paid[(p.data.support_person_id, p.data.period)] += p.data.total
    assert sum(paid.values(), Decimal(0)) == -sum(costs.values(), Decimal(0))  # every fee paid once
    # a month where a fee and its correction cancel posts and pays 0.00 net: the same as nothing
    return lines, {p: a for p, a in costs.items() if a}, {k: a for k, a in paid.items() if a}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data(), chosen=visits())
async def test_the_same_visits_in_any_order_give_the_same_fees(data: st.DataObject, chosen: list[EventData]):
    events = [*ASSIGNMENTS, *chosen]
    canonical = await outcome([*ASSIGNMENTS, *sorted(chosen, key=lambda v: (v.date, v.visit_id))], one_by_one=True)
    shuffled = data.draw(st.permutations(events))
    assert await outcome(shuffled, one_by_one=data.draw(st.booleans())) == canonical


async def test_an_earlier_visit_arriving_later_takes_the_week_and_the_later_one_is_corrected():
    fees = Fees()
    await fees.send(assigned(start=date(2023, 1, 1)), visit("v2", date(2023, 3, 2)))
    await fees.send(visit("v1", date(2023, 3, 1)))
    by_visit = defaultdict(list)
    for fee in fees.fees():
        by_visit[fee.data.visit_id].append(fee.data)
    [v1] = by_visit["v1"]
    first, correction = by_visit["v2"]
    assert v1.rule_ids == ["weekly_fee", "expense_allowance"] and v1.total == Decimal("520.00")
    assert first.total == Decimal("520.00") and correction.total == Decimal("-520.00")
    assert correction.corrects == first.fee_id and correction.fee_id != first.fee_id
    assert [p.data.amount for p in fees.on(FINANCE_POSTINGS)] == [Decimal("-520.00"), Decimal("-520.00"),
                                                                 Decimal("520.00")]
    await fees.send(visit("v1", date(2023, 3, 1)), visit("v2", date(2023, 3, 2)))  # re-sent: no effect
    assert len(fees.fees()) == 3


async def test_the_days_cap_goes_to_the_claims_in_visit_id_order():
    fees = Fees()
    hearing = dict(kind="hearing", certified=True)
    await fees.send(assigned(start=date(2023, 1, 1)), visit("v2", lost="1000.00", **hearing))
    await fees.send(visit("v1", lost="1000.00", **hearing))
    lost = defaultdict(Decimal)
    for fee in fees.fees():
        for line in fee.data.lines:
            if line.code == "lost_income":
                lost[fee.data.visit_id] += line.amount
    assert dict(lost) == {"v1": Decimal("1000.00"), "v2": Decimal("500.00")}  # cap 1500 a day
