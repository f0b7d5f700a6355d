"""The diary service as the platform sees it: name, port, inputs, settings, composition root."""

from __future__ import annotations

from shared.contract.topics import (
    CARE_UNITS,
    CASES_OPENED,
    DIARY_DISPATCH,
    DIARY_ENTRIES,
    DIARY_QUEUE,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
)
from shared.service.spec import ServiceSpec

from .settings import Settings

SPEC = ServiceSpec(
    name="diary",
    port=6062,
    summary="every document registered with a gapless diary number before any letter is dispatched",
    inputs=(CASES_OPENED, LETTERS_INCOMING, LETTERS_OUTGOING, DIARY_ENTRIES, CARE_UNITS, DIARY_QUEUE, DIARY_DISPATCH),
    settings=Settings,
    app="services.diary.app:create_app",
)
