"""Budget handlers: budgets and postings in → figures, `pn.budget.status` and alerts out.

A handler reads facts from the stores, asks domain.py (every decision: whose cost centre, how a
posting moves the sums, the figures, the total, which rule applies, raise or resolve), writes the
facts and emits. Every store key below is built and taken apart by keys.py.

Three processors, because faust ties a store's changelog to the partitions of the topic that writes it:
- FORWARD_HANDLERS (`pn.finance.budgets` + `pn.finance.postings`, 4 partitions, keyed by cost
  centre by their producers) move the nämnd's budgets and postings, unchanged, to the internal
  `pn.budget.ledger`, keyed by cost centre with our partitioner: the public topics' keys are the
  right ones, but their producers' partitioners may differ (upstream's librdkafka default is not
  murmur2), and a cost centre's budget and its postings must meet on one partition. No state.
- LEDGER_HANDLERS (`pn.budget.ledger`, 4 partitions, keyed by cost centre) keep each cost centre's
  facts in `ledger`:
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
  place whatever the number of workers (cost: the number of cost centres, not of postings). The
  latest statuses and totals also go to the global store `published`, which the view reads on
  any worker (docs/budget.md, "Several workers").
Every read is local to the partition of the triggering input: every `ledger` key carries the cost
centre, the key of `pn.budget.ledger` (one partitioner: ours); `totals` is one partition.

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
from shared.contract.topics import ALERTS_BUDGET, BUDGET_CENTRES, BUDGET_LEDGER, BUDGET_STATUS
from shared.kernel.money import money_str
from shared.service.ports import Clock, Emit, Later
from shared.service.processor import Emitter
from shared.service.state import Store

from . import keys
from .domain import (
    ACCOUNT_GROUPS,
    FIELDS,
    LIMIT_ORE,
    TOTAL,
    Change,
    Counted,
    Ore,
    alert_change,
    alert_facts,
    alert_id,
    apply_changes,
    centre_alert_targets,
    centre_figures_ore,
    counted_as,
    figures_of,
    is_own_cost_centre,
    kr,
    legacy_sums,
    month_of,
    posting_changes,
    total_figures,
    total_is_budgeted,
)
from .rules import BudgetRules


class Figured(NamedTuple):
    dump: dict[str, Any]  # the status as published (and stored in `s|`)
    groups: dict[str, Ore]  # figures per account group, in öre
    budgeted: frozenset[str]  # the groups with a budget for the year
    total: Ore
    months: int  # months elapsed (the month of dump["period"])


@dataclass
class Deps:
    ledger: Store
    totals: Store
    rules: BudgetRules
    clock: Clock
    log: Any
    emit: Emitter | None = None
    published: Store | None = None
    """The latest statuses and totals again, in a global store (every worker holds all of it): what
    `GET /budget/{year}` serves on any worker (web.py). Written beside `totals`, by the same
    processor; never read by a handler."""
    cost_centres: frozenset[str] | None = None
    """The nämnd's own cost centres (PN_BUDGET_COST_CENTRES); None counts every one. A budget or
    posting for another cost centre (the health-care administration's invoice income, its side of
    an internal transfer) is not the nämnd's: not counted, not in the total, no alert."""


def _own(cc: str, event: Envelope, deps: Deps) -> bool:
    """domain.is_own_cost_centre, and a debug line when it is not."""
    if is_own_cost_centre(cc, deps.cost_centres):
        return True
    deps.log.debug("not_own_cost_centre", cost_centre=cc, event_id=event.id)
    return False


# -- re-key (public topics → pn.budget.ledger) --------------------------------------------------
def forward(event: Envelope, *, deps: Deps) -> list[Emit]:
    """A budget or posting of the nämnd's own cost centres, unchanged (same id, same bytes), to
    `pn.budget.ledger` keyed by its cost centre: our partitioner puts a cost centre's budgets and
    postings on one partition whichever partitioner their producers used. Others are dropped here."""
    cc = event.data.cost_centre
    return [Emit(BUDGET_LEDGER, cc, event)] if _own(cc, event, deps) else []


