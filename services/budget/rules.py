"""rules/budget_alerts.yaml -> validated pydantic models -> one durable-rules ruleset per rule.

A rule names its scope, its params (kr and percentages, exact Decimal), a condition in the shared
condition language over the öre facts `domain.facts` derives, a severity and sv/en templates.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contract.events.types import AccountGroup, Severity
from shared.kernel.money import ZERO, money_str
from shared.service.rules import DurableRules, RuleEvaluator, check_condition, load_rules_file

from .domain import FACT_NAMES, FIELDS, Figures, Ore, fact_ore, facts

TEMPLATE_FIELDS = ("subject", "year", "period", *FIELDS, "forecast_gap")


def _names_in(cond: Mapping[str, Any]) -> set[str]:
    names: set[str] = set()
    for key, spec in cond.items():
        if key in ("any", "all"):
            for sub in spec:
                names |= _names_in(sub)
        else:
            names.add(key)
    return names


def _literals(cond: Mapping[str, Any], out: dict[str, set[Any]]) -> dict[str, set[Any]]:
    """Every literal a condition compares each fact with."""
    for key, spec in cond.items():
        if key in ("any", "all"):
            for sub in spec:
                _literals(sub, out)
        elif isinstance(spec, list):
            out.setdefault(key, set()).update(spec)
        elif isinstance(spec, Mapping):
            out.setdefault(key, set()).update(spec.values())
        else:
            out.setdefault(key, set()).add(spec)
    return out


def _check_budget_condition(cond: Any) -> Any:
    check_condition(cond)
    unknown = _names_in(cond) - FACT_NAMES
    if unknown:
        raise ValueError(f"unknown fact(s) {', '.join(sorted(unknown))}; known: {', '.join(sorted(FACT_NAMES))}")
    return cond


def _check_template(text: str) -> str:
    try:
        text.format(**{name: "0" for name in TEMPLATE_FIELDS})
    except (KeyError, IndexError, ValueError) as exc:
        raise ValueError(f"template placeholder {exc} is not one of {', '.join(TEMPLATE_FIELDS)}") from None
    return text


Template = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_check_template)]
Percent = Annotated[Decimal, Field(ge=0, le=1000)]


class Params(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    min_abs: Annotated[Decimal, Field(ge=0)] = ZERO
    pct: Percent = ZERO
    ratio_pct: Percent = Decimal(100)
    account_group: AccountGroup | None = None

    @field_validator("min_abs", "pct", "ratio_pct", mode="before")
    @classmethod
    def _no_float(cls, value: Any) -> Any:
        return repr(value) if isinstance(value, float) else value  # YAML 0.9 -> "0.9", never binary


class Message(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    sv: Template
    en: Template


class AlertRule(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    id: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_.]*$", max_length=100)]
    scope: Literal["cost_centre", "total", "account_group"]
    params: Params = Params()
    condition: Annotated[dict[str, Any], AfterValidator(_check_budget_condition)]
    severity: Severity
    message: Message

    @model_validator(mode="after")
    def _group_scope(self) -> AlertRule:
        if (self.scope == "account_group") != (self.params.account_group is not None):
            raise ValueError("params.account_group is required for scope account_group, and only there")
        return self

    def facts(self, fig: Figures, months: int) -> dict[str, int]:
        p = self.params
        return facts(fig, min_abs=p.min_abs, pct=p.pct, ratio_pct=p.ratio_pct, months=months)

    def render(self, fig: Figures, *, subject: str, year: int, period: str, ended: bool = False) -> dict[str, str]:
        """The message; for a resolved alert it says the alert has ended ("Upphört", the word a
        Swedish controller uses for an alert whose condition no longer holds: nothing says it was
        acted on; a budget revision or a late posting ends it as well)."""
        values = {"subject": subject, "year": str(year), "period": period,
                  **{name: money_str(getattr(fig, name)) for name in FIELDS},
                  "forecast_gap": money_str(fig.forecast_run_rate - fig.annual_budget)}
        sv, en = self.message.sv.format(**values), self.message.en.format(**values)
        return {"sv": f"Upphört: {sv}", "en": f"Ended: {en}"} if ended else {"sv": sv, "en": en}


class AlertRulesFile(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")
    version: int = 1
    rules: Annotated[list[AlertRule], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> AlertRulesFile:
        ids = [r.id for r in self.rules]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate rule id(s): {', '.join(dupes)}")
        return self


@dataclass(frozen=True)
class _Inputs:
    """What a rule's truth depends on: the facts its condition names, each reduced to a
    representative of its class. The condition language compares a fact with literals only
    (eq, ne, gt, gte, lt, lte, one of), so two integers on the same side of (or equal to) every
    literal of a fact are alike to the condition: the representative is the literal itself, or
    the integer just beyond the nearest literal below (just below the lowest one). The engine then
    sees a handful of distinct fact sets and its cache (shared/service/rules.py) answers, instead of a
    ~35 µs post for every new amount. Facts compared with a non-integer literal pass unchanged."""

    names: tuple[str, ...]
    cuts: Mapping[str, tuple[int, ...] | None]

    @classmethod
    def of(cls, rule: AlertRule) -> _Inputs:
        literals = _literals(rule.condition, {})
        cuts = {name: tuple(sorted(values)) if all(type(v) is int for v in values) else None
                for name, values in literals.items()}
        return cls(tuple(sorted(literals)), cuts)

    def reduce(self, name: str, value: int) -> int:
        cuts = self.cuts[name]
        if cuts is None:
            return value
        i = bisect_left(cuts, value)
        if i < len(cuts) and cuts[i] == value:
            return value
        return cuts[i - 1] + 1 if i else cuts[0] - 1


@dataclass
class BudgetRules:
    rules: tuple[AlertRule, ...]
    engine: RuleEvaluator
    _inputs: dict[str, _Inputs] = field(default_factory=dict, repr=False)
    _scopes: dict[tuple[str, ...], tuple[AlertRule, ...]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._inputs.update({rule.id: _Inputs.of(rule) for rule in self.rules})

    def of_scope(self, *scopes: str) -> tuple[AlertRule, ...]:
        rules = self._scopes.get(scopes)
        if rules is None:
            rules = self._scopes[scopes] = tuple(r for r in self.rules if r.scope in scopes)
        return rules

    def holds(self, rule: AlertRule, fig: Figures, months: int) -> tuple[bool, dict[str, int]]:
        seen = rule.facts(fig, months)
        inputs = self._inputs[rule.id]
        reduced = {name: inputs.reduce(name, seen[name]) for name in inputs.names}
        return rule.id in self.engine.matching(rule.id, reduced), seen

    def holds_ore(self, rule: AlertRule, fig: Ore, months: int) -> bool:
        """`holds` from öre figures, computing only the facts the condition names (the per-posting
        path; the full facts are derived only when an alert is raised or resolved)."""
        p, inputs = rule.params, self._inputs[rule.id]
        reduced = {name: inputs.reduce(name, fact_ore(name, fig, months, min_abs=p.min_abs, pct=p.pct,
                                                      ratio_pct=p.ratio_pct))
                   for name in inputs.names}
        return rule.id in self.engine.matching(rule.id, reduced)


def compile_rules(spec: AlertRulesFile, engine: DurableRules | None = None) -> BudgetRules:
    engine = engine or DurableRules()
    for rule in spec.rules:
        engine.add_ruleset(rule.id, [(rule.id, rule.condition)])
    return BudgetRules(tuple(spec.rules), engine)


def load_budget_rules(path: Path | str) -> BudgetRules:
    """Validate (RulesFileError names file and line) and compile the alert rules."""
    return compile_rules(load_rules_file(path, AlertRulesFile))
