"""Budget handlers: budgets and postings in → figures, `pn.budget.status` and alerts out.

Two processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- LEDGER_HANDLERS (`pn.finance.budgets` + `pn.finance.postings`, co-partitioned by cost centre, 4
  partitions) keep each cost centre's facts in `ledger`:
  `b|<year>|<cc>|<group>` → the 12 monthly budget amounts (a later set replaces the earlier);
  `k|<cc>|<posting_id>` → where and how much that posting counts (`year|period|group|amount`; the
  same posting_id again counts once, a changed one moves);
  `y|<year>|<cc>` → the year's sums: {"months": {"MM": postings}, "groups": {group: [öre, postings]}}
  (≤ 12 + 4 entries whatever the number of postings; months = the latest month with a posting);
  `s|<year>|<cc>` → the last published status; `a|<alert id>` → a raised alert.
  Per posting: one `k|` read, one `y|` read and write (two on a move across years). Per batch and
  cost centre year touched (a `Later` keyed ("centre", cc, year), see shared/service/ports.py): ≤ 4 budget
  reads, the `s|` compare; the status is computed from those sums in exact integer öre (the same
  figures as domain.group_figures) and only a change is published (to `pn.budget.status` and to
  the 1-partition internal `pn.budget.centres`); only a change of a rule's truth raises/resolves.
- CENTRE_HANDLERS (`pn.budget.centres`, 1 partition) keep every cost centre's latest status in
  `totals` (`c|<year>|<cc>`, `cc|<year>`, `s|<year>`, `a|<alert id>`) and, once per batch and year
  (a `Later` keyed ("total", year)), publish the "total" entry and the total-scope alerts, in one
  place whatever the number of workers (cost: the number of cost centres, not of postings).

Once per batch, not once per event: statuses and alerts reflect the figures at the end of each
batch the shared Processor hands over. The facts (`k|`, `y|`, `b|`; `c|`, `cc|`) are written per
event; the figures, the status and the alert rules are evaluated once per cost centre year (and
once per total year) after the batch's last message, by the deferred work of the last event of the
batch that touched it: that event is the status's and the alerts' cause (their ids derive from it,
the same for a given batch) and its time is their time; on faust the writes of `s|`/`a|` go to that
event's partition, the cost centre's, so the changelog stays co-partitioned. Consequences, intended:
a deviation that appears and disappears within one batch raises nothing (less flapping), and a
batch of many postings to a cost centre publishes one status for it (`pn.budget.status` is
compacted: only the latest per cost centre matters). The figures at the end of the stream, and so
the open alerts (evaluated on the last figures), do not depend on the batching. With batches of one
message the outputs are exactly those of the per-event version.

Why the sums may be updated by a delta (new amount − the amount in `k|` before), which shared/service/state.py
otherwise warns against as a blind increment: the delta is keyed by its cause. `k|` says what the
posting counts for now; it and the `y|` sums it moved are written by the same message, i.e. under
one tag of the Store, and shared/service/processor.py commits a message's tag whole (after every output of
the batch was acknowledged; `Store.commit` applies the tag's writes in one loop without an await)
or rolls back every tag of the batch. So a replayed posting finds either neither write (the delta
is applied once, now) or both, and then `before == record`: a no-op. Limit, shared by the layout
before this one (`k|` + {posting_id: amount} buckets): on a broker the committed writes become
changelog records of one publish (after the batch's outputs are acknowledged), not a transaction
(no exactly-once on the dev broker). A cost centre's `k|` and `y|` records of a batch go to one
partition, in the order first written (the first posting's `k|`, the collapsed `y|`, the other
`k|`s), and reach the broker as one record batch while they stay under the producer's 256 KB
batch size; were that batch split and the worker killed between the parts, a replay could count
a posting twice (`y|` kept, its `k|` lost) or not at all (`k|` kept, `y|` lost). Closing that
needs transactional changelogs or a per-record "last applied" mark; not done here.

State of the version before (`m|<year>|<cc>|<period>|<group>` → {posting_id: amount}, an ever
growing record rewritten per posting, and the index `g|<year>|<cc>`) is read when a cost centre's
year has no `y|` yet: its sums are taken from those buckets and the old keys are deleted in the same
unit of work (so their large records leave the compacted changelog).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import lru_cache, partial
from typing import Any, NamedTuple

from shared.contract.events import (
    AlertRaised,
    AlertResolved,
    BudgetSet,
    BudgetStatus,
    Envelope,
    LedgerPosted,
)
from shared.contract.events.finance import BudgetFigures
from shared.contract.events.operations import AlertMessage
from shared.contract.topics import ALERTS_BUDGET, BUDGET_CENTRES, BUDGET_STATUS
from shared.kernel.money import money_str
from shared.service.ports import Clock, Emit, Later
from shared.service.processor import Emitter
from shared.service.state import Store

from .domain import (
    FIELDS,
    LIMIT_ORE,
    NO_PLAN,
    Ore,
    alert_id,
    figures_of,
    group_figures_ore,
    kr,
    ore,
    plan_ore,
    sum_ore,
)
from .rules import BudgetRules

TOTAL = "total"
GROUPS = ("revenue", "personnel", "fees", "other")


class Figured(NamedTuple):
    dump: dict[str, Any]  # the status as published (and stored in `s|`)
    groups: dict[str, Ore]  # figures per account group, in öre
    budgeted: frozenset[str]  # the groups with a budget for the year
    total: Ore


@dataclass
class Deps:
    ledger: Store
    totals: Store
    rules: BudgetRules
    clock: Clock
    log: Any
    emit: Emitter | None = None
    cost_centres: frozenset[str] | None = None
    """The nämnd's own cost centres (PN_BUDGET_COST_CENTRES); None counts every one. A budget or
    posting for another cost centre (the health-care administration's invoice income, its side of
    an internal transfer) is not the nämnd's: not counted, not in the total, no alert."""


