"""rules/complaint_categories.yaml → validated model → compiled keyword matcher and spike policy.

Keyword matching is a substring question, not a question over a few discrete facts, so the stems
are compiled into one regular expression, a trie of alternations (one pass over the casefolded
text), instead of durable-rules rulesets; the file is still validated by
`shared.service.rules.load_rules_file`, which names the failing line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from shared.service.rules import load_rules_file, require_unique

Code = Annotated[str, Field(pattern=r"^[a-z]+(\.[a-z_]+)?$", max_length=80)]
Stem = Annotated[str, Field(min_length=2, max_length=80)]


class _Strict(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CategoryRule(_Strict):
    code: Code
    label: Annotated[str, Field(min_length=1, max_length=100)]
    keywords: list[Stem] = []
    yields_to: list[Code] = []
    """Codes that take precedence: when one of them matches too, this one is dropped. For stems that
    name the object of the care ("behandlingen", "operation") rather than what went wrong with it:
    "information om behandlingen" is Information, "väntetiden till operation" Tillgänglighet."""


class SpikePolicy(_Strict):
    """Thresholds of `intake.complaint_spike` (integers: rule facts are never floats)."""

    window_days: Annotated[int, Field(ge=1, le=366)] = 30
    baseline_days: Annotated[int, Field(ge=1, le=3660)] = 365
    min_count: Annotated[int, Field(ge=1)] = 5
    ratio: Annotated[int, Field(ge=1)] = 3


class CategoriesFile(_Strict):
    version: Annotated[str, Field(min_length=1, max_length=40)]
    categories: Annotated[list[CategoryRule], Field(min_length=1)]
    fallback: Code  # after `categories`, so its validator can see them
    spike: SpikePolicy = SpikePolicy()

    @field_validator("categories")
    @classmethod
    def _codes_unique(cls, categories: list[CategoryRule]) -> list[CategoryRule]:
        require_unique(categories, lambda c: c.code, "category codes")
        known = {c.code for c in categories}
        for c in categories:
            unknown = [y for y in c.yields_to if y not in known or y == c.code]
            if unknown:
                raise ValueError(f"category {c.code!r} yields to {', '.join(unknown)}: not another category of the file")
        return categories

    @field_validator("fallback")
    @classmethod
    def _fallback_known(cls, fallback: str, info: ValidationInfo) -> str:
        categories = info.data.get("categories")  # absent when they failed themselves
        if categories is not None and fallback not in {c.code for c in categories}:
            raise ValueError(f"fallback {fallback!r} is not one of the categories")
        return fallback


@dataclass(frozen=True)
class CategoryRules:
    """The compiled file: known codes (in file order), one pattern over every stem, the codes each
    matched stem stands for, and the spike policy."""

    version: str
    codes: tuple[str, ...]
    fallback: str
    pattern: re.Pattern[str] | None
    codes_by_stem: dict[str, frozenset[str]]
    spike: SpikePolicy
    yields: dict[str, frozenset[str]] = field(default_factory=dict)
    """code → the codes it yields to (`yields_to`), only for codes that yield."""

    def matching(self, text: str) -> list[str]:
        """Codes whose stems occur at the start of a word in `text`, in file order (one pass), less
        those that yield to another matching code."""
        if self.pattern is None:
            return []
        found = {code for stem in self.pattern.findall(text.casefold()) for code in self.codes_by_stem[stem]}
        return [code for code in self.codes if code in found and not (self.yields.get(code, frozenset()) & found)]


def compile_rules(spec: CategoriesFile) -> CategoryRules:
    stems: dict[str, set[str]] = {}
    for category in spec.categories:
        for keyword in category.keywords:
            stems.setdefault(keyword.casefold(), set()).add(category.code)
    # At a position the longest stem wins (the trie tries longer branches first); it then stands
    # for every stem that is a prefix of it (they match there too).
    codes_by_stem = {s: frozenset(c for p in stems if s.startswith(p) for c in stems[p]) for s in stems}
    pattern = re.compile(r"\b" + _trie(stems)) if stems else None
    return CategoryRules(spec.version, tuple(c.code for c in spec.categories), spec.fallback, pattern,
                         codes_by_stem, spec.spike,
                         {c.code: frozenset(c.yields_to) for c in spec.categories if c.yields_to})


def _trie(stems: Iterable[str]) -> str:
    """One alternation per shared prefix, so a position is tried against a few branches rather
    than every stem (~2.5x faster than a flat `stem|stem|...` over our file). Greedy optional
    groups try the longer stem first, as the flat alternation did by ordering stems longest first."""
    root: dict[str, dict] = {}
    for stem in stems:
        node = root
        for ch in stem:
            node = node.setdefault(ch, {})
        node[""] = {}

    def branches(node: dict[str, dict]) -> str:
        alternatives = [re.escape(ch) + branches(child) for ch, child in sorted(node.items()) if ch]
        if not alternatives:
            return ""
        if len(alternatives) > 1:
            body = "(?:" + "|".join(alternatives) + ")"
        else:
            body = alternatives[0] if "" not in node else "(?:" + alternatives[0] + ")"
        return body + "?" if "" in node else body

    return branches(root)


def load_category_rules(path: Path) -> CategoryRules:
    """Load and compile; a bad file raises `RulesFileError` naming file and line."""
    return compile_rules(load_rules_file(path, CategoriesFile))
