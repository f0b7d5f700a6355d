"""Composition root of fees: schedule, two stores, two processors, agents, tick, summary view."""

from __future__ import annotations

import faust

from shared.contract.topics import COMMANDS, SUPPORT_VISITS
from shared.runtime.app import ServiceRuntime
from shared.service.wiring import Wiring

from . import agents, web
from .handlers import BOOK_HANDLERS, REUSED_HANDLERS, VISIT_HANDLERS, Deps
from .rules import FeeSchedule, load_schedule
from .settings import Settings
from .spec import SPEC


def build_deps(runtime: Wiring, settings: Settings, *, schedule: FeeSchedule | None = None) -> Deps:
    """The service's stores (from the runtime: faust tables, or dicts in unit tests) and its
    compiled rules; a test may hand in rules it compiled once."""
    return Deps(
        fees=runtime.store("fees", SUPPORT_VISITS.partitions),  # also assignments and ticks (4)
        books=runtime.store("books", COMMANDS.partitions),
        schedule=schedule or load_schedule(settings.rules_dir / "fee_schedule.yaml"),  # bad file -> RulesFileError
        settings=settings, clock=runtime.clock, log=runtime.log)


def wire(runtime: Wiring, settings: Settings, deps: Deps | None = None) -> Deps:
    """Two processors (visits; books), their agents, the tick and the summary view."""
    deps = deps or build_deps(runtime, settings)
    for version in deps.schedule.versions:
        if version.example:  # the seeds give no amounts: say so until the region's decision is in
            runtime.log.warning("fee_schedule_example_amounts", version=version.version,
                                detail="replace the example amounts with the region's decided ones")
    # Each processor commits only its own store (its writes come from its topics' partitions).
    visits = runtime.processor(VISIT_HANDLERS, deps, stores=[deps.fees])
    visits.on_reused = REUSED_HANDLERS  # an id reused with other content: a business rejection
    books = runtime.processor(BOOK_HANDLERS, deps, stores=[deps.books])
    deps.emit = visits.emit  # both emitters are alike: source /pn/fees, the runtime's clock
    agents.register(runtime, visits=visits, books=books)
    runtime.tick_every(settings.fees_tick_s)
    web.register(runtime, fees=deps.fees, books=deps.books)
    return deps


def create_app(settings: Settings, deps: Deps | None = None) -> faust.App:
    runtime = ServiceRuntime(SPEC, settings)
    wire(runtime, settings, deps)
    return runtime.app