def _own(cc: str, event: Envelope, deps: Deps) -> bool:
    if deps.cost_centres is None or cc in deps.cost_centres:
        return True
    deps.log.debug("not_own_cost_centre", cost_centre=cc, event_id=event.id)
    return False


# -- ledger side (per cost centre) ---------------------------------------------------------------
def on_budget_set(event: Envelope, *, deps: Deps) -> list[Emit | Later]:
    b: BudgetSet = event.data
    if not _own(b.cost_centre, event, deps):
        return []
    deps.ledger[f"b|{b.year}|{b.cost_centre}|{b.account_group}"] = [money_str(m) for m in b.monthly]
    return [_later(b.cost_centre, b.year, event, deps)]


def on_posted(event: Envelope, *, deps: Deps) -> list[Emit | Later]:
    p: LedgerPosted = event.data
    if not _own(p.cost_centre, event, deps):
        return []
    cc, period, group, amount = p.cost_centre, p.period, p.account_group, money_str(p.amount)
    year = int(period[:4])
    record = f"{year}|{period}|{group}|{amount}"
    key = f"k|{cc}|{p.posting_id}"
    before = deps.ledger.get(key)
    if before == record:
        return []  # the same posting again: counted once
    deps.ledger[key] = record
    if before is None:
        _count(deps.ledger, cc, year, ((period, group, ore(amount), 1),))
        return [_later(cc, year, event, deps)]
    # the same posting_id with other content: the later one replaces it
    old_year, old_period, old_group, old_amount = before.split("|")
    out_of = (old_period, old_group, -ore(old_amount), -1)
    into = (period, group, ore(amount), 1)
    if int(old_year) == year:
        _count(deps.ledger, cc, year, (out_of, into))
        return [_later(cc, year, event, deps)]
    _count(deps.ledger, cc, int(old_year), (out_of,))
    _count(deps.ledger, cc, year, (into,))
    return [_later(cc, y, event, deps) for y in sorted((year, int(old_year)))]


def _later(cc: str, year: int, event: Envelope, deps: Deps) -> Later:
    """The cost centre's year is refreshed once, at the end of the batch, under the last event of
    the batch that touched it (the last `Later` of a key wins). The work holds the event's id and
    time, not the event: the Processor keeps every `Later` of the batch until its end, and a
    decoded event kept alive per posting is several objects more for the garbage collector to
    walk (they were ~40 % of a posting's cost)."""
    return Later(("centre", cc, year), partial(refresh, cc, year, event.id, event.time, deps))


def _count(ledger: Store, cc: str, year: int, changes: tuple[tuple[str, str, int, int], ...]) -> None:
    """Apply (period, group, Δöre, Δpostings) to the cost centre's year sums `y|<year>|<cc>`."""
    key = f"y|{year}|{cc}"
    sums = ledger.get(key) or _legacy_sums(ledger, cc, year)
    months, groups = dict(sums["months"]), dict(sums["groups"])
    for period, group, amount, n in changes:
        month = period[5:7]
        left = months.get(month, 0) + n
        if left:
            months[month] = left
        else:
            del months[month]
        total, count = groups.get(group, (0, 0))
        if count + n:
            groups[group] = [total + amount, count + n]
        else:
            del groups[group]  # its last posting left: the group shows only if it has a budget
    ledger[key] = {"months": months, "groups": groups}


