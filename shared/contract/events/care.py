"""Care days (vårddygn) from the patient administration system, and the invoices billed for them."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field

from shared.contract.events.envelope import EventData, Part
from shared.contract.events.types import BusinessDate, CountyCode, Id, LegalBasis, Period, Text
from shared.kernel.money import Money


class CareDayRecorded(EventData):
    event_type = "pn.care.day_recorded"

    care_day_id: Id
    stay_id: Id
    patient_ref: Id
    home_region: CountyCode
    care_region: CountyCode
    care_date: BusinessDate
    form: Literal["inpatient", "outpatient"]
    legal_basis: LegalBasis | None = None  # None: voluntary care; `encode` leaves nulls out
    care_unit_hsa_id: Annotated[str, Field(max_length=31)]


class CareDayCancelled(EventData):
    event_type = "pn.care.day_cancelled"

    care_day_id: Id
    reason: Text


class InvoiceLine(Part):
    agreement_id: Annotated[str, Field(max_length=60)]
    legal_basis: LegalBasis
    description: Text
    quantity: int
    unit_price: Money
    amount: Money
    care_day_ids: list[str]


class InvoiceCredit(Part):
    care_day_id: str
    amount: Money


class InvoiceIssued(EventData):
    event_type = "pn.invoice.issued"

    invoice_number: Annotated[str, Field(max_length=40)]
    period: Period
    home_region: CountyCode
    lines: list[InvoiceLine]
    credits: list[InvoiceCredit] = []
    total: Money
    statistics: dict[str, Any] | None = None


class InvoiceDraftLine(Part):
    agreement_id: Annotated[str, Field(max_length=60)]
    legal_basis: LegalBasis
    description: Text
    unit_price: Money
    care_day_ids: list[str]


class InvoiceDrafted(EventData):
    """Billing-internal: what one close proposes for a home region and period. The billing service
    numbers and issues it from its one-partition drafts topic, so a replayed close cannot change
    an invoice that was already issued (the draft's id comes from the close command)."""

    event_type = "pn.invoice.drafted"

    period: Period
    home_region: CountyCode
    lines: list[InvoiceDraftLine] = []
    cancelled_care_day_ids: list[str] = []
    statistics: dict[str, Any] | None = None
