"""Our own cost per event: each service's Processor + handlers driven in-process, no broker.

    python -m bench.inprocess [N] [--profile N_PROFILE] [--only intake,diary,billing]
    python -m bench --only inprocess          # the same, inside the bench runner

Wired as each services/<name>/app.py wires it, with dict-backed Stores and a publisher whose
`send` returns one already-done future (so the figure is decode → validate → dedup → rules →
state → encode, nothing of Kafka). Inputs are the demo scenario's realistic generators
(shared/apps/demo/scenario.py) scaled to N: complaints for intake (both stages: accept, then open the
case from the forwarded complaint), cases + letters for the diary (both stages: take in, then
number), care days for billing. Timing is wall clock on one core (the event loop is single
threaded); a cProfile pass over a smaller run prints the top costs, cumulative and own time.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import gc
import io
import pstats
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.contract.events import Envelope, encode
from shared.contract.topics import Topic
from shared.service.logging import get_logger
from shared.service.processor import Message, Processor
from shared.service.state import Store
from shared.service.testing import FixedClock

from .common import Figure, print_table

ROOT = Path(__file__).resolve().parents[1]
BATCH = 1000


class NullPublisher:
    """`send` returns one done future; values of `keep` topics are kept (to feed a next stage)."""

    def __init__(self, keep: Sequence[str] = ()) -> None:
        self.kept: dict[str, list[bytes]] = {t: [] for t in keep}
        self._done: asyncio.Future | None = None

    def send(self, topic: str, key: bytes | None, value: bytes, headers: Sequence[tuple[str, bytes]]) -> Any:
        if self._done is None:
            self._done = asyncio.get_event_loop().create_future()
            self._done.set_result(None)
        kept = self.kept.get(topic)
        if kept is not None:
            kept.append(value)
        return self._done


def messages(items: Sequence[tuple[Topic, Envelope | bytes]], partitions: int | None = None) -> list[Message]:
    out, offsets = [], {}
    for topic, ev in items:
        part = len(out) % (partitions or topic.partitions)
        off = offsets.get((topic.name, part), 0)
        offsets[(topic.name, part)] = off + 1
        out.append(Message(topic.name, part, off, None, ev if isinstance(ev, bytes) else encode(ev), time.time()))
    return out


@dataclass
class Pipeline:
    """Stages run one after the other; a stage's input may be a previous stage's kept output."""

    name: str
    inputs: int
    stages: list[tuple[Processor, Callable[[], list[Message]]]] = field(default_factory=list)
    warmup: list[tuple[Processor, list[Message]]] = field(default_factory=list)


async def _drive(pipe: Pipeline) -> float:
    """The pre-built inputs (N messages held at once, which a worker never does) are frozen out of
    the garbage collector's sight first, as `run_worker` freezes the start-up heap: else every full
    collection walks them, a cost of this bench's setup, not of the service (20–35 µs/event seen)."""
    for proc, msgs in pipe.warmup:
        await proc.process_batch(msgs)
    gc.collect()
    gc.freeze()
    try:
        started = time.perf_counter()
        for proc, source in pipe.stages:
            msgs = source()
            for i in range(0, len(msgs), BATCH):
                await proc.process_batch(msgs[i:i + BATCH])
        return time.perf_counter() - started
    finally:
        gc.unfreeze()


