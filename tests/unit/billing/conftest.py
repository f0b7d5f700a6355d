"""Billing unit fixtures: care days, rules files (the real default and small variants)."""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import pytest

from services.billing.rules import BillingRules, load_billing_rules
from shared.events import CareDayRecorded

from ...conftest import ROOT

_ids = itertools.count(1)


def care_day(home: str = "21", on: str | date = "2024-03-01", basis: str | None = "LPT", form: str = "inpatient",
             *, care_region: str = "20", care_day_id: str | None = None, patient: str | None = None) -> CareDayRecorded:
    n = next(_ids)
    return CareDayRecorded(care_day_id=care_day_id or f"D{n}", stay_id=f"S{n}", patient_ref=patient or f"P{n}",
                           home_region=home, care_region=care_region, care_date=on, form=form, legal_basis=basis,
                           care_unit_hsa_id="SE2321000180-1234")


@pytest.fixture(scope="session")
def rules() -> BillingRules:
    return load_billing_rules(ROOT / "rules" / "billing.yaml", default_region="20")


@pytest.fixture
def write_rules(tmp_path: Path):
    def write(text: str) -> Path:
        path = tmp_path / "billing.yaml"
        path.write_text(text, encoding="utf-8")
        return path

    return write
