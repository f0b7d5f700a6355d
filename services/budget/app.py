"""Composition root of budget: alert rules, two stores, two processors, agents, the status view."""

from __future__ import annotations

import faust

from shared.streaming import ServiceRuntime
from shared.topics import BUDGET_CENTRES, FINANCE_POSTINGS

from . import agents, web
from .handlers import CENTRE_HANDLERS, LEDGER_HANDLERS, Deps
from .rules import load_budget_rules
from .settings import Settings


def create_app(settings: Settings) -> faust.App:
    runtime = ServiceRuntime("budget", settings)
    deps = Deps(
        ledger=runtime.store("ledger", FINANCE_POSTINGS.partitions),
        totals=runtime.store("totals", BUDGET_CENTRES.partitions),
        rules=load_budget_rules(settings.rules_dir / "budget_alerts.yaml"),  # bad file -> RulesFileError
        clock=runtime.clock, log=runtime.log, cost_centres=frozenset(settings.budget_cost_centres))
    # Each processor commits only its own store (its writes come from its topics' partitions).
    ledger = runtime.processor(LEDGER_HANDLERS, deps, stores=[deps.ledger])
    centres = runtime.processor(CENTRE_HANDLERS, deps, stores=[deps.totals])
    deps.emit = ledger.emit  # both emitters are alike: source /pn/budget, the runtime's clock
    agents.register(runtime, ledger=ledger, centres=centres, totals=deps.totals)
    web.register(runtime, ledger=deps.ledger, totals=deps.totals)
    return runtime.app
