"""Billing unit fixtures: rules files (the real default and small variants)."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.billing.rules import BillingRules, load_billing_rules

from ...conftest import ROOT


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
