"""Composition root of the diary: stores, two processors, agents, web views."""

from __future__ import annotations

import faust

from shared.streaming import ServiceRuntime
from shared.topics import CARE_UNITS, DIARY_ENTRIES, DIARY_QUEUE

from . import agents, web
from .handlers import INTAKE_HANDLERS, QUEUE_HANDLERS, Deps
from .settings import Settings


def create_app(settings: Settings) -> faust.App:
    runtime = ServiceRuntime("diary", settings)
    deps = Deps(
        registry=runtime.store("registry", DIARY_QUEUE.partitions),
        directory=runtime.store("care-units", CARE_UNITS.partitions),
        waiting=runtime.store("waiting-letters", DIARY_ENTRIES.partitions),
        settings=settings, clock=runtime.clock, log=runtime.log)
    # Each processor commits only its own stores (their writes come from its topics' partitions).
    intake = runtime.processor(INTAKE_HANDLERS, deps, stores=[deps.directory, deps.waiting])
    numbering = runtime.processor(QUEUE_HANDLERS, deps, stores=[deps.registry])
    deps.emit = intake.emit  # both emitters are alike: source /pn/diary, the runtime's clock
    agents.register(runtime, intake=intake, numbering=numbering)
    web.register(runtime, registry=deps.registry, prefix=settings.diary_prefix)
    return runtime.app
