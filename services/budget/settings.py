"""Budget-only settings (PN_ prefix)."""

from __future__ import annotations

from pydantic import Field

from shared.service.settings import PnSettings


class Settings(PnSettings):
    """Budget-only knobs; the alert rules are rules/budget_alerts.yaml under `rules_dir`."""

    budget_cost_centres: tuple[str, ...] = Field(
        ("6101", "6102", "6103"),
        description="the nämnd's own kostnadsställen (JSON list): the only ones the monitor counts; "
                    "postings elsewhere (e.g. the health-care administration's invoice income) are ignored")
