"""Handlers through the shared Processor: replay of the seed, replacement, duplicates, alerts once."""

from decimal import Decimal as D

import pytest

from services.budget.web import budget_view
from shared.apps.demo.seed_jamtland import jamtland_2023
from shared.contract.events import derive_id
from shared.contract.topics import BUDGET_LEDGER
from shared.service.state import Store
from shared.service.testing import envelope

from .harness import Budget, budget, posting


def tkr(s: str) -> int:
    return int((D(s) / 1000).quantize(D(1), rounding="ROUND_HALF_UP"))


async def replay_jamtland(b: Budget, year: int = 2091) -> None:
    budgets, postings = jamtland_2023(year)
    await b.feed(*budgets)
    for month in range(1, 13):
        await b.feed(*[p for p in postings if p.period.endswith(f"-{month:02d}")])


async def test_jamtland_replay_gives_the_seed_deviations():
    b = Budget()
    await replay_jamtland(b)
    dev = {cc: tkr(b.latest(cc, 2091)["total"]["deviation"]) for cc in ("6101", "6102", "6103", "total")}
    assert dev == {"6101": 16, "6102": 260, "6103": 60, "total": 336}
    total = b.latest("total", 2091)
    assert total["period"] == "2091-12"
    assert total["total"]["deviation"] == "335500.00" and total["total"]["actual_ytd"] == "-3164100.00"
    assert total["account_groups"]["revenue"]["deviation"] == "-51000.00"
    # a full year: both forecasts are the outcome
    assert total["total"]["forecast_run_rate"] == total["total"]["forecast_budget_rest"] == "-3164100.00"
    # revenue 87 % of budget after month 12: the info alert is raised for 6102 revenue, nothing else at year end
    open_ = _open_alerts(b)
    assert "budget.revenue_shortfall|2091|6102/revenue" in open_
    view = budget_view(b.deps.published, b.deps.totals, 2091)
    assert [c["cost_centre"] for c in view["cost_centres"]] == ["6101", "6102", "6103"]
    assert view["cost_centres"][1] == b.latest("6102", 2091) and view["total"] == total


async def test_the_view_answers_the_same_on_a_worker_without_the_one_partition_state():
    """With several workers only one holds `totals` (pn.budget.centres has one partition) and each
    holds a part of `ledger`; `published` is global, so any worker's view is the whole answer."""
    b = Budget()
    await replay_jamtland(b)
    whole = budget_view(b.deps.published, b.deps.totals, 2091)
    assert len(whole["cost_centres"]) == 3 and whole["total"] is not None
    elsewhere = Store("totals")  # another worker: none of the one-partition state
    assert budget_view(b.deps.published, elsewhere, 2091) == whole
    before_upgrade = Store("published")  # statuses last changed before `published` existed
    assert budget_view(before_upgrade, b.deps.totals, 2091) == whole


def _open_alerts(b: Budget) -> set[str]:
    state: dict[str, str] = {}
    for e in b.alerts():
        state[e.data.alert_id] = e.type
    return {k for k, t in state.items() if t == "pn.alert.raised"}


async def test_duplicates_change_nothing():
    b = Budget()
    await replay_jamtland(b)
    def outputs():  # what the service publishes beyond its re-key of every input
        return [s for s in b.publisher.sent if s.topic != BUDGET_LEDGER.name]

    sent = len(outputs())
    budgets, postings = jamtland_2023(2091)
    # the same events again (same ids), and the same posting_ids under new event ids
    await b.feed(*budgets, *postings)
    await b.feed(*[envelope(p) for p in postings])
    assert len(outputs()) == sent


async def test_later_budget_replaces_and_changed_posting_moves():
    b = Budget()
    await b.feed(budget(2091, "6103", "fees", "-120000"), posting("x1", "2091-01", "6103", "fees", "-10000"))
    assert b.latest("6103", 2091)["total"]["annual_budget"] == "-120000.00"
    await b.feed(budget(2091, "6103", "fees", "-240000"))
    s = b.latest("6103", 2091)["total"]
    assert (s["annual_budget"], s["budget_ytd"], s["deviation"]) == ("-240000.00", "-20000.00", "10000.00")
    await b.feed(posting("x1", "2091-02", "6103", "fees", "-30000"))  # corrected: moved and changed
    s = b.latest("6103", 2091)
    assert s["period"] == "2091-02" and s["total"]["actual_ytd"] == "-30000.00"
    assert s["total"]["forecast_run_rate"] == "-180000.00"
    assert s["total"]["forecast_budget_rest"] == "-230000.00"  # −30,000 + 10 × −20,000


