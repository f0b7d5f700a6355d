"""rules/budget_alerts.yaml -> validated pydantic models -> one durable-rules ruleset per rule.

A rule names its scope, its params (kr and percentages, exact Decimal), a condition in the shared
condition language over the öre facts `domain.facts` derives, a severity and sv/en templates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.events.types import AccountGroup, Severity
from shared.money import ZERO, money_str
from shared.rules import DurableRules, RuleEvaluator, check_condition, load_rules_file

from .domain import FACT_NAMES, FIELDS, Figures, facts

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

    def render(self, fig: Figures, *, subject: str, year: int, period: str) -> dict[str, str]:
        values = {"subject": subject, "year": str(year), "period": period,
                  **{name: money_str(getattr(fig, name)) for name in FIELDS},
                  "forecast_gap": money_str(fig.forecast_run_rate - fig.annual_budget)}
        return {"sv": self.message.sv.format(**values), "en": self.message.en.format(**values)}


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


@dataclass
class BudgetRules:
    rules: tuple[AlertRule, ...]
    engine: RuleEvaluator

    def of_scope(self, *scopes: str) -> tuple[AlertRule, ...]:
        return tuple(r for r in self.rules if r.scope in scopes)

    def holds(self, rule: AlertRule, fig: Figures, months: int) -> tuple[bool, dict[str, int]]:
        seen = rule.facts(fig, months)
        return rule.id in self.engine.matching(rule.id, seen), seen


def compile_rules(spec: AlertRulesFile, engine: DurableRules | None = None) -> BudgetRules:
    engine = engine or DurableRules()
    for rule in spec.rules:
        engine.add_ruleset(rule.id, [(rule.id, rule.condition)])
    return BudgetRules(tuple(spec.rules), engine)


def load_budget_rules(path: Path | str) -> BudgetRules:
    """Validate (RulesFileError names file and line) and compile the alert rules."""
    return compile_rules(load_rules_file(path, AlertRulesFile))
