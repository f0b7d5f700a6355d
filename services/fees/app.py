"""Composition root of fees: schedule, two stores, two processors, agents, tick, summary view."""

from __future__ import annotations

import faust

from shared.streaming import ServiceRuntime
from shared.topics import COMMANDS, SUPPORT_VISITS

from . import agents, web
from .handlers import BOOK_HANDLERS, REUSED_HANDLERS, VISIT_HANDLERS, Deps
from .rules import load_schedule
from .settings import Settings


def create_app(settings: Settings) -> faust.App:
    runtime = ServiceRuntime("fees", settings)
    deps = Deps(
        fees=runtime.store("fees", SUPPORT_VISITS.partitions),  # also assignments and ticks (4)
        books=runtime.store("books", COMMANDS.partitions),
        schedule=load_schedule(settings.rules_dir / "fee_schedule.yaml"),  # bad file -> RulesFileError
        settings=settings, clock=runtime.clock, log=runtime.log)
    # Each processor commits only its own store (its writes come from its topics' partitions).
    visits = runtime.processor(VISIT_HANDLERS, deps, stores=[deps.fees])
    visits.on_reused = REUSED_HANDLERS  # an id reused with other content: a business rejection
    books = runtime.processor(BOOK_HANDLERS, deps, stores=[deps.books])
    deps.emit = visits.emit  # both emitters are alike: source /pn/fees, the runtime's clock
    agents.register(runtime, visits=visits, books=books)
    runtime.tick_every(settings.fees_tick_s)
    web.register(runtime, fees=deps.fees, books=deps.books)
    return runtime.app