# -- the services, wired as in their app.py -------------------------------------------------------
def intake(n: int) -> Pipeline:
    from services.intake.domain import AttachmentPolicy
    from services.intake.handlers import CASE_HANDLERS, INTAKE_HANDLERS, Deps
    from services.intake.rules import load_category_rules
    from services.intake.settings import Settings
    from shared.apps.demo.scenario import Scenario
    from shared.contract.topics import INTAKE_ACCEPTED

    settings, clock = Settings(), FixedClock()
    scenario = Scenario(scale=n / 557, seed=13)
    reference, complaints = scenario._reference(), scenario._complaints()  # noqa: SLF001 - the demo's generators
    publisher = NullPublisher(keep=[INTAKE_ACCEPTED.name])
    deps = Deps(refs=Store("complaint-refs"), directory=Store("care-units"), cases=Store("cases"), rules=load_category_rules(ROOT / "rules" / "complaint_categories.yaml"),
                attachments=AttachmentPolicy(settings.intake_max_attachment_bytes,
                                             frozenset(t.lower() for t in settings.intake_attachment_types)),
                clock=clock, log=get_logger(service="intake"))
    common = {"service": "intake", "deps": deps, "publisher": publisher, "clock": clock}
    stage1 = Processor(handlers=INTAKE_HANDLERS, stores=[deps.refs], **common)
    stage2 = Processor(handlers=CASE_HANDLERS, stores=[deps.cases], **common)
    stage2.use_seen_store([INTAKE_ACCEPTED], None)  # as agents.py: idempotent by its facts
    deps.emit = stage1.emit
    inputs = messages(complaints.items)
    accepted = publisher.kept[INTAKE_ACCEPTED.name]
    return Pipeline("intake: complaints (accept + open case)", len(inputs), [
        (stage1, lambda: inputs),
        (stage2, lambda: [Message(INTAKE_ACCEPTED.name, 0, i, None, v, time.time()) for i, v in enumerate(accepted)]),
    ], warmup=[(stage2, messages([(INTAKE_ACCEPTED, e) for _, e in reference.items]))])  # the directory


def diary(n: int) -> Pipeline:
    from datetime import UTC, datetime, timedelta

    from services.diary.handlers import INTAKE_HANDLERS, QUEUE_HANDLERS, Deps
    from services.diary.settings import Settings
    from shared.apps.demo.scenario import Scenario
    from shared.contract.events import CaseOpened, make_event
    from shared.contract.topics import CASES_OPENED, DIARY_QUEUE

    clock = FixedClock(datetime(2023, 6, 1, 12, tzinfo=UTC))
    scenario = Scenario(scale=1.0, seed=13)
    units = scenario.units
    # ~n/2.4 cases, each with its letter out and (mostly) a reply: letters_for's mix, n documents in all
    cases, items, k = [], [], 0
    while len(items) < n:
        unit = units[k % 20].hsa_id
        opened = datetime(2023, 1, 1, 9, tzinfo=UTC) + timedelta(minutes=5 * k)
        case_id = f"PN-2023-{k:06d}"
        data = CaseOpened(case_id=case_id, complaint_event_id=f"c-{k}", channel="1177", region="20",
                          care_unit_hsa_id=unit, care_unit_status="resolved", care_provider="Region Dalarna",
                          categories=[{"code": "kommunikation.bemotande", "source": "rules"}], opened_at=opened)
        items.append((CASES_OPENED, make_event(data, source="/pn/intake", time=opened, id=f"case-{k}")))
        cases.append((case_id, unit, opened))
        letters = scenario.letters_for([(case_id, unit, opened)])
        items += letters.items
        k += 1
    # every document arrives "now" (the clock), so none is late: no registration-lag alerts
    items = [(t, e.model_copy(update={"time": clock.at})) for t, e in items[:n]]
    publisher = NullPublisher(keep=[DIARY_QUEUE.name])
    deps = Deps(registry=Store("registry"), directory=Store("care-units"), waiting=Store("waiting-letters"),
                dispatch=Store("dispatch"),
                settings=Settings(), clock=clock, log=get_logger(service="diary"))
    common = {"service": "diary", "deps": deps, "publisher": publisher, "clock": clock}
    stage1 = Processor(handlers=INTAKE_HANDLERS, stores=[deps.directory, deps.waiting], **common)
    stage2 = Processor(handlers=QUEUE_HANDLERS, stores=[deps.registry], **common)
    stage2.use_seen_store([DIARY_QUEUE], None)  # as agents.py: numbering is idempotent by doc|<key>
    deps.emit = stage1.emit
    inputs = messages(items)
    queued = publisher.kept[DIARY_QUEUE.name]
    return Pipeline("diary: cases + letters (take in + number)", len(inputs), [
        (stage1, lambda: inputs),
        (stage2, lambda: [Message(DIARY_QUEUE.name, 0, i, None, v, time.time()) for i, v in enumerate(queued)]),
    ], warmup=[(stage1, messages(scenario._reference().items))])  # noqa: SLF001


