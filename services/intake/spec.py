"""The intake service as the platform sees it: name, port, inputs, settings, composition root."""

from __future__ import annotations

from shared.contract.topics import (
    CARE_UNITS,
    COMPLAINTS_SUBMITTED,
    DIARY_ENTRIES,
    INTAKE_ACCEPTED,
    TICKS,
)
from shared.service.spec import ServiceSpec

from .settings import Settings

SPEC = ServiceSpec(
    name="intake",
    port=6061,
    summary="complaints from 1177, phone, letter and e-mail: validated, de-duplicated, categorised, routed to the care unit, a case opened",
    inputs=(COMPLAINTS_SUBMITTED, CARE_UNITS, DIARY_ENTRIES, TICKS, INTAKE_ACCEPTED),
    settings=Settings,
    app="services.intake.app:create_app",
)
