"""Composition root of intake: stores, rules, two processors, agents, ticks, web views."""

from __future__ import annotations

import faust

from shared.contract.topics import CARE_UNITS, COMPLAINTS_SUBMITTED, INTAKE_ACCEPTED
from shared.runtime.app import ServiceRuntime
from shared.service.wiring import Wiring

from . import agents, web
from .domain import AttachmentPolicy
from .handlers import CASE_HANDLERS, INTAKE_HANDLERS, REUSED_HANDLERS, Deps
from .rules import CategoryRules, load_category_rules
from .settings import Settings
from .spec import SPEC


def build_deps(runtime: Wiring, settings: Settings, *, rules: CategoryRules | None = None) -> Deps:
    """The service's stores (from the runtime: faust tables, or dicts in unit tests) and its
    compiled rules; a test may hand in rules it compiled once."""
    return Deps(
        refs=runtime.store("complaint-refs", COMPLAINTS_SUBMITTED.partitions),
        # earlier versions' directory, read only (a fallback): global, so every worker has all of it
        directory=runtime.global_store("care-units", CARE_UNITS),
        cases=runtime.store("cases", INTAKE_ACCEPTED.partitions),
        rules=rules or load_category_rules(settings.rules_dir / "complaint_categories.yaml"),  # bad file -> RulesFileError
        attachments=AttachmentPolicy(settings.intake_max_attachment_bytes,
                                     frozenset(t.lower() for t in settings.intake_attachment_types)),
        clock=runtime.clock, log=runtime.log)


def wire(runtime: Wiring, settings: Settings, deps: Deps | None = None) -> Deps:
    """Two processors (complaints in; cases opened), their agents, the tick and the views."""
    deps = deps or build_deps(runtime, settings)
    # Each processor commits only its own stores (their writes come from its topics' partitions).
    # Stage 2 reads only `cases` (and the legacy directory): every read is local to its one partition.
    intake = runtime.processor(INTAKE_HANDLERS, deps, stores=[deps.refs])
    intake.on_reused = REUSED_HANDLERS  # an id reused with other content: a business rejection
    cases = runtime.processor(CASE_HANDLERS, deps, stores=[deps.cases])
    deps.emit = intake.emit  # both emitters are alike: source /pn/intake, the runtime's clock
    agents.register(runtime, intake=intake, cases=cases)
    runtime.tick_every(settings.intake_tick_s)
    web.register(runtime, cases=deps.cases, publisher=runtime.publisher(), clock=runtime.clock)
    return deps


def create_app(settings: Settings, deps: Deps | None = None) -> faust.App:
    runtime = ServiceRuntime(SPEC, settings)
    wire(runtime, settings, deps)
    return runtime.app
