"""The fees service as the platform sees it: name, port, inputs, settings, composition root."""

from __future__ import annotations

from shared.contract.topics import (
    COMMANDS,
    FEES_DRAFTS,
    FEES_PERSONS,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    TICKS,
)
from shared.service.spec import ServiceSpec

from .settings import Settings

SPEC = ServiceSpec(
    name="fees",
    port=6063,
    summary="support-person fees from the effective-dated fee schedule; rejections with reasons; monthly payouts",
    inputs=(SUPPORT_ASSIGNMENTS, SUPPORT_VISITS, FEES_PERSONS, COMMANDS, TICKS, FEES_DRAFTS),
    settings=Settings,
    app="services.fees.app:create_app",
)
