"""Composition root of the diary: stores, two processors, agents, web views."""

from __future__ import annotations

from datetime import UTC, datetime

import faust

from shared.contract.topics import CARE_UNITS, DIARY_DISPATCH, DIARY_ENTRIES, DIARY_QUEUE
from shared.runtime.app import ServiceRuntime
from shared.service.wiring import Wiring

from . import agents, web
from .handlers import DISPATCH_HANDLERS, INTAKE_HANDLERS, QUEUE_HANDLERS, Deps
from .settings import Settings
from .spec import SPEC


class ShiftedClock:
    """The system clock moved to start at `start`: a year change can be shown on a real worker."""

    def __init__(self, start: datetime) -> None:
        self._offset = start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset


def build_deps(runtime: Wiring, settings: Settings) -> Deps:
    """The service's stores (from the runtime: faust tables, or dicts in unit tests) and its
    compiled rules; a test may hand in rules it compiled once."""
    return Deps(
        registry=runtime.store("registry", DIARY_QUEUE.partitions),
        directory=runtime.global_store("care-units", CARE_UNITS),  # every worker: views, dispatch's fallback
        waiting=runtime.store("waiting-letters", DIARY_ENTRIES.partitions),  # earlier versions': drained
        dispatch=runtime.store("dispatch", DIARY_DISPATCH.partitions),
        settings=settings, clock=runtime.clock, log=runtime.log)


def wire(runtime: Wiring, settings: Settings, deps: Deps | None = None) -> Deps:
    """Three processors (documents in; the one-partition numbering; dispatch by recipient), their
    agents and the views."""
    deps = deps or build_deps(runtime, settings)
    # Each processor commits only its own stores (their writes come from its topics' partitions).
    intake = runtime.processor(INTAKE_HANDLERS, deps, stores=[deps.directory, deps.waiting])
    numbering = runtime.processor(QUEUE_HANDLERS, deps, stores=[deps.registry])
    dispatch = runtime.processor(DISPATCH_HANDLERS, deps, stores=[deps.dispatch])
    deps.emit = intake.emit  # the emitters are alike: source /pn/diary, the runtime's clock
    agents.register(runtime, intake=intake, numbering=numbering, dispatch=dispatch)
    web.register(runtime, registry=deps.registry, prefix=settings.diary_prefix, directory=deps.directory)
    return deps


def create_app(settings: Settings, deps: Deps | None = None) -> faust.App:
    clock = ShiftedClock(settings.diary_clock_start) if settings.diary_clock_start else None
    runtime = ServiceRuntime(SPEC, settings, clock=clock)
    wire(runtime, settings, deps)
    return runtime.app
