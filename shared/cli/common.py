"""What every `pn` command shares: settings read once from the environment, with overrides."""

from __future__ import annotations

from typing import Any

import click
from pydantic import ValidationError

from shared.service.settings import PnSettings


def load_settings(**overrides: Any) -> PnSettings:
    """PnSettings from the environment; a bad PN_ value is one line and exit 1, not a traceback."""
    try:
        base = PnSettings()
    except ValidationError as exc:
        raise click.ClickException(f"invalid PN_ setting: {exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}") from None
    return base.model_copy(update={k: v for k, v in overrides.items() if v is not None})