# -- ledger side (per cost centre) ---------------------------------------------------------------
def on_budget_set(event: Envelope, *, deps: Deps) -> list[Emit | Later]:
    b: BudgetSet = event.data
    if not _own(b.cost_centre, event, deps):
        return []
    deps.ledger[keys.budget(b.year, b.cost_centre, b.account_group)] = [money_str(m) for m in b.monthly]
    return [_later(b.cost_centre, b.year, event, deps)]


def on_posted(event: Envelope, *, deps: Deps) -> list[Emit | Later]:
    p: LedgerPosted = event.data
    if not _own(p.cost_centre, event, deps):
        return []
    cc = p.cost_centre
    now = counted_as(p.period, p.account_group, money_str(p.amount))
    key = keys.posting(cc, p.posting_id)
    before = deps.ledger.get(key)
    moves = posting_changes(None if before is None else Counted(*keys.parse_posting_record(before)), now)
    if not moves:
        return []  # the same posting again: counted once
    deps.ledger[key] = keys.posting_record(*now)
    for year, changes in moves:
        _count(deps.ledger, cc, year, changes)
    return [_later(cc, y, event, deps) for y in sorted(year for year, _ in moves)]


def _later(cc: str, year: int, event: Envelope, deps: Deps) -> Later:
    """The cost centre's year is refreshed once, at the end of the batch, under the last event of
    the batch that touched it (the last `Later` of a key wins). The work holds the event's id and
    time, not the event: the Processor keeps every `Later` of the batch until its end, and a
    decoded event kept alive per posting is several objects more for the garbage collector to
    walk (they were ~40 % of a posting's cost)."""
    return Later(("centre", cc, year), partial(refresh, cc, year, event.id, event.time, deps))


def _count(ledger: Store, cc: str, year: int, changes: tuple[Change, ...]) -> None:
    """Apply (period, group, Δöre, Δpostings) to the cost centre's year sums (keys.year_sums)."""
    key = keys.year_sums(year, cc)
    ledger[key] = apply_changes(ledger.get(key) or _legacy_sums(ledger, cc, year), changes)


def _legacy_sums(ledger: Store, cc: str, year: int, *, drop: bool = True) -> dict[str, Any]:
    """The year sums from state an older version wrote (keys.legacy_index → its `period|group`
    buckets, keys.legacy_bucket → {posting_id: amount}; summed by domain.legacy_sums); with `drop`
    (a posting is counted) those keys are deleted in the same unit of work, so they are read once
    and their large records leave the changelog. Empty sums when there are none."""
    index_key = keys.legacy_index(year, cc)
    buckets = ledger.get(index_key)
    read = []
    for entry in buckets or ():
        period, group = keys.legacy_bucket_of(entry)
        bucket_key = keys.legacy_bucket(year, cc, period, group)
        read.append((period, group, (ledger.pop(bucket_key) if drop else ledger.get(bucket_key)) or {}))
    if drop and buckets is not None:
        ledger.pop(index_key)
    return legacy_sums(read)


def centre_status(ledger: Store, cc: str, year: int) -> Figured | None:
    """The cost centre's status (as published) from its year sums and budgets, with its figures
    in öre per group and in total; None before its first posting of the year. One sums read and
    at most 4 budget reads, whatever the number of postings."""
    sums = ledger.get(keys.year_sums(year, cc)) or _legacy_sums(ledger, cc, year, drop=False)
    if not sums["months"]:
        return None  # read no budget: there is no status yet
    budgets = {}
    for group in ACCOUNT_GROUPS:
        plan = ledger.get(keys.budget(year, cc, group))
        if plan is not None:
            budgets[group] = plan
    fig = centre_figures_ore(year, sums, budgets)
    assert fig is not None
    dump = {"year": year, "period": fig.period, "cost_centre": cc,
            "account_groups": {g: _json(f) for g, f in fig.groups.items()}, "total": _json(fig.total)}
    return Figured(dump, fig.groups, fig.budgeted, fig.total, fig.months)


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
    dump, figures, budgeted, total, months = figured
    status_key = keys.centre_status(year, cc)
    if deps.ledger.get(status_key) == dump:
        return []  # no figure changed
    deps.ledger[status_key] = dump
    status = _model(dump, figures, total)
    assert deps.emit is not None
    public = deps.emit(BUDGET_STATUS, status, key=BUDGET_STATUS.key_of(status),  # cost centre|period
                       cause=[cause, "status", cc, year], subject=cc, time=at)
    out = [public, Emit(BUDGET_CENTRES, cc, public.event)]  # the same event (same id): encoded once
    period = dump["period"]
    for rule, fig, subject in centre_alert_targets(cc, figures, total, budgeted, deps.rules.of_scope("cost_centre"),
                                                   deps.rules.of_scope("account_group")):
        out += _evaluate(rule, fig, months, subject, year, period, cause, at, deps.ledger, deps)
    return out


