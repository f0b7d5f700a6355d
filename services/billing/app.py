"""Composition root of billing: rules, two stores, two processors, agents, the summary view."""

from __future__ import annotations

import faust

from shared.contract.topics import CARE_DAYS, COMMANDS
from shared.runtime.app import ServiceRuntime

from . import agents, web
from .handlers import BOOK_HANDLERS, DAY_HANDLERS, Deps
from .rules import load_billing_rules
from .settings import Settings


def create_app(settings: Settings) -> faust.App:
    runtime = ServiceRuntime("billing", settings)
    deps = Deps(
        days=runtime.store("care-days", CARE_DAYS.partitions),
        invoices=runtime.store("invoices", COMMANDS.partitions),  # also written from pn.billing.drafts (1)
        rules=load_billing_rules(settings.rules_dir / "billing.yaml", default_region=settings.region),
        settings=settings, clock=runtime.clock, log=runtime.log)
    # Each processor commits only its own store (its writes come from its topics' partitions).
    days = runtime.processor(DAY_HANDLERS, deps, stores=[deps.days])
    books = runtime.processor(BOOK_HANDLERS, deps, stores=[deps.invoices])
    deps.emit = days.emit  # both emitters are alike: source /pn/billing, the runtime's clock
    agents.register(runtime, days=days, books=books)
    web.register(runtime, invoices=deps.invoices)
    return runtime.app
