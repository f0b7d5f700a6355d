"""Billing-only settings (PN_ prefix): whether invoice income is posted, and an override of where."""

from __future__ import annotations

from pydantic import Field

from shared.service.settings import PnSettings


class Settings(PnSettings):
    billing_cost_centre: str | None = Field(
        None, pattern=r"^\d{4}$",
        description="kostnadsställe for invoice income; default: `revenue.cost_centre` of rules/billing.yaml "
                    "(the health-care administration's)")
    billing_post_revenue: bool = Field(True, description="post each invoice's revenue to pn.finance.postings")
