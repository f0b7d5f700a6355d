"""Budget handlers: budgets and postings in → figures, `pn.budget.status` and alerts out.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- LEDGER_HANDLERS (`pn.finance.budgets` + `pn.finance.postings`, co-partitioned by cost centre, 4
  partitions) keep each cost centre's facts in `ledger`, keyed by their cause, never counters:
  `b|<year>|<cc>|<group>` → the 12 monthly budget amounts (a later set replaces the earlier);
  `k|<cc>|<posting_id>` → where that posting counts (`year|period|group|amount`; the same posting_id
  again counts once, a changed one moves); `m|<year>|<cc>|<period>|<group>` → {posting_id: amount};
  `g|<year>|<cc>` → the period|group buckets in use; `s|<year>|<cc>` → the last published status;
  `a|<alert id>` → a raised cost-centre or account-group alert. After each event the cost centre's
  figures are recomputed from these facts; only a change is published (to `pn.budget.status` and to
  the 1-partition internal `pn.budget.centres`) and only a change of a rule's truth raises/resolves.
- CENTRE_HANDLERS (`pn.budget.centres`, 1 partition) keep every cost centre's latest status in
  `totals` (`c|<year>|<cc>`, `cc|<year>`, `s|<year>`, `a|<alert id>`) and publish the "total" entry
  and the total-scope alerts, in one place whatever the number of workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from shared.consumer import Emitter
from shared.events import (
    AlertRaised,
    AlertResolved,
    BudgetSet,
    BudgetStatus,
    Envelope,
    LedgerPosted,
)
from shared.events.operations import AlertMessage
from shared.money import money_str
from shared.ports import Clock, Emit
from shared.state import Store
from shared.topics import ALERTS_BUDGET, BUDGET_CENTRES, BUDGET_STATUS

from .domain import Figures, alert_id, centre_figures, months_elapsed, total_of
from .rules import BudgetRules

TOTAL = "total"


@dataclass
class Deps:
    ledger: Store
    totals: Store
    rules: BudgetRules
    clock: Clock
    log: Any
    emit: Emitter | None = None


# -- ledger side (per cost centre) ---------------------------------------------------------------
def on_budget_set(event: Envelope, *, deps: Deps) -> list[Emit]:
    b: BudgetSet = event.data
    deps.ledger[f"b|{b.year}|{b.cost_centre}|{b.account_group}"] = [money_str(m) for m in b.monthly]
    return refresh(b.cost_centre, b.year, event, deps)


def on_posted(event: Envelope, *, deps: Deps) -> list[Emit]:
    p: LedgerPosted = event.data
    year = int(p.period[:4])
    record = f"{year}|{p.period}|{p.account_group}|{money_str(p.amount)}"
    key = f"k|{p.cost_centre}|{p.posting_id}"
    before = deps.ledger.get(key)
    if before == record:
        return []  # the same posting again: counted once
    years = {year}
    if before is not None:  # the same posting_id with other content: the later one replaces it
        old_year, old_period, old_group, _ = before.split("|")
        _unbucket(deps.ledger, p.cost_centre, int(old_year), old_period, old_group, p.posting_id)
        years.add(int(old_year))
    deps.ledger[key] = record
    bucket_key = f"m|{year}|{p.cost_centre}|{p.period}|{p.account_group}"
    deps.ledger[bucket_key] = {**(deps.ledger.get(bucket_key) or {}), p.posting_id: money_str(p.amount)}
    index_key = f"g|{year}|{p.cost_centre}"
    index = set(deps.ledger.get(index_key) or ())
    if f"{p.period}|{p.account_group}" not in index:
        deps.ledger[index_key] = sorted(index | {f"{p.period}|{p.account_group}"})
    out: list[Emit] = []
    for y in sorted(years):
        out += refresh(p.cost_centre, y, event, deps)
    return out


def _unbucket(ledger: Store, cc: str, year: int, period: str, group: str, posting_id: str) -> None:
    bucket_key = f"m|{year}|{cc}|{period}|{group}"
    bucket = {k: v for k, v in (ledger.get(bucket_key) or {}).items() if k != posting_id}
    if bucket:
        ledger[bucket_key] = bucket
        return
    ledger.pop(bucket_key)
    index_key = f"g|{year}|{cc}"
    ledger[index_key] = [x for x in ledger.get(index_key) or () if x != f"{period}|{group}"]


def centre_status(ledger: Store, cc: str, year: int) -> BudgetStatus | None:
    """The cost centre's figures from its stored facts; None before its first posting of the year."""
    buckets = [x.split("|") for x in ledger.get(f"g|{year}|{cc}") or ()]
    months = months_elapsed(period for period, _ in buckets)
    if months is None:
        return None
    actuals: dict[str, Decimal] = {}
    for period, group in buckets:
        amounts = (ledger.get(f"m|{year}|{cc}|{period}|{group}") or {}).values()
        actuals[group] = actuals.get(group, Decimal(0)) + sum((Decimal(a) for a in amounts), Decimal(0))
    budgets = {}
    for group in ("revenue", "personnel", "fees", "other"):
        plan = ledger.get(f"b|{year}|{cc}|{group}")
        if plan is not None:
            budgets[group] = [Decimal(m) for m in plan]
    groups, total = centre_figures(budgets, actuals, months)
    return _status(year, f"{year:04d}-{months:02d}", cc, groups, total)


