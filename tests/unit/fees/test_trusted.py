"""`trusted` builds the same model as pydantic's model_construct (guards a pydantic upgrade)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from services.fees.handlers import trusted
from shared.events import FeeCalculated, FeeLine, LedgerPosted

LINE = FeeLine(code="weekly_fee", description="Arvode", quantity=Decimal(1), unit_price=Decimal("420.00"),
               amount=Decimal("420.00"), taxable=True)
VALUES = {
    FeeCalculated: {"fee_id": "f1", "visit_id": "v1", "support_person_id": "sp1", "lines": [LINE],
                    "total": Decimal("420.00"), "schedule_version": "PN 2022/11", "rule_ids": ["weekly_fee"],
                    "visit_date": date(2023, 3, 1), "assignment_id": "a1"},
    LedgerPosted: {"posting_id": "fees:f1", "period": "2023-03", "cost_centre": "6103", "account_group": "fees",
                   "amount": Decimal("-420.00"), "text": "Arvode stödperson, besök v1"},
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