async def fees_overrun(b: Budget, year: int = 2091) -> None:
    await b.feed(budget(year, "6103", "fees", "-900000"))
    for m in (1, 2, 3):
        await b.feed(posting(f"f{m}", f"{year}-{m:02d}", "6103", "fees", "-75000"))
    assert b.alerts() == []
    await b.feed(posting("f4", f"{year}-04", "6103", "fees", "-200000"))


async def test_fees_overrun_raises_forecast_deficit_once_and_a_budget_increase_resolves_it():
    b = Budget()
    await fees_overrun(b)
    raised = {e.data.rule_id: e for e in b.alerts()}
    assert set(raised) == {"budget.forecast_deficit", "budget.ytd_deficit"}
    fd = raised["budget.forecast_deficit"]
    assert fd.type == "pn.alert.raised" and fd.data.alert_id == "budget.forecast_deficit|2091|6103"
    assert fd.data.facts["period"] == "2091-04" and fd.data.facts["forecast_gap_ore"] == -37_500_000
    assert fd.data.severity == "warning" and "6103" in fd.data.message.sv and "−" not in fd.data.message.en
    await b.feed(posting("f4b", "2091-04", "6103", "fees", "-1"))  # still true: no repeat
    assert len(b.alerts()) == 2
    await b.feed(budget(2091, "6103", "fees", "-1300000"))
    resolved = [e for e in b.alerts()[2:]]
    assert {e.data.rule_id for e in resolved} == {"budget.forecast_deficit", "budget.ytd_deficit"}
    assert all(e.type == "pn.alert.resolved" for e in resolved)
    assert all(e.data.message.sv.startswith("Upphört: Kostnadsställe 6103") for e in resolved)  # not "åtgärdat"
    assert all(e.data.message.en.startswith("Ended: ") for e in resolved)
    assert not fd.data.message.sv.startswith("Upphört")
    assert {e.data.alert_id for e in resolved} == {e.data.alert_id for e in raised.values()}
    await b.feed(budget(2091, "6103", "fees", "-1300001"))
    assert len(b.alerts()) == 4


async def test_total_forecast_deficit_over_cost_centres():
    b = Budget()
    for cc in ("6101", "6102"):
        await b.feed(budget(2091, cc, "personnel", "-1200000"))
    await b.feed(posting("a1", "2091-01", "6101", "personnel", "-120000"))  # run rate −1.44 M
    await b.feed(posting("a2", "2091-01", "6102", "personnel", "-120000"))  # total gap −480,000
    assert not [e for e in b.alerts() if e.data.rule_id == "budget.total_forecast_deficit"]
    await b.feed(posting("a3", "2091-01", "6102", "personnel", "-1667"))  # total gap −500,004
    total = [e for e in b.alerts() if e.data.rule_id == "budget.total_forecast_deficit"]
    assert [(e.type, e.data.alert_id, e.data.severity) for e in total] == [
        ("pn.alert.raised", "budget.total_forecast_deficit|2091|total", "critical")]


async def test_no_alert_without_a_budget_and_years_are_independent():
    b = Budget()
    await b.feed(posting("n1", "2091-01", "6101", "other", "-500000"))  # read before its budget
    assert b.alerts() == [] and b.latest("6101", 2091)["total"]["deviation"] == "-500000.00"
    await b.feed(posting("n2", "2092-01", "6101", "other", "-7"))
    assert b.latest("6101", 2091)["total"]["actual_ytd"] == "-500000.00"
    assert b.latest("total", 2092)["total"]["actual_ytd"] == "-7.00"
    await b.feed(budget(2091, "6101", "other", "-6000000"))  # the budget arrives: no deficit
    assert b.alerts() == [] and b.latest("6101", 2091)["total"]["deviation"] == "0.00"


async def test_view_rejects_a_bad_year():
    from services.budget import web
    from shared.web.gate import BadRequest, WebRequest

    routes = {}

    class Runtime:
        def route(self, method, path, handler, role, doc=None):
            routes[path] = (handler, role)

    b = Budget()
    web.register(Runtime(), published=b.deps.published, totals=b.deps.totals)
    handler, role = routes["/budget/{year}"]
    assert role == "officer"
    req = WebRequest.__new__(WebRequest)
    object.__setattr__(req, "params", {"year": "20x1"})
    with pytest.raises(BadRequest):
        await handler(req)
    object.__setattr__(req, "params", {"year": "2091"})
    assert await handler(req) == {"year": 2091, "cost_centres": [], "total": None}


