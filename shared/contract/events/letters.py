"""Letters (skrivelser) between the nämnd and care providers, and their registration."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.contract.events.envelope import EventData
from shared.contract.events.types import BusinessDate, Id, Text

DocUri = Annotated[str, Field(min_length=1, max_length=2000)]


class LetterCreated(EventData):
    event_type = "pn.letter.created"

    letter_id: Id
    case_id: Id
    recipient_hsa_id: Annotated[str, Field(max_length=31)]
    subject: Text
    document_uri: DocUri
    contains_patient_data: bool
    created_by: Annotated[str, Field(max_length=100)]


class LetterReceived(EventData):
    event_type = "pn.letter.received"

    letter_id: Id
    case_id: Id
    sender_hsa_id: Annotated[str, Field(max_length=31)]
    subject: Text
    document_uri: DocUri
    contains_patient_data: bool
    received_on: BusinessDate


class DiaryRegistered(EventData):
    event_type = "pn.diary.registered"

    diary_number: Annotated[str, Field(pattern=r"^.+ \d{4}/\d+$", max_length=40)]
    registered_at: datetime
    direction: Literal["in", "out"]
    document_kind: Literal["complaint", "letter"]
    case_id: Id
    counterpart: Text
    subject: Text
    confidential: bool
    confidentiality_ref: str | None = None
    # Additive fields (compatible): which document was registered, so consumers can join.
    document_id: Id | None = None


class LetterDispatched(EventData):
    event_type = "pn.letter.dispatched"

    letter_id: Id
    diary_number: Annotated[str, Field(max_length=40)]
    registry_address: Annotated[str, Field(max_length=500)]
    dispatched_at: datetime
    recipient_hsa_id: Annotated[str | None, Field(max_length=31)] = None
    case_id: Id | None = None
