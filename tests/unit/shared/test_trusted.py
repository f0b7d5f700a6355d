"""`trusted` builds the same model as pydantic's model_construct, and `emitted_event` the same
envelope as `make_event` (guards a pydantic upgrade and a field added to the envelope)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from shared.contract.events import (
    CaseOpened,
    CategoryRef,
    FeeCalculated,
    FeeLine,
    LedgerPosted,
    emitted_event,
    encode,
    make_event,
    trusted,
)

LINE = FeeLine(code="weekly_fee", description="Arvode", quantity=Decimal(1), unit_price=Decimal("420.00"),
               amount=Decimal("420.00"), taxable=True)
VALUES = {
    FeeCalculated: {"fee_id": "f1", "visit_id": "v1", "support_person_id": "sp1", "lines": [LINE],
                    "total": Decimal("420.00"), "schedule_version": "PN 2022/11", "rule_ids": ["weekly_fee"],
                    "visit_date": date(2023, 3, 1), "assignment_id": "a1"},
    LedgerPosted: {"posting_id": "fees:f1", "period": "2023-03", "cost_centre": "6103", "account_group": "fees",
                   "amount": Decimal("-420.00"), "text": "Arvode stödperson, besök v1"},
    CaseOpened: {"case_id": "PN-2023-00001", "complaint_event_id": "c1", "channel": "1177", "region": "20",
                 "care_unit_hsa_id": None, "care_unit_status": "none", "care_provider": None,
                 "categories": [CategoryRef(code="vard.behandling", source="rules")],
                 "opened_at": datetime(2023, 3, 1, 12, tzinfo=UTC)},
}


@pytest.mark.parametrize("cls", list(VALUES))
def test_trusted_equals_model_construct(cls):
    built, constructed = trusted(cls, dict(VALUES[cls])), cls.model_construct(**VALUES[cls])
    assert built == constructed and repr(built) == repr(constructed)
    assert built.model_dump_json() == constructed.model_dump_json()
    assert built.model_fields_set == constructed.model_fields_set and built.model_extra == constructed.model_extra
    assert cls.model_validate_json(built.model_dump_json()) == built
    with pytest.raises(ValidationError):
        built.total = Decimal(0)  # frozen like any other instance


def test_values_not_naming_every_field_take_the_general_path():
    values = {k: v for k, v in VALUES[FeeCalculated].items() if k != "assignment_id"}
    built = trusted(FeeCalculated, dict(values))
    assert built.assignment_id is None and built == FeeCalculated.model_construct(**values)


AT = datetime(2023, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize("subject", [None, "PN-2023-000001"])
@pytest.mark.parametrize("time", [AT, AT.astimezone(timezone(timedelta(hours=1)))])
def test_emitted_event_equals_make_event(subject, time):
    data = trusted(LedgerPosted, dict(VALUES[LedgerPosted]))
    fields = {"source": "/pn/fees", "time": time, "id": "0b9f0f7e-5b3a-5c1d-8e2f-000000000001", "subject": subject}
    built, made = emitted_event(data, **fields), make_event(data, **fields)
    assert type(built) is type(made) and built == made and repr(built) == repr(made)
    assert encode(built) == encode(made) == made.model_dump_json(exclude_none=True).encode()
    assert built.model_fields_set == made.model_fields_set


def test_emitted_event_still_checks_what_a_handler_passes():
    data = trusted(LedgerPosted, dict(VALUES[LedgerPosted]))
    with pytest.raises(ValueError, match="timezone-aware"):
        emitted_event(data, source="/pn/fees", time=datetime(2023, 3, 1), id="x")
    with pytest.raises(ValueError, match="200"):
        emitted_event(data, source="/pn/fees", time=AT, id="x", subject="s" * 201)
