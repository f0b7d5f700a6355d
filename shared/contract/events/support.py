"""Support persons (stödpersoner): assignments, visits, and the fees decided for them."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from shared.contract.events.envelope import EventData, Part
from shared.contract.events.types import BusinessDate, Id, LegalBasis, Period, Text
from shared.kernel.money import Money


class SupportAssigned(EventData):
    event_type = "pn.support.assigned"

    assignment_id: Id
    support_person_id: Id
    patient_ref: Id
    legal_basis: LegalBasis
    start_date: BusinessDate


class SupportCareEnded(EventData):
    event_type = "pn.support.care_ended"

    assignment_id: Id
    care_ended_on: BusinessDate


class SupportEnded(EventData):
    event_type = "pn.support.ended"

    assignment_id: Id
    ended_on: BusinessDate
    reason: Text


class VisitReported(EventData):
    event_type = "pn.support.visit_reported"

    visit_id: Id
    assignment_id: Id
    support_person_id: Id
    date: BusinessDate
    # "training": the support persons' one-day training (handlingsplan, insats 1); additive value
    kind: Literal["visit", "phone", "hearing", "training"]
    travel_km: Annotated[Decimal | None, Field(ge=0, le=5000, decimal_places=1)] = None
    lost_income: Annotated[Money | None, Field(ge=0)] = None
    lost_income_certified: bool = False
    submitted_on: BusinessDate


class FeeLine(Part):
    code: Annotated[str, Field(max_length=60)]
    description: Text
    quantity: Decimal
    unit_price: Money
    amount: Money
    taxable: bool


class FeeCalculated(EventData):
    event_type = "pn.fee.calculated"

    fee_id: Id
    visit_id: Id
    support_person_id: Id
    lines: list[FeeLine]
    total: Money
    schedule_version: Annotated[str, Field(max_length=60)]
    rule_ids: list[str]
    # Additive fields (compatible): when and for whom, so reports need not join.
    visit_date: BusinessDate | None = None
    assignment_id: Id | None = None
    # Additive (issue 27): set on a correction of an earlier fee of the same visit (the week's arvode
    # moved to an earlier contact, or the day's lost-income cap shared out again): the fee id corrected.
    # Its lines are the difference (negative when taken back); a visit's fees sum to what it earns.
    corrects: Id | None = None


class FeeRejected(EventData):
    event_type = "pn.fee.rejected"

    visit_id: Id
    # Additive (issue 22): `event_id_reused`, a visit sent under an event id used before with other content.
    reason: Literal["no_assignment", "outside_support_period", "claim_too_late", "duplicate_visit",
                    "event_id_reused"]
    detail: Text
    support_person_id: Id | None = None


class FeePayout(EventData):
    event_type = "pn.fee.payout"

    period: Period
    support_person_id: Id
    fee_ids: list[str]
    taxable_total: Money
    tax_free_total: Money
    total: Money
