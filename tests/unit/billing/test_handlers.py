"""Billing handlers through both processors: duplicates, closes, late days, cancels, postings, replays."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.billing.domain import Revenue
from shared.contract.events import CareDayCancelled, PeriodCloseRequested
from shared.contract.topics import (
    ALERTS_OPS,
    BILLING_DRAFTS,
    BILLING_INVOICES,
    CARE_DAYS,
    COMMANDS,
    DEADLETTER,
    FINANCE_POSTINGS,
)
from shared.service.testing import envelope, message

from .factories import care_day
from .harness import Billing


def amounts(invoices):
    return [(i.data.invoice_number, i.data.total) for i in invoices]


async def test_a_close_issues_one_invoice_per_home_region_with_lines_per_agreement_and_basis(rules):
    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01"), care_day("21", "2024-03-02", basis="LRV"),
                   care_day("03", "2024-03-03"), care_day("05", "2024-03-04"),
                   care_day("21", "2024-03-05", basis=None), care_day("20", "2024-03-06"),
                   care_day("21", "2024-04-01"))
    invoices = await b.close("2024-03")
    assert amounts(invoices) == [("PN-2024-03-03", Decimal("120.00")), ("PN-2024-03-05", Decimal("120.00")),
                                 ("PN-2024-03-21", Decimal("240.00"))]
    gavle = invoices[2].data
    assert [(line.agreement_id, line.legal_basis, line.quantity) for line in gavle.lines] == [
        ("mellanlansavtal-21", "LPT", 1), ("mellanlansavtal-21", "LRV", 1)]
    assert invoices[1].data.lines[0].agreement_id == "riksavtalet"
    assert gavle.statistics["not_billed"] == {"voluntary": 1}
    assert gavle.statistics["period_not_billed"] == {"in_region": 1, "voluntary": 1}
    assert await b.close("2024-03") == []  # nothing new: no second invoice


async def test_same_care_day_id_counts_once_and_same_patient_and_date_raises_an_alert(rules):
    b = Billing(rules)
    day = care_day("21", "2024-03-01", patient="P-dup")
    again = day.model_copy(update={"stay_id": "other"})
    twin = care_day("21", "2024-03-01", patient="P-dup", care_day_id="Dz-twin")
    await b.record(day, envelope(again), twin)
    (alert,) = b.on(ALERTS_OPS)
    assert alert.data.rule_id == "billing.duplicate_care_day"
    assert alert.data.facts == {"care_day_id": "Dz-twin", "kept_care_day_id": day.care_day_id,
                                "care_date": "2024-03-01", "home_region": "21"}
    assert "P-dup" not in alert.model_dump_json()
    (invoice,) = await b.close("2024-03")
    assert invoice.data.lines[0].care_day_ids == [day.care_day_id]


async def duplicates_in_order(rules, order):
    """Two stays (two partitions of pn.care.days) report the same patient and date: billing's one
    partition sees them in either order; the lower care_day_id is billed, the other alerted, alike."""
    b = Billing(rules)
    days = [care_day("21", "2024-03-01", patient="P-dup", care_day_id="D-a", stay="S1"),
            care_day("03", "2024-03-01", patient="P-dup", care_day_id="D-b", stay="S2")]
    for i in order:
        await b.record(envelope(days[i], id=f"ev-{i}"))
    (alert,) = b.on(ALERTS_OPS)
    assert alert.data.facts == ({"care_day_id": "D-b", "kept_care_day_id": "D-a",
                                 "care_date": "2024-03-01", "home_region": "03"})
    (invoice,) = await b.close("2024-03")
    assert (invoice.data.home_region, invoice.data.lines[0].care_day_ids) == ("21", ["D-a"])
    await b.record(envelope(days[order[0]], id=f"ev-{order[0]}"), envelope(days[order[1]], id=f"ev-{order[1]}"))
    assert len(b.on(ALERTS_OPS)) == 1 and await b.close("2024-03") == []  # a replay changes nothing
    return alert.id


async def test_which_duplicate_is_billed_and_which_is_alerted_does_not_depend_on_their_order(rules):
    ids = {await duplicates_in_order(rules, order) for order in [(0, 1), (1, 0)]}
    assert len(ids) == 1  # the same alert (its id derives from its cause) in either order


async def test_once_its_period_is_closed_the_billed_day_stands_against_a_lower_duplicate(rules):
    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01", patient="P-dup", care_day_id="D-b"))
    (invoice,) = await b.close("2024-03")
    await b.record(care_day("21", "2024-03-01", patient="P-dup", care_day_id="D-a"))
    (alert,) = b.on(ALERTS_OPS)
    assert alert.data.facts["care_day_id"] == "D-a" and alert.data.facts["kept_care_day_id"] == "D-b"
    assert invoice.data.lines[0].care_day_ids == ["D-b"] and await b.close("2024-04") == []


async def test_a_second_delivery_of_any_care_day_event_has_no_effect_without_a_seen_store(rules):
    b = Billing(rules)
    day = envelope(care_day("21", "2024-03-01", patient="P-dup"))
    twin = envelope(care_day("21", "2024-03-01", patient="P-dup", care_day_id="Dz-twin"))
    cancel = envelope(CareDayCancelled(care_day_id="D-other", reason="felregistrerad"))
    await b.record(day, twin, cancel)
    days_after_first = dict(b.deps.days.table)
    await b.record(day, twin, cancel)  # the broker delivers the same events again (a replay)
    assert len(b.on(ALERTS_OPS)) == 1
    assert b.deps.days.table == days_after_first
    (invoice,) = await b.close("2024-03")
    assert invoice.data.lines[0].care_day_ids == [day.data.care_day_id]


async def test_a_day_arriving_after_its_close_goes_on_a_supplementary_invoice_at_the_next_close(rules):
    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01"))
    assert amounts(await b.close("2024-03")) == [("PN-2024-03-21", Decimal("120.00"))]
    late = care_day("21", "2024-03-31")
    await b.record(late, care_day("21", "2024-04-02"))
    invoices = await b.close("2024-04")  # the next close, of another period, sweeps up March too
    assert amounts(invoices) == [("PN-2024-03-21-2", Decimal("120.00")), ("PN-2024-04-21", Decimal("120.00"))]
    assert invoices[0].data.lines[0].care_day_ids == [late.care_day_id]
    await b.record(care_day("21", "2024-03-15"))
    assert amounts(await b.close("2024-03")) == [("PN-2024-03-21-3", Decimal("120.00"))]


async def test_cancelling_an_invoiced_day_credits_it_once_at_the_next_close(rules):
    b = Billing(rules)
    days = [care_day("21", f"2024-03-{d:02d}") for d in range(1, 6)]
    await b.record(*days)
    await b.close("2024-03")
    await b.cancel(days[0].care_day_id, days[1].care_day_id, "never-recorded")
    (credit,) = await b.close("2024-04")
    assert credit.data.invoice_number == "PN-2024-03-21-2" and credit.data.lines == []
    assert [(c.care_day_id, c.amount) for c in credit.data.credits] == [
        (days[0].care_day_id, Decimal("120.00")), (days[1].care_day_id, Decimal("120.00"))]
    assert credit.data.total == Decimal("-240.00")
    assert await b.close("2024-04") == []  # credited once


async def test_a_day_cancelled_before_its_close_is_not_billed(rules):
    b = Billing(rules)
    day, kept = care_day("21", "2024-03-01"), care_day("21", "2024-03-02")
    await b.cancel(day.care_day_id)  # the cancel may overtake its day (another partition)
    await b.record(day, kept)
    (invoice,) = await b.close("2024-03")
    assert invoice.data.lines[0].care_day_ids == [kept.care_day_id]


async def test_a_corrected_day_after_a_cancel_is_not_a_duplicate(rules):
    b = Billing(rules)
    wrong = care_day("21", "2024-03-01", patient="P1")
    await b.record(wrong)
    await b.cancel(wrong.care_day_id)
    await b.record(care_day("21", "2024-03-01", patient="P1", basis="LRV"))
    assert b.on(ALERTS_OPS) == []
    (invoice,) = await b.close("2024-03")
    assert invoice.data.lines[0].legal_basis == "LRV"


async def test_invoice_income_goes_to_the_health_care_administration_and_the_namnds_share_by_transfer(rules):
    """Handlingsplan, insats 2: the ~1.9 Mkr "tillfaller Hälso- och sjukvårdsförvaltningen"; the
    nämnd, which bears the support-person cost, gets its share (0.5 Mkr a year) by an internal
    transfer under the effective-dated rule in rules/billing.yaml."""
    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01"), care_day("21", "2024-03-02"))
    await b.close("2024-03")
    postings = [(p.data.posting_id, p.data.cost_centre, p.data.account_group, p.data.amount)
                for p in b.on(FINANCE_POSTINGS)]
    assert postings == [
        ("billing:PN-2024-03-21", "5100", "revenue", Decimal("240.00")),
        ("billing:PN-2024-03-21:pn-andel:from", "5100", "revenue", Decimal("-64.66")),
        ("billing:PN-2024-03-21:pn-andel", "6103", "revenue", Decimal("64.66"))]
    assert not any(cc in ("6101", "6102") for _, cc, _, _ in postings)  # never booked as the nämnd's income

    await b.cancel(b.on(BILLING_INVOICES)[0].data.lines[0].care_day_ids[0])
    await b.close("2024-04")  # the credit gives the share back at the same rate
    assert [(p.data.posting_id, p.data.cost_centre, p.data.amount) for p in b.on(FINANCE_POSTINGS)[3:]] == [
        ("billing:PN-2024-03-21-2", "5100", Decimal("-120.00")),
        ("billing:PN-2024-03-21-2:pn-andel:from", "5100", Decimal("32.33")),
        ("billing:PN-2024-03-21-2:pn-andel", "6103", Decimal("-32.33"))]


async def test_no_share_before_its_rule_is_in_force_and_the_cost_centre_can_be_overridden(rules):
    b = Billing(rules, billing_cost_centre="5999")
    await b.record(care_day("21", "2023-07-01"))
    await b.close("2023-07")
    assert [p.data.cost_centre for p in b.on(FINANCE_POSTINGS)] == ["5999", "5999", "6103"]
    early = rules.revenue.model_copy(update={"shares": [s.model_copy(update={"effective_from": date(2023, 8, 1)})
                                                        for s in rules.revenue.shares]})
    assert early.share_for("2023-07") is None and early.share_for("2023-08").to_cost_centre == "6103"


def test_the_revenue_rule_refuses_overlapping_shares_and_a_share_to_its_own_cost_centre():
    share = {"id": "a", "name": "x", "to_cost_centre": "6103", "per_day": "1.00", "effective_from": "2023-01-01"}
    with pytest.raises(ValidationError, match="overlap"):
        Revenue(cost_centre="5100", shares=[share, {**share, "id": "b", "effective_from": "2024-01-01"}])
    with pytest.raises(ValidationError, match="own cost centre"):
        Revenue(cost_centre="6103", shares=[share])
    Revenue(cost_centre="5100", shares=[{**share, "effective_to": "2023-12-31"},
                                        {**share, "id": "b", "effective_from": "2024-01-01"}])


async def test_postings_can_be_switched_off(rules):
    quiet = Billing(rules, billing_post_revenue=False)
    await quiet.record(care_day("21", "2024-03-01"))
    assert len(await quiet.close("2024-03")) == 1 and quiet.on(FINANCE_POSTINGS) == []


async def test_fees_closes_are_not_ours(rules):
    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01"))
    assert await b.close("2024-03", service="fees") == []
    assert b.on(BILLING_DRAFTS) == []


async def test_a_replayed_close_with_other_content_cannot_change_an_issued_invoice(rules):
    """kill -9 after a close's drafts were sent, before its state commit: the close runs again
    and sees more days, but its drafts have the same ids and the first one wins."""
    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01"))
    close = envelope(PeriodCloseRequested(service="billing", period="2024-03"), id="close-1")
    before = len(b.publisher.sent)
    await b.books.process(message(COMMANDS, close))
    first_drafts = [s for s in b.publisher.sent[before:] if s.topic == BILLING_DRAFTS.name]
    for store in b.books.stores:  # as if the close's state was never committed
        store.table.clear()
    await b.record(care_day("21", "2024-03-02"))
    await b.books.process(message(COMMANDS, close))
    replayed = [s for s in b.publisher.sent[before:] if s.topic == BILLING_DRAFTS.name][len(first_drafts):]
    assert [d.event.id for d in replayed] == [d.event.id for d in first_drafts]
    await b.feed_drafts(first_drafts + replayed)
    invoices = b.on(BILLING_INVOICES)
    assert amounts(invoices) == [("PN-2024-03-21", Decimal("120.00"))]
    assert amounts(await b.close("2024-03")) == [("PN-2024-03-21-2", Decimal("120.00"))]


async def test_bad_input_is_dead_lettered(rules):
    b = Billing(rules)
    await b.days.process_batch([message(CARE_DAYS, b"{nope")])
    assert len(b.on(DEADLETTER)) == 1


async def test_a_cancel_between_a_close_and_its_invoice_is_credited_at_the_next_close(rules):
    """The next close runs before the first close's draft became an invoice (both in flight)."""
    b = Billing(rules)
    day, other = care_day("21", "2024-03-01"), care_day("21", "2024-03-02")
    await b.record(day, other)
    before = len(b.publisher.sent)
    await b.books.process(message(COMMANDS, PeriodCloseRequested(service="billing", period="2024-03")))
    await b.cancel(day.care_day_id)
    await b.books.process(message(COMMANDS, PeriodCloseRequested(service="billing", period="2024-04")))
    await b.feed_drafts([s for s in b.publisher.sent[before:] if s.topic == BILLING_DRAFTS.name])
    invoices = b.on(BILLING_INVOICES)
    assert amounts(invoices) == [("PN-2024-03-21", Decimal("240.00")), ("PN-2024-03-21-2", Decimal("-120.00"))]
    assert [c.care_day_id for c in invoices[1].data.credits] == [day.care_day_id]


async def test_the_summary_is_the_same_on_a_worker_without_the_one_partition_state(rules):
    """With several workers only one holds `invoices` (pn.billing.drafts has one partition);
    `issued` is global, so any worker's summary is the whole answer."""
    from services.billing.web import issued_invoices, summarise
    from shared.service.state import Store

    b = Billing(rules)
    await b.record(care_day("21", "2024-03-01"), care_day("03", "2024-03-02"))
    await b.close("2024-03")
    await b.record(care_day("21", "2024-03-03"))
    await b.close("2024-04")  # a supplementary PN-2024-03-21-2
    whole = summarise(issued_invoices(b.deps.issued, b.deps.invoices), 2024)
    assert [r["invoices"] for r in whole["rows"]] == [["PN-2024-03-03"], ["PN-2024-03-21", "PN-2024-03-21-2"]]
    assert summarise(issued_invoices(b.deps.issued, Store("invoices")), 2024) == whole  # another worker
    assert summarise(issued_invoices(Store("issued"), b.deps.invoices), 2024) == whole  # issued before `issued`