def _legacy_sums(ledger: Store, cc: str, year: int, *, drop: bool = True) -> dict[str, Any]:
    """The year sums from state an older version wrote (`g|<year>|<cc>` → its "period|group"
    buckets, `m|<year>|<cc>|<period>|<group>` → {posting_id: amount}); with `drop` (a posting is
    counted) those keys are deleted in the same unit of work, so they are read once and their large
    records leave the changelog. Empty sums when there are none."""
    months: dict[str, int] = {}
    groups: dict[str, list[int]] = {}
    index_key = f"g|{year}|{cc}"
    buckets = ledger.get(index_key)
    for bucket in buckets or ():
        period, group = bucket.split("|")
        bucket_key = f"m|{year}|{cc}|{period}|{group}"
        amounts = (ledger.pop(bucket_key) if drop else ledger.get(bucket_key)) or {}
        if amounts:
            months[period[5:7]] = months.get(period[5:7], 0) + len(amounts)
            total, count = groups.get(group, (0, 0))
            groups[group] = [total + sum(ore(a) for a in amounts.values()), count + len(amounts)]
    if drop and buckets is not None:
        ledger.pop(index_key)
    return {"months": months, "groups": groups}


def centre_status(ledger: Store, cc: str, year: int) -> Figured | None:
    """The cost centre's status (as published) from its year sums and budgets, with its figures
    in öre per group and in total; None before its first posting of the year. One sums read and
    at most 4 budget reads, whatever the number of postings."""
    sums = ledger.get(f"y|{year}|{cc}") or _legacy_sums(ledger, cc, year, drop=False)
    if not sums["months"]:
        return None
    months = int(max(sums["months"]))
    actuals = sums["groups"]
    plans = {}
    for group in GROUPS:
        plan = ledger.get(f"b|{year}|{cc}|{group}")
        if plan is not None:
            plans[group] = plan_ore(tuple(plan))
    figures = {g: group_figures_ore(plans.get(g, NO_PLAN), actuals[g][0] if g in actuals else 0, months)
               for g in sorted(plans.keys() | actuals.keys())}
    total = sum_ore(figures.values())
    dump = {"year": year, "period": f"{year:04d}-{months:02d}", "cost_centre": cc,
            "account_groups": {g: _json(f) for g, f in figures.items()}, "total": _json(total)}
    return Figured(dump, figures, frozenset(plans), total)


def _json(fig: Ore) -> dict[str, str]:
    return dict(_figures(fig)[0])


@lru_cache(maxsize=4096)
def _figures(fig: Ore) -> tuple[dict[str, str], BudgetFigures]:
    """One group's figures as published and as the output model, built once per distinct value:
    a posting changes one group and the total, the other groups' figures repeat. The output model
    is constructed from the Decimals of the published strings (validating its 6 Money fields would
    cost ~5 µs); frozen, so instances are shared. Callers copy the dict."""
    wire = dict(zip(FIELDS, map(kr, fig), strict=True))
    return wire, BudgetFigures.model_construct(**{name: Decimal(v) for name, v in wire.items()})


def _model(dump: dict[str, Any], figures: dict[str, Ore], total: Ore) -> BudgetStatus:
    """The output model of a status built from exact öre figures (equal to validating `dump`). A
    figure out of Money's range (≥ 10^12 kr) goes through validation, which rejects it as it always
    did."""
    if any(abs(v) >= LIMIT_ORE for fig in (total, *figures.values()) for v in fig):
        return BudgetStatus.model_validate(dump)
    return BudgetStatus.model_construct(
        year=dump["year"], period=dump["period"], cost_centre=dump["cost_centre"],
        account_groups={g: _figures(f)[1] for g, f in figures.items()}, total=_figures(total)[1])


def refresh(cc: str, year: int, cause: str, at: datetime, deps: Deps) -> list[Emit]:
    """The cost centre's status for the year and its alerts, from its current sums and budgets
    (deferred to the end of the batch by `_later`; `cause` and `at` are the id and time of the
    batch's last event for it)."""
    figured = centre_status(deps.ledger, cc, year)
    if figured is None:
        return []
    dump, figures, budgeted, total = figured
    if deps.ledger.get(f"s|{year}|{cc}") == dump:
        return []  # no figure changed
    deps.ledger[f"s|{year}|{cc}"] = dump
    status = _model(dump, figures, total)
    assert deps.emit is not None
    public = deps.emit(BUDGET_STATUS, status, key=BUDGET_STATUS.key_of(status),  # cost centre|period
                       cause=[cause, "status", cc, year], subject=cc, time=at)
    out = [public, Emit(BUDGET_CENTRES, cc, public.event)]  # the same event (same id): encoded once
    if not budgeted:
        return out  # no budget yet (budgets and postings are two topics): nothing to compare with
    months, period = int(dump["period"][5:7]), dump["period"]
    for rule in deps.rules.of_scope("cost_centre"):
        out += _evaluate(rule, total, months, cc, year, period, cause, at, deps.ledger, deps)
    for rule in deps.rules.of_scope("account_group"):
        group = rule.params.account_group
        if group in budgeted:
            out += _evaluate(rule, figures[group], months, f"{cc}/{group}", year, period, cause, at,
                             deps.ledger, deps)
    return out