async def test_state_per_cost_centre_is_bounded_whatever_the_number_of_postings():
    b = Budget()
    await b.feed(budget(2091, "6103", "fees", "-900000"))
    for batch in range(4):
        await b.feed(*[posting(f"p{batch}-{i}", f"2091-{1 + i % 12:02d}", "6103", ("fees", "other")[i % 2], "-10.05")
                       for i in range(300)])
    ledger = b.deps.ledger
    assert sorted(k for k in ledger.keys() if not k.startswith(("k|", "a|"))) == [
        "b|2091|6103|fees", "s|2091|6103", "y|2091|6103"]
    assert ledger["y|2091|6103"] == {"months": {f"{m:02d}": 100 for m in range(1, 13)},
                                     "groups": {"fees": [-603000, 600], "other": [-603000, 600]}}
    assert b.latest("6103", 2091)["account_groups"]["other"]["actual_ytd"] == "-6030.00"


async def test_state_of_the_previous_version_is_read_and_replaced():
    """Before: `m|<year>|<cc>|<period>|<group>` → {posting_id: amount} and the index `g|<year>|<cc>`."""
    from services.budget.domain import ore

    postings = [posting("x1", "2091-01", "6103", "fees", "-100.10"), posting("x2", "2091-03", "6103", "fees", "-50"),
                posting("x3", "2091-03", "6103", "other", "-7.01")]
    fresh = Budget()
    await fresh.feed(budget(2091, "6103", "fees", "-1200"), *postings)
    old = Budget()
    await old.feed(budget(2091, "6103", "fees", "-1200"))
    ledger = old.deps.ledger.table
    for p in postings:
        amount = f"{p.amount:.2f}"
        ledger[f"k|6103|{p.posting_id}"] = f"2091|{p.period}|{p.account_group}|{amount}"
        ledger.setdefault(f"m|2091|6103|{p.period}|{p.account_group}", {})[p.posting_id] = amount
    ledger["g|2091|6103"] = ["2091-01|fees", "2091-03|fees", "2091-03|other"]
    ledger["s|2091|6103"] = fresh.deps.ledger["s|2091|6103"]
    # a changed budget before any posting since the upgrade: figures from the old buckets, kept
    await old.feed(budget(2091, "6103", "fees", "-2400"))
    await fresh.feed(budget(2091, "6103", "fees", "-2400"))
    assert old.latest("6103", 2091) == fresh.latest("6103", 2091)
    assert "g|2091|6103" in old.deps.ledger
    # the next posting converts them: old keys gone, the same figures as without the old layout
    moved = posting("x2", "2091-02", "6103", "other", "-60")
    await old.feed(moved)
    await fresh.feed(moved)
    assert old.latest("6103", 2091) == fresh.latest("6103", 2091)
    assert not [k for k in old.deps.ledger.keys() if k[0] in "mg"]
    assert old.deps.ledger["y|2091|6103"] == fresh.deps.ledger["y|2091|6103"]
    assert fresh.deps.ledger["y|2091|6103"]["groups"]["other"] == [ore("-67.01"), 2]


async def test_a_batch_of_postings_to_one_cost_centre_publishes_one_status_with_the_final_figures():
    events = [envelope(budget(2091, "6103", "fees", "-900000"))] + [
        envelope(posting(f"b{i}", f"2091-{1 + i // 10:02d}", "6103", "fees", "-1234.56")) for i in range(40)]
    one_by_one = Budget(batch=1)
    await one_by_one.feed(*events)
    assert len([s for s in one_by_one.statuses() if s.data.cost_centre == "6103"]) == 40
    b = Budget()
    await b.feed(events[0])
    before = len(b.statuses())
    await b.feed(*events[1:])
    batch = b.statuses()[before:]
    assert sorted(s.data.cost_centre for s in batch) == ["6103", "total"]  # one each
    assert b.latest("6103", 2091) == one_by_one.latest("6103", 2091)
    assert b.latest("total", 2091) == one_by_one.latest("total", 2091)
    s = b.latest("6103", 2091)
    assert s["period"] == "2091-04" and s["total"]["actual_ytd"] == "-49382.40"
    # caused by the batch's last event for the cost centre: the same id when the batch is replayed
    assert batch[0].id == derive_id("/pn/budget", "pn.budget.status", events[-1].id, "status", "6103", 2091)
    again = Budget()
    await again.feed(events[0])
    await again.feed(*events[1:])
    assert [e.id for e in again.statuses()] == [e.id for e in b.statuses()]