def billing(n: int) -> Pipeline:
    from services.billing.handlers import DAY_HANDLERS, Deps
    from services.billing.rules import load_billing_rules
    from services.billing.settings import Settings
    from shared.apps.demo.scenario import Scenario
    from shared.contract.topics import CARE_DAYS

    clock = FixedClock()
    scenario = Scenario(scale=n / 15_467, seed=13)
    days = scenario._care_days().items[:n]  # noqa: SLF001
    deps = Deps(days=Store("care-days"), invoices=Store("invoices"), settings=Settings(), clock=clock,
                log=get_logger(service="billing"),
                rules=load_billing_rules(ROOT / "rules" / "billing.yaml", default_region="20"))
    proc = Processor(service="billing", handlers=DAY_HANDLERS, deps=deps, publisher=NullPublisher(), clock=clock,
                     stores=[deps.days])
    proc.use_seen_store([CARE_DAYS], None)  # as agents.py: the day handlers are idempotent by their facts
    deps.emit = proc.emit
    inputs = messages(days)
    return Pipeline("billing: care days (decide + store)", len(inputs), [(proc, lambda: inputs)])


def fees(n: int) -> Pipeline:
    from services.fees.handlers import VISIT_HANDLERS, Deps
    from services.fees.rules import load_schedule
    from services.fees.settings import Settings
    from shared.apps.demo.scenario import Scenario
    from shared.contract.topics import SUPPORT_ASSIGNMENTS, SUPPORT_VISITS

    clock = FixedClock()
    items = Scenario(scale=n / 1365, seed=13)._support().items  # noqa: SLF001
    settings = Settings()
    deps = Deps(fees=Store("fees"), books=Store("books"), settings=settings, clock=clock,
                log=get_logger(service="fees"),
                schedule=load_schedule(ROOT / "rules" / "fee_schedule.yaml"))
    proc = Processor(service="fees", handlers=VISIT_HANDLERS, deps=deps, publisher=NullPublisher(), clock=clock,
                     stores=[deps.fees])
    proc.use_seen_store([SUPPORT_VISITS, SUPPORT_ASSIGNMENTS], None)  # as agents.py: idempotent by their facts
    deps.emit = proc.emit
    visits = messages([(t, e) for t, e in items if t is SUPPORT_VISITS][:n])
    assignments = messages([(t, e) for t, e in items if t is not SUPPORT_VISITS])
    return Pipeline("fees: visits (assess fee)", len(visits), [(proc, lambda: visits)],
                    warmup=[(proc, assignments)])


def ledger_items(n: int, tag: str = "b") -> tuple[list, list]:
    """Budgets for 12 cost centres × 4 account groups, then n postings spread over them and 2023."""
    import random
    from decimal import Decimal

    from shared.contract.events import BudgetSet, LedgerPosted, make_event
    from shared.contract.topics import FINANCE_BUDGETS, FINANCE_POSTINGS

    rng, at = random.Random(13), FixedClock().at
    centres = [str(6101 + i) for i in range(12)]
    groups = ["revenue", "personnel", "fees", "other"]
    budgets = []
    for cc in centres:
        for g in groups:
            month = Decimal(rng.randint(10_000, 300_000)) * (1 if g == "revenue" else -1)
            budgets.append((FINANCE_BUDGETS, make_event(BudgetSet(year=2023, cost_centre=cc, account_group=g,
                                                                  monthly=[month] * 12),
                                                        source="/ekonomi", time=at, id=f"{tag}-bud-{cc}-{g}")))
    postings = []
    for i in range(n):
        g = rng.choice(groups)
        amount = Decimal(rng.randint(100, 5_000_000)) / 100 * (1 if g == "revenue" else -1)
        data = LedgerPosted(posting_id=f"{tag}-V{i}", period=f"2023-{1 + i * 12 // n:02d}",
                            cost_centre=rng.choice(centres), account_group=g, amount=amount, text="Verifikation")
        postings.append((FINANCE_POSTINGS, make_event(data, source="/ekonomi", time=at, id=f"{tag}-post-{i}")))
    return budgets, postings