def _status(year: int, period: str, subject: str, groups: dict[str, Figures], total: Figures) -> BudgetStatus:
    return BudgetStatus(year=year, period=period, cost_centre=subject,
                        account_groups={g: f.as_json() for g, f in groups.items()}, total=total.as_json())


def refresh(cc: str, year: int, event: Envelope, deps: Deps) -> list[Emit]:
    status = centre_status(deps.ledger, cc, year)
    if status is None:
        return []
    dump = status.model_dump(mode="json")
    if deps.ledger.get(f"s|{year}|{cc}") == dump:
        return []  # no figure changed
    deps.ledger[f"s|{year}|{cc}"] = dump
    assert deps.emit is not None
    cause = [event.id, "status", cc, year]
    out = [deps.emit(BUDGET_STATUS, status, key=cc, cause=cause, subject=cc, time=event.time),
           deps.emit(BUDGET_CENTRES, status, key=cc, cause=cause, subject=cc, time=event.time)]
    months = int(status.period[5:7])
    if not any(f"b|{year}|{cc}|{g}" in deps.ledger for g in status.account_groups):
        return out  # no budget yet (budgets and postings are two topics): nothing to compare with
    for rule in deps.rules.of_scope("cost_centre"):
        out += _evaluate(rule, _figures(status.total), months, cc, status, event, deps.ledger, deps)
    for rule in deps.rules.of_scope("account_group"):
        group = rule.params.account_group
        if group in status.account_groups and f"b|{year}|{cc}|{group}" in deps.ledger:
            out += _evaluate(rule, _figures(status.account_groups[group]), months, f"{cc}/{group}",
                             status, event, deps.ledger, deps)
    return out


def _figures(part: Any) -> Figures:
    return Figures.from_json(part.model_dump(mode="json") if hasattr(part, "model_dump") else part)


# -- total side (one partition) --------------------------------------------------------------------
def on_centre_status(event: Envelope, *, deps: Deps) -> list[Emit]:
    s: BudgetStatus = event.data
    if s.cost_centre == TOTAL:
        return []
    year = s.year
    deps.totals[f"c|{year}|{s.cost_centre}"] = s.model_dump(mode="json")
    centres = set(deps.totals.get(f"cc|{year}") or ())
    if s.cost_centre not in centres:
        deps.totals[f"cc|{year}"] = sorted(centres | {s.cost_centre})
    status = total_status(deps.totals, year)
    dump = status.model_dump(mode="json")
    if deps.totals.get(f"s|{year}") == dump:
        return []
    deps.totals[f"s|{year}"] = dump
    assert deps.emit is not None
    out = [deps.emit(BUDGET_STATUS, status, key=TOTAL, cause=[event.id, "status", TOTAL, year], subject=TOTAL,
                     time=event.time)]
    months = int(status.period[5:7])
    if Decimal(status.total.annual_budget) == 0:
        return out  # no budget for the year yet: nothing to compare with
    for rule in deps.rules.of_scope("total"):
        out += _evaluate(rule, _figures(status.total), months, TOTAL, status, event, deps.totals, deps)
    return out


def total_status(totals: Store, year: int) -> BudgetStatus:
    """Field-wise sum over the cost centres' latest statuses; period = the latest of theirs."""
    centres = [totals[f"c|{year}|{cc}"] for cc in totals.get(f"cc|{year}") or ()]
    groups: dict[str, Figures] = {}
    for c in centres:
        for g, fig in c["account_groups"].items():
            groups[g] = groups.get(g, Figures()) + Figures.from_json(fig)
    total = total_of(Figures.from_json(c["total"]) for c in centres)
    period = max(c["period"] for c in centres)
    return _status(year, period, TOTAL, dict(sorted(groups.items())), total)


# -- alerts ----------------------------------------------------------------------------------------
def _evaluate(rule: Any, fig: Figures, months: int, subject: str, status: BudgetStatus, event: Envelope,
              store: Store, deps: Deps) -> list[Emit]:
    """Raise once when the rule becomes true, resolve once when it stops; nothing while unchanged."""
    holds, seen = deps.rules.holds(rule, fig, months)
    aid = alert_id(rule.id, status.year, subject)
    key = f"a|{aid}"
    raised = store.get(key)
    if holds == (raised is not None):
        return []
    assert deps.emit is not None
    facts: dict[str, Any] = {**seen, "year": status.year, "period": status.period}
    message = AlertMessage(**rule.render(fig, subject=subject, year=status.year, period=status.period))
    if holds:
        store[key] = {"raised_at": event.time.isoformat(), "period": status.period}
        data: Any = AlertRaised(alert_id=aid, rule_id=rule.id, severity=rule.severity, subject=subject,
                                message=message, facts=facts, raised_at=event.time)
    else:
        store.pop(key)
        data = AlertResolved(alert_id=aid, rule_id=rule.id, severity=rule.severity, subject=subject,
                             message=message, facts=facts, raised_at=raised["raised_at"], resolved_at=event.time)
    deps.log.info("budget_alert", alert_id=aid, rule_id=rule.id, state="raised" if holds else "resolved",
                  period=status.period)
    return [deps.emit(ALERTS_BUDGET, data, key=aid, cause=[event.id, aid, data.event_type], subject=subject,
                      time=event.time)]


LEDGER_HANDLERS = {BudgetSet.event_type: on_budget_set, LedgerPosted.event_type: on_posted}
CENTRE_HANDLERS = {BudgetStatus.event_type: on_centre_status}
