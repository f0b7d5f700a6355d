"""Fees-only settings (PN_ prefix): hold time for early visits, the tick, where costs are posted."""

from __future__ import annotations

from pydantic import Field

from shared.service.settings import PnSettings


class Settings(PnSettings):
    fees_hold_s: float = Field(3600.0, gt=0, description="how long a visit waits for its assignment "
                               "before it is rejected no_assignment")
    fees_tick_s: float = Field(10.0, gt=0, description="how often held visits are checked")
    fees_cost_centre: str = Field("6103", pattern=r"^\d{4}$", description="kostnadsställe Stödpersoner")
    fees_post_costs: bool = Field(True, description="post each fee as a cost to pn.finance.postings")
