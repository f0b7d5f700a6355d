"""Billing-only settings (PN_ prefix): where invoice revenue is posted, and whether it is."""

from __future__ import annotations

from pydantic import Field

from shared.service.settings import PnSettings


class Settings(PnSettings):
    billing_cost_centre: str = Field("6102", pattern=r"^\d{4}$", description="kostnadsställe for invoice revenue")
    billing_post_revenue: bool = Field(True, description="post each invoice's revenue to pn.finance.postings")
