"""Schema evolution (docs/schema-evolution.md): an event written under an older `schemaversion`
is read by today's code through its upcasters; a newer one than the code knows is refused.

The worked example of the doc: `pn.support.visit_reported` v2 would give the journey as
`travel: {km, by}` where v1 has `travel_km`. The v2 model lives in this test only (no type
needs a v2 yet); the v1 record is the real one today's producers write."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Literal

import pytest
from pydantic import ValidationError

from shared.contract.events import VisitReported, encode, make_event
from shared.contract.events.envelope import EVENT_TYPES, EventData, Part, decoder_for
from shared.contract.events.upcast import UPCASTERS, upcaster, upcasters_for
from shared.service.testing import envelope


class Travel(Part):
    km: Decimal
    by: Literal["car", "public_transport", "unknown"]


class VisitReportedV2(EventData):
    """v2: the journey as a part of its own (v1: `travel_km`)."""

    visit_id: str
    assignment_id: str
    support_person_id: str
    date: date
    kind: Literal["visit", "phone", "hearing"]
    travel: Travel | None = None
    submitted_on: date


VisitReportedV2.event_type = "pn.support.visit_reported"  # after the class body: not registered
VisitReportedV2.schema_version = 2


def v1_to_v2(data: dict) -> dict:
    km = data.pop("travel_km", None)
    data["travel"] = None if km is None else {"km": km, "by": "unknown"}
    return data


@pytest.fixture
def registered(monkeypatch):
    monkeypatch.setitem(UPCASTERS, "pn.support.visit_reported", {})
    upcaster("pn.support.visit_reported", 1)(v1_to_v2)


def visit_v1(**over) -> bytes:
    data = VisitReported(visit_id="v1", assignment_id="a1", support_person_id="s1", date=date(2023, 3, 1),
                         kind="visit", travel_km=Decimal("12.5"), submitted_on=date(2023, 3, 2), **over)
    return encode(envelope(data, id="e1"))


def test_a_v1_record_is_read_as_v2(registered):
    event = decoder_for((VisitReportedV2,)).validate_json(visit_v1())
    assert event.schemaversion == 2 and event.id == "e1"
    assert event.data.travel == Travel(km=Decimal("12.5"), by="unknown")


def test_a_v2_record_is_read_as_it_is(registered):
    v2 = VisitReportedV2(visit_id="v1", assignment_id="a1", support_person_id="s1", date=date(2023, 3, 1),
                         kind="phone", travel=Travel(km=Decimal(3), by="car"), submitted_on=date(2023, 3, 2))
    raw = encode(make_event(v2, source="/test", time=envelope(v2).time, id="e2"))
    assert b'"schemaversion":2' in raw
    event = decoder_for((VisitReportedV2,)).validate_json(raw)
    assert event.data.travel.by == "car"


def test_a_version_newer_than_the_code_is_refused_not_guessed():
    raw = visit_v1().replace(b'"schemaversion":1', b'"schemaversion":2')
    with pytest.raises(ValidationError) as err:
        decoder_for((VisitReported,)).validate_json(raw)
    assert err.value.errors()[0]["loc"] == ("schemaversion",)


def test_a_missing_step_is_an_error_when_the_decoder_is_built(monkeypatch):
    VisitReportedV3 = type("VisitReportedV3", (VisitReportedV2,), {})
    VisitReportedV3.schema_version = 3
    monkeypatch.setitem(UPCASTERS, "pn.support.visit_reported", {1: v1_to_v2})
    with pytest.raises(ValueError, match="no upcaster from v2"):
        decoder_for((VisitReportedV3,))


def test_every_type_of_the_contract_has_a_complete_chain():
    upcasters_for(tuple(EVENT_TYPES.values()))  # raises on a gap
    assert all(cls.schema_version >= 1 for cls in EVENT_TYPES.values())