def budget(n: int) -> Pipeline:
    from services.budget.handlers import LEDGER_HANDLERS, Deps
    from services.budget.rules import load_budget_rules
    from shared.contract.topics import FINANCE_BUDGETS, FINANCE_POSTINGS

    clock = FixedClock()
    budgets, postings = ledger_items(n)
    deps = Deps(ledger=Store("ledger"), totals=Store("totals"), clock=clock, log=get_logger(service="budget"),
                rules=load_budget_rules(ROOT / "rules" / "budget_alerts.yaml"))
    proc = Processor(service="budget", handlers=LEDGER_HANDLERS, deps=deps, publisher=NullPublisher(), clock=clock,
                     stores=[deps.ledger])
    proc.use_seen_store([FINANCE_BUDGETS, FINANCE_POSTINGS], None)  # as agents.py: idempotent by their facts
    deps.emit = proc.emit
    inputs = messages(postings)
    return Pipeline("budget: postings (ledger + status)", len(inputs), [(proc, lambda: inputs)],
                    warmup=[(proc, messages(budgets))])


SERVICES: dict[str, Callable[[int], Pipeline]] = {"intake": intake, "diary": diary, "billing": billing}
if (ROOT / "services" / "fees" / "handlers.py").exists():  # fees landed while these benches were written
    SERVICES["fees"] = fees
if (ROOT / "services" / "budget" / "handlers.py").exists():  # budget, likewise
    SERVICES["budget"] = budget


def quiet_logging(level: str = "INFO") -> None:
    """As a service runs in production (`pn run`: JSON lines, INFO), written to /dev/null."""
    import os

    from shared.service.logging import configure

    configure(service="bench", level=level, fmt="json", stream=open(os.devnull, "w"))  # noqa: SIM115


def measure(name: str, n: int) -> Figure:
    pipe = SERVICES[name](n)
    seconds = asyncio.run(_drive(pipe))
    return Figure(pipe.name, pipe.inputs, seconds,
                  {"µs/event": f"{seconds / pipe.inputs * 1e6:.1f}", "cpu": "1 core"})


def profile(name: str, n: int, top: int = 10) -> str:
    pipe = SERVICES[name](n)
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(_drive(pipe))
    prof.disable()
    out = io.StringIO()
    stats = pstats.Stats(prof, stream=out)
    stats.sort_stats("cumulative").print_stats(top + 12)
    cumulative = _rows(out.getvalue(), top)
    out.seek(0)
    out.truncate()
    stats.sort_stats("tottime").print_stats(top)
    return "  cumulative:\n" + cumulative + "\n  own time:\n" + _rows(out.getvalue(), top)


def _rows(text: str, top: int) -> str:
    """Profile rows without the event loop's frames, paths shortened."""
    rows = []
    for line in text.splitlines():
        if not line.strip() or "function calls" in line or line.lstrip().startswith(("Ordered by", "List reduced")):
            continue
        if any(skip in line for skip in ("asyncio/", "_contextvars", "inprocess.py")):
            continue
        line = re.sub(r"/\S*/(site-packages|main|lib/python3\.11)/", "", line)
        rows.append("  " + line)
        if len(rows) > top:  # header + top rows
            break
    return "\n".join(rows)


def main(n: int = 100_000, profile_n: int = 20_000, only: Sequence[str] = tuple(SERVICES),
         baseline: Figure | None = None, log_level: str = "INFO") -> list[Figure]:
    quiet_logging(log_level)
    print(f"logging: JSON at {log_level} to /dev/null, as `pn run` logs in production")
    figures = []
    for name in only:
        fig = measure(name, n)
        figures.append(fig)
        print_table(f"in-process: {name}", [fig], baseline)
        if profile_n:
            print(f"\ncProfile of {name} over {profile_n} events (top 10 cumulative, then top 10 own time):")
            print(profile(name, profile_n))
    print_table("in-process summary (goal ≥ 40,000 events/s per core)", figures, baseline)
    return figures


def run(bootstrap: str, baseline: Figure, events: int) -> None:
    """From `python -m bench`: N = max(100,000, events), profiles over 20,000."""
    main(max(100_000, events), 20_000, baseline=baseline)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.inprocess")
    parser.add_argument("n", type=int, nargs="?", default=100_000)
    parser.add_argument("--profile", type=int, default=20_000, help="events in the profiled run (0: none)")
    parser.add_argument("--only", default=",".join(SERVICES))
    parser.add_argument("--log-level", default="INFO", choices=["INFO", "WARNING"])
    args = parser.parse_args()
    main(args.n, args.profile, [s for s in args.only.split(",") if s], log_level=args.log_level)
