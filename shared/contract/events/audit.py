"""Audit trail of reads of case data through the HTTP API (issue 11).

An audit event says who read (token name and role), which view, which case id(s) and when.
It never holds case content: no description, personnummer, names or free text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field

from shared.contract.events.envelope import EventData

Short = Annotated[str, Field(max_length=200)]


class CaseRead(EventData):
    event_type = "pn.audit.case_read"

    who: Annotated[str, Field(max_length=64)]
    """The token name of the caller (from the token file), e.g. `case-system`."""
    role: Literal["submitter", "officer", "ops"]
    service: Annotated[str, Field(max_length=40)]
    view: Short
    """The view's audit name (`case`) and path template, e.g. `case GET /cases/{case_id}`."""
    case_id: Short | None = None
    ids: dict[Short, Short] = {}
    """The path parameters of the request (ids only), e.g. {"case_id": "PN-20-2023-000123"}."""
    at: datetime
