"""Composition root of fees: schedule, three stores, three processors (route, price, books), agents,
tick, summary view."""

from __future__ import annotations

import faust

from shared.contract.topics import COMMANDS, FEES_PERSONS, SUPPORT_ASSIGNMENTS
from shared.runtime.app import ServiceRuntime
from shared.service.wiring import Wiring

from . import agents, web
from .handlers import BOOK_HANDLERS, REUSED_HANDLERS, ROUTE_HANDLERS, VISIT_HANDLERS, Deps
from .rules import FeeSchedule, load_schedule
from .settings import Settings
from .spec import SPEC


def build_deps(runtime: Wiring, settings: Settings, *, schedule: FeeSchedule | None = None) -> Deps:
    """The service's stores (from the runtime: faust tables, or dicts in unit tests) and its
    compiled rules; a test may hand in rules it compiled once."""
    return Deps(
        routes=runtime.store("routes", SUPPORT_ASSIGNMENTS.partitions),  # stage 1, per assignment (4)
        fees=runtime.store("persons", FEES_PERSONS.partitions),  # stage 2, per support person, and ticks (4)
        books=runtime.store("books", COMMANDS.partitions),
        schedule=schedule or load_schedule(settings.rules_dir / "fee_schedule.yaml"),  # bad file -> RulesFileError
        settings=settings, clock=runtime.clock, log=runtime.log)


def wire(runtime: Wiring, settings: Settings, deps: Deps | None = None) -> Deps:
    """Three processors (route: re-key by support person; visits: price per person; books), their
    agents, the tick and the summary view."""
    deps = deps or build_deps(runtime, settings)
    for version in deps.schedule.versions:
        if version.example:  # the seeds give no amounts: say so until the region's decision is in
            runtime.log.warning("fee_schedule_example_amounts", version=version.version,
                                detail="replace the example amounts with the region's decided ones")
    # Each processor commits only its own store (its writes come from its topics' partitions).
    assert deps.routes is not None
    route = runtime.processor(ROUTE_HANDLERS, deps, stores=[deps.routes])
    route.on_reused = REUSED_HANDLERS  # an id reused with other content: a business rejection
    visits = runtime.processor(VISIT_HANDLERS, deps, stores=[deps.fees])
    books = runtime.processor(BOOK_HANDLERS, deps, stores=[deps.books])
    deps.emit = visits.emit  # the emitters are alike: source /pn/fees, the runtime's clock
    deps.partition = lambda: visits.partition  # ticks and closes act on their own partition's persons
    agents.register(runtime, route=route, visits=visits, books=books)
    runtime.tick_every(settings.fees_tick_s)
    web.register(runtime, fees=deps.fees)
    return deps


def create_app(settings: Settings, deps: Deps | None = None) -> faust.App:
    runtime = ServiceRuntime(SPEC, settings)
    wire(runtime, settings, deps)
    return runtime.app
