"""rules/fee_schedule.yaml → validated versions → one durable-rules ruleset per version.

Each version's rules are compiled from their `when` conditions; the engine answers which rule ids
match a visit's facts (domain.facts: kind, first_in_week, has_travel, has_lost_income), cached by
those facts inside DurableRules, so a year of visits costs a handful of engine posts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contract.events import FeeLine, VisitReported
from shared.kernel.money import ZERO
from shared.service.rules import DurableRules, RuleEvaluator, RulesFileError, load_rules_file

from .domain import WEEKLY_KINDS, ScheduleVersion, facts, lines_for, split, version_for

PRICES_KEPT = 4096
"""Bound of the price cache (distinct schedule version, kind, week, km, lost income); cleared when full."""


class ScheduleFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    versions: Annotated[list[ScheduleVersion], Field(min_length=1)]

    @field_validator("versions")
    @classmethod
    def _distinct(cls, versions: list[ScheduleVersion]) -> list[ScheduleVersion]:
        for attr in ("version", "effective_from"):
            values = [getattr(v, attr) for v in versions]
            twice = sorted({str(x) for x in values if values.count(x) > 1})
            if twice:
                raise ValueError(f"two versions share the {attr} {', '.join(twice)}")
        return sorted(versions, key=lambda v: v.effective_from)


def ruleset_name(version: ScheduleVersion) -> str:
    return f"fees:{version.version}"


@dataclass(frozen=True, slots=True)
class Price:
    """What a visit earns under one version: the matched rules, their lines and sums."""

    first_in_week: bool
    rule_ids: tuple[str, ...]
    lines: tuple[FeeLine, ...]
    taxable: Decimal
    tax_free: Decimal
    total: Decimal
    cost: Decimal | None
    """The posting's amount (−total), None when the visit earns nothing (no posting)."""


@dataclass(frozen=True)
class FeeSchedule:
    versions: tuple[ScheduleVersion, ...]
    engine: RuleEvaluator
    prices_kept: int = PRICES_KEPT
    _prices: dict[tuple[Any, ...], Price] = field(default_factory=dict, compare=False, repr=False)
    _capped: dict[str, frozenset[str]] = field(default_factory=dict, compare=False, repr=False)

    def capped(self, version: ScheduleVersion) -> frozenset[str]:
        """The ids of the version's `per: claimed` rules (the day's cap applies to their lines)."""
        found = self._capped.get(version.version)
        if found is None:
            found = self._capped[version.version] = frozenset(r.id for r in version.rules if r.per == "claimed")
        return found

    def version_for(self, day: date) -> ScheduleVersion | None:
        return version_for(self.versions, day)

    def matching(self, version: ScheduleVersion, facts: dict[str, str | bool]) -> tuple[str, ...]:
        return self.engine.matching(ruleset_name(version), facts)

    def price(self, version: ScheduleVersion, visit: VisitReported, first: bool,
              claimed_today: Decimal = ZERO) -> Price:
        """The visit's price (domain.facts → engine → domain.lines_for), cached by everything it
        depends on: version, kind, first in week, travel_km and lost income exactly as written
        (their text, so 8 and 8.0 km stay distinct quantities), and the lost income already paid
        to the support person for the day (the cap is per day). Lines are frozen, shared safely."""
        km, income = visit.travel_km, visit.lost_income
        key = (version.version, visit.kind, first and visit.kind in WEEKLY_KINDS,
               None if km is None else str(km), None if income is None else str(income),
               visit.lost_income_certified, str(claimed_today) if income else None)
        price = self._prices.get(key)
        if price is None:
            visit_facts = facts(visit, first)
            matched = self.matching(version, visit_facts)
            lines = lines_for(visit, version.rules, matched, claimed_today)
            taxable, tax_free = split(lines)
            total = taxable + tax_free
            price = Price(bool(visit_facts["first_in_week"]), tuple(matched), tuple(lines), taxable, tax_free,
                          total, -total if total != ZERO else None)
            if len(self._prices) >= self.prices_kept:
                self._prices.clear()
            self._prices[key] = price
        return price


def load_schedule(path: Path | str, engine: DurableRules | None = None) -> FeeSchedule:
    """Validate and compile; an invalid file raises RulesFileError naming version, rule and line."""
    try:
        spec = load_rules_file(path, ScheduleFile)
    except RulesFileError as exc:
        raise RulesFileError(_with_names(str(exc), path)) from None
    engine = engine or DurableRules()
    for version in spec.versions:
        engine.add_ruleset(ruleset_name(version), [(r.id, r.when) for r in version.rules])
    return FeeSchedule(tuple(spec.versions), engine)


_PLACE = re.compile(r"versions\.(\d+)(?:\.rules\.(\d+))?")


def _with_names(message: str, path: Path | str) -> str:
    """Add the version and rule id to `versions.0.rules.3` in an error, as an editor knows them."""
    try:
        raw: Any = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        versions = raw["versions"]
    except Exception:  # not YAML or no versions list: the message says so already
        return message

    def name(match: re.Match[str]) -> str:
        try:
            version = versions[int(match[1])]
            label = f"version {version.get('version')!r}"
            if match[2] is not None:
                label += f", rule {version['rules'][int(match[2])].get('id')!r}"
        except (LookupError, TypeError, AttributeError):
            return match[0]
        return f"{match[0]} ({label})"

    return _PLACE.sub(name, message)
