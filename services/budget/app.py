"""Composition root of budget: alert rules, three stores (one global), three processors, agents, the status view."""

from __future__ import annotations

import faust

from shared.contract.topics import BUDGET_CENTRES, BUDGET_LEDGER
from shared.runtime.app import ServiceRuntime
from shared.service.wiring import Wiring

from . import agents, web
from .handlers import CENTRE_HANDLERS, FORWARD_HANDLERS, LEDGER_HANDLERS, Deps
from .rules import BudgetRules, load_budget_rules
from .settings import Settings
from .spec import SPEC


def build_deps(runtime: Wiring, settings: Settings, *, rules: BudgetRules | None = None) -> Deps:
    """The service's stores (from the runtime: faust tables, or dicts in unit tests) and its
    compiled rules; a test may hand in rules it compiled once."""
    return Deps(
        ledger=runtime.store("ledger", BUDGET_LEDGER.partitions),  # written from pn.budget.ledger
        totals=runtime.store("totals", BUDGET_CENTRES.partitions),
        published=runtime.global_store("published", BUDGET_CENTRES),  # the view's, on every worker
        rules=rules or load_budget_rules(settings.rules_dir / "budget_alerts.yaml"),  # bad file -> RulesFileError
        clock=runtime.clock, log=runtime.log, cost_centres=frozenset(settings.budget_cost_centres))


def wire(runtime: Wiring, settings: Settings, deps: Deps | None = None) -> Deps:
    """Three processors (re-key; ledger; cost centres), their agents and the views."""
    deps = deps or build_deps(runtime, settings)
    # Each processor commits only its own store (its writes come from its topics' partitions).
    forward = runtime.processor(FORWARD_HANDLERS, deps, stores=[])  # no state: ids guarded only
    ledger = runtime.processor(LEDGER_HANDLERS, deps, stores=[deps.ledger])
    centres = runtime.processor(CENTRE_HANDLERS, deps, stores=[deps.totals, deps.published])
    deps.emit = ledger.emit  # both emitters are alike: source /pn/budget, the runtime's clock
    agents.register(runtime, forward=forward, ledger=ledger, centres=centres, totals=deps.totals)
    web.register(runtime, published=deps.published, totals=deps.totals)
    return deps


def create_app(settings: Settings, deps: Deps | None = None) -> faust.App:
    runtime = ServiceRuntime(SPEC, settings)
    wire(runtime, settings, deps)
    return runtime.app
