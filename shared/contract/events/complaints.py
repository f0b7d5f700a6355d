"""Complaints (synpunkter och klagomål): what upstream submits and what intake publishes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.contract.events.envelope import EventData, Part
from shared.contract.events.types import CountyCode, Id, Text

Channel = Literal["1177", "phone", "letter", "email", "visit"]


class Patient(Part):
    # The checksum is checked by intake (a business rejection), not here (a malformed event).
    personnummer: Annotated[str | None, Field(max_length=13)] = None
    name: Annotated[str | None, Field(max_length=200)] = None


class Submitter(Part):
    role: Literal["patient", "relative", "representative"]
    email: Annotated[str | None, Field(max_length=254)] = None
    phone: Annotated[str | None, Field(max_length=40)] = None


class Attachment(Part):
    filename: Annotated[str, Field(min_length=1, max_length=255)]
    media_type: Annotated[str, Field(min_length=3, max_length=100)]
    size_bytes: Annotated[int, Field(ge=0)]
    sha256: Annotated[str, Field(pattern=r"^[0-9a-fA-F]{64}$")]
    uri: Annotated[str, Field(min_length=1, max_length=2000)]


class ComplaintSubmitted(EventData):
    event_type = "pn.complaint.submitted"

    channel: Channel
    external_ref: Annotated[str | None, Field(max_length=100)] = None
    region: CountyCode
    patient: Patient = Patient()
    submitter: Submitter
    care_unit_hsa_id: Annotated[str | None, Field(max_length=31)] = None
    # Empty is a business rejection (`empty_description`); the 20,000 limit is the contract's.
    description: Annotated[str, Field(max_length=20_000)]
    categories: Annotated[list[Annotated[str, Field(max_length=80)]] | None, Field(max_length=20)] = None
    attachments: Annotated[list[Attachment] | None, Field(max_length=50)] = None


class CategoryRef(Part):
    code: Annotated[str, Field(max_length=80)]
    source: Literal["submitter", "rules"]


class CaseOpened(EventData):
    event_type = "pn.case.opened"

    case_id: Id
    complaint_event_id: Annotated[str, Field(max_length=200)]
    channel: Channel
    region: CountyCode
    care_unit_hsa_id: str | None = None
    care_unit_status: Literal["resolved", "unresolved", "none"]
    care_provider: Text | None = None
    categories: list[CategoryRef]
    opened_at: datetime


class ComplaintRejected(EventData):
    event_type = "pn.complaint.rejected"

    reason: Annotated[str, Field(max_length=60)]
    detail: Text
    complaint_event_id: Annotated[str | None, Field(max_length=200)] = None


class NotificationRequested(EventData):
    event_type = "pn.notification.requested"

    case_id: Id
    template: Literal["receipt", "sent_to_provider", "provider_replied", "closed"]
    channel: Literal["1177_inbox", "email", "letter"]
    recipient: Annotated[str, Field(max_length=300, description="contact reference, never health details")]
