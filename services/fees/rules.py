"""rules/fee_schedule.yaml → validated versions → one durable-rules ruleset per version.

Each version's rules are compiled from their `when` conditions; the engine answers which rule ids
match a visit's facts (domain.facts: kind, first_in_week, has_travel, has_lost_income), cached by
those facts inside DurableRules, so a year of visits costs a handful of engine posts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.rules import DurableRules, RuleEvaluator, RulesFileError, load_rules_file

from .domain import ScheduleVersion, version_for


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


@dataclass(frozen=True)
class FeeSchedule:
    versions: tuple[ScheduleVersion, ...]
    engine: RuleEvaluator

    def version_for(self, day: date) -> ScheduleVersion | None:
        return version_for(self.versions, day)

    def matching(self, version: ScheduleVersion, facts: dict[str, str | bool]) -> tuple[str, ...]:
        return self.engine.matching(ruleset_name(version), facts)


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