# -- total side (one partition) --------------------------------------------------------------------
def on_centre_status(event: Envelope, *, deps: Deps) -> list[Emit | Later]:
    s: BudgetStatus = event.data
    if s.cost_centre == TOTAL:
        return []
    year = s.year
    deps.totals[f"c|{year}|{s.cost_centre}"] = s.model_dump(mode="json")
    centres = set(deps.totals.get(f"cc|{year}") or ())
    if s.cost_centre not in centres:
        deps.totals[f"cc|{year}"] = sorted(centres | {s.cost_centre})
    return [Later(("total", year), partial(refresh_total, year, event.id, event.time, deps))]


def refresh_total(year: int, cause: str, at: datetime, deps: Deps) -> list[Emit]:
    """The year's total and its alerts from the cost centres' latest statuses: once per batch,
    under the batch's last status of that year."""
    dump, figures, total = total_status(deps.totals, year)
    if deps.totals.get(f"s|{year}") == dump:
        return []
    deps.totals[f"s|{year}"] = dump
    status = _model(dump, figures, total)
    assert deps.emit is not None
    out = [deps.emit(BUDGET_STATUS, status, key=BUDGET_STATUS.key_of(status),
                     cause=[cause, "status", TOTAL, year], subject=TOTAL, time=at)]
    if total[3] == 0:
        return out  # no budget for the year yet (annual budget 0): nothing to compare with
    months, period = int(dump["period"][5:7]), dump["period"]
    for rule in deps.rules.of_scope("total"):
        out += _evaluate(rule, total, months, TOTAL, year, period, cause, at, deps.totals, deps)
    return out


def total_status(totals: Store, year: int) -> tuple[dict[str, Any], dict[str, Ore], Ore]:
    """Field-wise sum over the cost centres' latest statuses (exact, in öre); period = the latest
    of theirs. Bounded by the number of cost centres."""
    centres = [totals[f"c|{year}|{cc}"] for cc in totals.get(f"cc|{year}") or ()]
    groups: dict[str, list[Ore]] = {}
    for c in centres:
        for g, fig in c["account_groups"].items():
            groups.setdefault(g, []).append(_ore(fig))
    figures = {g: sum_ore(parts) for g, parts in sorted(groups.items())}
    total = sum_ore(_ore(c["total"]) for c in centres)
    dump = {"year": year, "period": max(c["period"] for c in centres), "cost_centre": TOTAL,
            "account_groups": {g: _json(f) for g, f in figures.items()}, "total": _json(total)}
    return dump, figures, total


def _ore(fig: dict[str, str]) -> Ore:
    return tuple(ore(fig[name]) for name in FIELDS)  # type: ignore[return-value]


# -- alerts ----------------------------------------------------------------------------------------
def _evaluate(rule: Any, fig: Ore, months: int, subject: str, year: int, period: str, cause: str,
              at: datetime, store: Store, deps: Deps) -> list[Emit]:
    """Raise once when the rule becomes true, resolve once when it stops; nothing while unchanged.
    Only the facts the rule's condition names are derived per status; all of them (the alert's
    `facts`) and the Decimal figures of its message only when it is raised or resolved."""
    holds = deps.rules.holds_ore(rule, fig, months)
    aid = alert_id(rule.id, year, subject)
    key = f"a|{aid}"
    raised = store.get(key)
    if holds == (raised is not None):
        return []
    assert deps.emit is not None
    figures = figures_of(fig)
    facts: dict[str, Any] = {**rule.facts(figures, months), "year": year, "period": period}
    message = AlertMessage(**rule.render(figures, subject=subject, year=year, period=period, ended=not holds))
    if holds:
        store[key] = {"raised_at": at.isoformat(), "period": period}
        data: Any = AlertRaised(alert_id=aid, rule_id=rule.id, severity=rule.severity, subject=subject,
                                message=message, facts=facts, raised_at=at)
    else:
        store.pop(key)
        data = AlertResolved(alert_id=aid, rule_id=rule.id, severity=rule.severity, subject=subject,
                             message=message, facts=facts, raised_at=raised["raised_at"], resolved_at=at)
    deps.log.info("budget_alert", alert_id=aid, rule_id=rule.id, state="raised" if holds else "resolved",
                  period=period)
    return [deps.emit(ALERTS_BUDGET, data, key=aid, cause=[cause, aid, data.event_type], subject=subject,
                      time=at)]


LEDGER_HANDLERS = {BudgetSet.event_type: on_budget_set, LedgerPosted.event_type: on_posted}
CENTRE_HANDLERS = {BudgetStatus.event_type: on_centre_status}
