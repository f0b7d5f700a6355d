"""Budget-only settings (PN_ prefix)."""

from __future__ import annotations

from shared.service.settings import PnSettings


class Settings(PnSettings):
    """No budget-only knobs yet: the alert rules are rules/budget_alerts.yaml under `rules_dir`."""
