"""Composition root of billing: rules, three stores (one global), three processors, agents, the summary view."""

from __future__ import annotations

import faust

from shared.contract.topics import BILLING_DAYS, BILLING_DRAFTS, COMMANDS
from shared.runtime.app import ServiceRuntime
from shared.service.wiring import Wiring

from . import agents, web
from .handlers import BOOK_HANDLERS, DAY_HANDLERS, FORWARD_HANDLERS, Deps
from .rules import BillingRules, load_billing_rules
from .settings import Settings
from .spec import SPEC


def build_deps(runtime: Wiring, settings: Settings, *, rules: BillingRules | None = None) -> Deps:
    """The service's stores (from the runtime: faust tables, or dicts in unit tests) and its
    compiled rules; a test may hand in rules it compiled once."""
    return Deps(
        # one partition (pn.billing.days), beside `invoices`: every read local with any number of
        # workers (handlers.py). The 4-partition `care-days` of the version before is not read.
        days=runtime.store("days", BILLING_DAYS.partitions),
        invoices=runtime.store("invoices", COMMANDS.partitions),  # also written from pn.billing.drafts (1)
        issued=runtime.global_store("issued", BILLING_DRAFTS),  # the summary view's, on every worker
        rules=rules or load_billing_rules(settings.rules_dir / "billing.yaml", default_region=settings.region),
        settings=settings, clock=runtime.clock, log=runtime.log)


def wire(runtime: Wiring, settings: Settings, deps: Deps | None = None) -> Deps:
    """Three processors (forward care days; decide them; books), their agents and the summary view."""
    deps = deps or build_deps(runtime, settings)
    # Each processor commits only its own store (its writes come from its topics' partitions).
    forward = runtime.processor(FORWARD_HANDLERS, deps, stores=[])  # no state: ids guarded only
    days = runtime.processor(DAY_HANDLERS, deps, stores=[deps.days])
    books = runtime.processor(BOOK_HANDLERS, deps, stores=[deps.invoices, deps.issued])
    deps.emit = days.emit  # both emitters are alike: source /pn/billing, the runtime's clock
    agents.register(runtime, forward=forward, days=days, books=books)
    web.register(runtime, issued=deps.issued, invoices=deps.invoices)
    return deps


def create_app(settings: Settings, deps: Deps | None = None) -> faust.App:
    runtime = ServiceRuntime(SPEC, settings)
    wire(runtime, settings, deps)
    return runtime.app