# -- total side (one partition) --------------------------------------------------------------------
def on_centre_status(event: Envelope, *, deps: Deps) -> list[Emit | Later]:
    s: BudgetStatus = event.data
    if s.cost_centre == TOTAL:
        return []
    year = s.year
    dump = s.model_dump(mode="json")
    deps.totals[keys.centre_latest(year, s.cost_centre)] = dump
    if deps.published is not None:
        deps.published[keys.centre_latest(year, s.cost_centre)] = dump
    centres = set(deps.totals.get(keys.centres(year)) or ())
    if s.cost_centre not in centres:
        deps.totals[keys.centres(year)] = sorted(centres | {s.cost_centre})
    return [Later(("total", year), partial(refresh_total, year, event.id, event.time, deps))]


def refresh_total(year: int, cause: str, at: datetime, deps: Deps) -> list[Emit]:
    """The year's total and its alerts from the cost centres' latest statuses: once per batch,
    under the batch's last status of that year."""
    dump, figures, total = total_status(deps.totals, year)
    if deps.totals.get(keys.total_status(year)) == dump:
        return []
    deps.totals[keys.total_status(year)] = dump
    if deps.published is not None:
        deps.published[keys.total_status(year)] = dump
    status = _model(dump, figures, total)
    assert deps.emit is not None
    out = [deps.emit(BUDGET_STATUS, status, key=BUDGET_STATUS.key_of(status),
                     cause=[cause, "status", TOTAL, year], subject=TOTAL, time=at)]
    if not total_is_budgeted(total):
        return out  # no budget for the year yet (annual budget 0): nothing to compare with
    period = dump["period"]
    months = month_of(period)
    for rule in deps.rules.of_scope("total"):
        out += _evaluate(rule, total, months, TOTAL, year, period, cause, at, deps.totals, deps)
    return out


def total_status(totals: Store, year: int) -> tuple[dict[str, Any], dict[str, Ore], Ore]:
    """Field-wise sum over the cost centres' latest statuses (exact, in öre); period = the latest
    of theirs. Bounded by the number of cost centres."""
    centres = [totals[keys.centre_latest(year, cc)] for cc in totals.get(keys.centres(year)) or ()]
    period, figures, total = total_figures(centres)
    dump = {"year": year, "period": period, "cost_centre": TOTAL,
            "account_groups": {g: _json(f) for g, f in figures.items()}, "total": _json(total)}
    return dump, figures, total


# -- alerts ----------------------------------------------------------------------------------------
def _evaluate(rule: Any, fig: Ore, months: int, subject: str, year: int, period: str, cause: str,
              at: datetime, store: Store, deps: Deps) -> list[Emit]:
    """Raise once when the rule becomes true, resolve once when it stops; nothing while unchanged.
    Only the facts the rule's condition names are derived per status; all of them (the alert's
    `facts`) and the Decimal figures of its message only when it is raised or resolved."""
    holds = deps.rules.holds_ore(rule, fig, months)
    aid = alert_id(rule.id, year, subject)
    key = keys.alert(aid)
    raised = store.get(key)
    change = alert_change(holds, raised is not None)
    if change is None:
        return []
    assert deps.emit is not None
    figures = figures_of(fig)
    facts = alert_facts(rule.facts(figures, months), year, period)
    message = AlertMessage(**rule.render(figures, subject=subject, year=year, period=period, ended=not holds))
    if change == "raise":
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


FORWARD_HANDLERS = {BudgetSet.event_type: forward, LedgerPosted.event_type: forward}
LEDGER_HANDLERS = {BudgetSet.event_type: on_budget_set, LedgerPosted.event_type: on_posted}
CENTRE_HANDLERS = {BudgetStatus.event_type: on_centre_status}