async def test_a_deviation_within_one_batch_raises_nothing_per_event_batches_raise_and_resolve_it():
    def events():
        return [budget(2091, "6103", "fees", "-900000"),
                *[posting(f"f{m}", f"2091-{m:02d}", "6103", "fees", "-75000") for m in (1, 2, 3)],
                posting("f4", "2091-04", "6103", "fees", "-200000"),  # a deficit...
                posting("f4", "2091-04", "6103", "fees", "-75000")]  # ...corrected in the same batch
    batched = Budget()
    await batched.feed(*events())
    assert batched.alerts() == []
    assert batched.latest("6103", 2091)["total"]["actual_ytd"] == "-300000.00"
    per_event = Budget(batch=1)
    await per_event.feed(*events())
    assert [(e.type, e.data.rule_id) for e in per_event.alerts()] == [
        ("pn.alert.raised", "budget.ytd_deficit"), ("pn.alert.raised", "budget.forecast_deficit"),
        ("pn.alert.resolved", "budget.ytd_deficit"), ("pn.alert.resolved", "budget.forecast_deficit")]
    assert per_event.latest("6103", 2091) == batched.latest("6103", 2091)


async def test_a_posting_moved_to_another_year_in_a_batch_refreshes_both_years():
    b = Budget()
    await b.feed(posting("x1", "2091-03", "6101", "other", "-100"), posting("x2", "2091-01", "6101", "other", "-5"))
    await b.feed(posting("x1", "2092-02", "6101", "other", "-100"), posting("x3", "2092-01", "6101", "other", "-1"))
    assert b.latest("6101", 2091)["period"] == "2091-01"
    assert b.latest("6101", 2091)["total"]["actual_ytd"] == "-5.00"
    assert b.latest("6101", 2092)["total"]["actual_ytd"] == "-101.00"
    assert b.latest("total", 2091)["total"]["actual_ytd"] == "-5.00"
    assert b.latest("total", 2092)["total"]["actual_ytd"] == "-101.00"


async def test_only_the_namnds_own_cost_centres_are_counted():
    """Invoice income is the health-care administration's (rules/billing.yaml `revenue`): its
    postings and budgets, and its side of the internal transfer, never reach the nämnd's figures."""
    b = Budget()
    await b.feed(budget(2091, "6103", "revenue", "0"), budget(2091, "6103", "fees", "-900000"),
                 budget(2091, "5100", "revenue", "1900000"),
                 posting("billing:PN-2091-01-21", "2091-01", "5100", "revenue", "120000"),
                 posting("billing:PN-2091-01-21:pn-andel:from", "2091-01", "5100", "revenue", "-32330"),
                 posting("billing:PN-2091-01-21:pn-andel", "2091-01", "6103", "revenue", "32330"),
                 posting("fees:1", "2091-01", "6103", "fees", "-70000"))
    assert {e.data.cost_centre for e in b.statuses()} == {"6103", "total"}
    assert b.latest("total", 2091)["total"]["actual_ytd"] == "-37670.00"
    assert b.latest("6103", 2091)["account_groups"]["revenue"]["actual_ytd"] == "32330.00"
    assert not any("5100" in a.data.subject for a in b.alerts())


async def test_budgets_and_postings_are_re_keyed_by_cost_centre_whatever_partition_they_came_on():
    """Upstream's partitioner may put a cost centre's budget and its postings on different
    partitions of the public topics (librdkafka's default is not murmur2); the re-key sends both,
    unchanged, to pn.budget.ledger under the cost centre, so our partitioner puts them together."""
    from shared.contract.topics import FINANCE_BUDGETS, FINANCE_POSTINGS
    from shared.service.testing import message

    b = Budget()
    set_, post, other = (envelope(budget(2091, "6103", "fees", "-1200")), envelope(posting("p", "2091-01", "6103", "fees", "-1")),
                         envelope(posting("q", "2091-01", "5100", "revenue", "9")))
    await b.ledger.process_batch([message(FINANCE_BUDGETS, set_, partition=0),
                                  message(FINANCE_POSTINGS, post, partition=3),
                                  message(FINANCE_POSTINGS, other, partition=1)])
    forwarded = [s for s in b.publisher.sent if s.topic == BUDGET_LEDGER.name]
    assert [(s.key, s.event.id) for s in forwarded] == [(b"6103", set_.id), (b"6103", post.id)]  # not 5100's
