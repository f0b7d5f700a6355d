"""Drives a scenario through a running stack: publish step by step, wait for the services to catch up.

Shared by `pn demo` and the end-to-end test, so the test checks exactly what the demo shows.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.apps.demo.scenario import Scenario, Step
from shared.contract.events import Envelope, derive_id, make_event
from shared.contract.topics import FINANCE_BUDGETS, FINANCE_POSTINGS
from shared.kafka.io import events_of, produce, read_all, wait_consumed
from shared.kernel.swedish_time import swedish_year
from shared.service.settings import PnSettings

OUTPUT_TOPICS = ["pn.cases.opened", "pn.complaints.rejected", "pn.notifications", "pn.diary.entries",
                 "pn.letters.dispatched", "pn.fees.calculated", "pn.fees.rejected", "pn.fees.payouts",
                 "pn.billing.invoices", "pn.finance.postings", "pn.budget.status", "pn.alerts.ops",
                 "pn.alerts.budget", "pn.deadletter"]


class Progress(Protocol):
    def step(self, label: str, total: int | None) -> Callable[[int], None]: ...


class Silent:
    def step(self, label: str, total: int | None) -> Callable[[int], None]:
        return lambda _n: None


async def publish(settings: PnSettings, step: Step, progress: Progress) -> None:
    advance = progress.step(f"publish {step.name}", len(step.items))
    by_name: dict[str, list[Any]] = defaultdict(list)
    topics = {}
    for topic, event in step.items:
        by_name[topic.name].append(event)
        topics[topic.name] = topic
    for name, events in by_name.items():
        topic = topics[name]
        for i in range(0, len(events), 2000):
            chunk = events[i:i + 2000]
            keys = [None if isinstance(e, bytes) else topic.key_for(e).encode() for e in chunk]
            await produce(settings, topic, chunk, keys=keys)
            advance(len(chunk))


async def settle(settings: PnSettings, running: list[str], services: tuple[str, ...], topics: list[str],
                 progress: Progress, label: str, timeout: float = 240.0) -> None:
    """Wait until each named service's consumer group has committed everything on `topics`."""
    done = progress.step(f"wait: {label}", None)
    deadline = time.monotonic() + timeout
    from shared.platform.registry import specs

    for service in services:
        consumed = [t for t in topics if t in {i.name for i in (specs()[service].inputs if service in specs() else ())}]
        if service not in running or not consumed:
            continue
        await wait_consumed(settings, f"pn-{service}", consumed, deadline=deadline, settle_s=0)
    await asyncio.sleep(1.5)  # Tansu reports end offsets up to a batch low: let the last batch land
    done(1)


async def run_scenario(settings: PnSettings, scenario: Scenario, running: list[str],
                       progress: Progress | None = None, *, hold_seconds: float = 6.0,
                       seeded_outcome: bool = True) -> None:
    """The demo's year: directory, complaints, letters, visits, care days, closes, corrections, economy.

    With `seeded_outcome` the finance system books its fixed postings per account row from the
    seed (shared/apps/demo/seed_jamtland.py; never derived from what the services booked), so the
    outcome is what the services compute plus those; without it only budgets are set, so the
    ledger holds exactly what fees and billing posted."""
    p = progress or Silent()
    reference, complaints, support, care = list(scenario.steps())
    await publish(settings, reference, p)
    await settle(settings, running, ("intake", "diary"), ["pn.reference.care-units"], p, "directory loaded")
    await publish(settings, complaints, p)
    await settle(settings, running, ("intake",), ["pn.complaints.submitted", "pn.intake.accepted"], p, "cases opened")
    await publish(settings, scenario.letters_for(await opened_cases(settings, scenario.year)), p)
    await publish(settings, support, p)
    await publish(settings, scenario.advice(), p)  # read by the report only
    await publish(settings, care, p)
    await publish(settings, scenario.history(), p)
    await settle(settings, running, ("intake", "diary", "fees", "billing"),
                 ["pn.complaints.submitted", "pn.intake.accepted", "pn.cases.opened", "pn.letters.outgoing", "pn.letters.incoming", "pn.diary.queue",
                  "pn.diary.entries", "pn.support.assignments", "pn.support.visits", "pn.care.days", "pn.billing.days"],
                 p, "letters, visits and care days processed")
    await asyncio.sleep(hold_seconds)  # visits still waiting for an assignment expire before the closes
    await publish(settings, scenario.closes(), p)
    await settle(settings, running, ("fees", "billing"), ["pn.commands", "pn.billing.drafts", "pn.fees.drafts"], p, "periods closed")
    fix, january = scenario.cancellations(care)
    await publish(settings, fix, p)
    await settle(settings, running, ("billing",), ["pn.care.days", "pn.billing.days"], p, "cancellations")
    await publish(settings, january, p)
    await settle(settings, running, ("billing",), ["pn.commands", "pn.billing.drafts"], p, "January close")
    economy = finance_step(scenario)
    if not seeded_outcome:
        economy.items = [(t, e) for t, e in economy.items if t is FINANCE_BUDGETS]
    await publish(settings, economy, p)
    await settle(settings, running, ("budget",), ["pn.finance.budgets", "pn.finance.postings", "pn.budget.ledger",
                                                  "pn.budget.centres"], p, "budget monitor")
    await settle(settings, running, ("intake", "diary"), ["pn.diary.entries", "pn.letters.dispatched"], p,
                 "status notifications")


async def opened_cases(settings: PnSettings, year: int | None = None) -> list[tuple[str, str | None, datetime]]:
    """(case id, resolved HSA-id, opened at) of the cases opened (in `year`, Swedish time)."""
    events = events_of(await read_all(settings, ["pn.cases.opened"]))
    return [(e.data.case_id, e.data.care_unit_hsa_id if e.data.care_unit_status == "resolved" else None,
             e.data.opened_at) for e in events if year is None or swedish_year(e.data.opened_at) == year]


def finance_step(scenario: Scenario, _platform: object = None) -> Step:
    """Budgets, and the finance system's own postings: fixed per account row from the seed
    (`jamtland_2023(finance_only=True)`), never derived from what the platform booked. The rows
    the platform books itself (the support persons' fees) are the fees service's; the nämnd's
    share of the out-of-region invoices is billing's. So the year's outcome is what the services
    compute plus these, and the summary sets it beside the seed's figures."""
    step = Step("budgets and ledger postings")
    try:
        from shared.apps.demo.seed_jamtland import jamtland_2023
    except ImportError:
        return step
    budgets, postings = jamtland_2023(scenario.year, finance_only=True)
    now = datetime.now(UTC)
    for ev in budgets:
        step.add(FINANCE_BUDGETS, make_event(
            ev, source="/ekonomi/budget", time=now, id=derive_id("demo", ev.event_type, ev.model_dump_json())))
    for ev in postings:
        step.add(FINANCE_POSTINGS, make_event(ev, source="/ekonomi/huvudbok", time=now,
                                              id=derive_id("demo", "posting", ev.posting_id)))
    return step


async def collect(settings: PnSettings, topics: list[str] | None = None) -> dict[str, list[Envelope]]:
    return {name: events_of(await read_all(settings, [name], idle_s=0.3)) for name in (topics or OUTPUT_TOPICS)}
