"""Billing handlers through both processors: duplicates, closes, late days, cancels, postings, replays."""

from __future__ import annotations

from decimal import Decimal

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
    twin = care_day("21", "2024-03-01", patient="P-dup", care_day_id="D-twin")
    await b.record(day, envelope(again), twin)
    (alert,) = b.on(ALERTS_OPS)
    assert alert.data.rule_id == "billing.duplicate_care_day"
    assert alert.data.facts == {"care_day_id": "D-twin", "kept_care_day_id": day.care_day_id,
                                "care_date": "2024-03-01", "home_region": "21"}
    assert "P-dup" not in alert.model_dump_json()
    (invoice,) = await b.close("2024-03")
    assert invoice.data.lines[0].care_day_ids == [day.care_day_id]


async def test_a_second_delivery_of_any_care_day_event_has_no_effect_without_a_seen_store(rules):
    b = Billing(rules)
    day = envelope(care_day("21", "2024-03-01", patient="P-dup"))
    twin = envelope(care_day("21", "2024-03-01", patient="P-dup", care_day_id="D-twin"))
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


async def test_each_invoice_posts_its_revenue_with_a_deterministic_posting_id(rules):
    b = Billing(rules, billing_cost_centre="6102")
    await b.record(care_day("21", "2024-03-01"))
    await b.close("2024-03")
    (posting,) = b.on(FINANCE_POSTINGS)
    assert (posting.data.posting_id, posting.data.period, posting.data.cost_centre, posting.data.account_group,
            posting.data.amount) == ("billing:PN-2024-03-21", "2024-03", "6102", "revenue", Decimal("120.00"))

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
