"""rules/billing.yaml → validated agreements → one durable-rules ruleset (shared.service.rules.DurableRules).

Each agreement becomes a rule over the facts `care_region`, `home_region`, `form`, `legal_basis`
and `date` (the day's ordinal, an int: rule facts are never floats or dates). The engine answers
which agreements match; domain.choose applies the precedence. Answers are cached by the facts;
so that they repeat, a day's date is replaced by the first day of its stretch between agreement
boundaries (effective_from, the day after effective_to): every date condition gives the same
answer for all days of a stretch, and a year has a handful of stretches, not 365 dates.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contract.events import CareDayRecorded
from shared.contract.events.types import CountyCode
from shared.service.rules import DurableRules, RuleEvaluator, load_rules_file, require_unique

from .domain import ALL_REGIONS, Agreement, Revenue

RULESET = "billing.agreements"


class BillingFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    care_region: CountyCode | None = None
    agreements: Annotated[list[Agreement], Field(min_length=1)]
    revenue: Revenue

    @field_validator("agreements")
    @classmethod
    def _unambiguous(cls, agreements: list[Agreement]) -> list[Agreement]:
        require_unique(agreements, lambda a: a.id, "agreement ids")
        for i, a in enumerate(agreements):
            for b in agreements[i + 1:]:
                if a.overlaps(b):
                    raise ValueError(f"agreements {a.id!r} and {b.id!r} are both {a.kind} and overlap "
                                     "(region, dates, form and legal basis): which one prices a day?")
        return agreements


def condition(agreement: Agreement, care_region: str) -> dict[str, Any]:
    """The rule condition (shared.service.rules condition language) of one agreement."""
    dates: dict[str, int] = {"gte": agreement.effective_from.toordinal()}
    if agreement.effective_to is not None:
        dates["lte"] = agreement.effective_to.toordinal()
    cond: dict[str, Any] = {"care_region": care_region, "form": list(agreement.forms),
                            "legal_basis": list(agreement.legal_basis), "date": dates}
    if agreement.home_regions == ALL_REGIONS:  # every other region: never our own patients
        cond["home_region"] = {"ne": care_region}
    else:
        cond["home_region"] = list(agreement.home_regions)
    return cond


def boundaries(agreements: tuple[Agreement, ...]) -> tuple[int, ...]:
    """Ordinals where some agreement starts or has just ended, sorted."""
    days = {a.effective_from.toordinal() for a in agreements}
    days |= {a.effective_to.toordinal() + 1 for a in agreements if a.effective_to is not None}
    return tuple(sorted(days))


@dataclass(frozen=True)
class BillingRules:
    care_region: str
    agreements: tuple[Agreement, ...]
    engine: RuleEvaluator
    revenue: Revenue
    _stretches: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_stretches", boundaries(self.agreements))

    def date_fact(self, day: date) -> int:
        """The first day (ordinal) of the stretch between agreement boundaries that holds `day`."""
        i = bisect_right(self._stretches, day.toordinal())
        return self._stretches[i - 1] if i else self._stretches[0] - 1

    def matching(self, day: CareDayRecorded) -> list[Agreement]:
        """Agreements whose rule holds for the day (compulsory care only: legal_basis is set)."""
        facts = {"care_region": day.care_region, "home_region": day.home_region, "form": day.form,
                 "legal_basis": day.legal_basis or "", "date": self.date_fact(day.care_date)}
        ids = set(self.engine.matching(RULESET, facts))
        return [a for a in self.agreements if a.id in ids]

    def names(self) -> dict[str, str]:
        return {a.id: a.name for a in self.agreements}


def load_billing_rules(path: Path | str, *, default_region: str, engine: DurableRules | None = None) -> BillingRules:
    """Validate and compile; an invalid file raises RulesFileError naming the line."""
    spec = load_rules_file(path, BillingFile)
    care_region = spec.care_region or default_region
    engine = engine or DurableRules()
    engine.add_ruleset(RULESET, [(a.id, condition(a, care_region)) for a in spec.agreements])
    return BillingRules(care_region, tuple(spec.agreements), engine, spec.revenue)
