"""Declarative rules: YAML files validated by pydantic, conditions compiled into durable-rules.

Two jobs, one module:
- `load_rules_file(path, Model)`: parse YAML, validate it with a pydantic model, and on error
  raise `RulesFileError` naming the file, the line and the field, so a bad file stops a service
  with a message an administrator can act on.
- `DurableRules`: the one adapter over durable-rules. It compiles `(rule_id, condition)` lists into
  rulesets and answers "which rules match these facts?". durable-rules keeps rulesets in
  process-global state keyed by name and is not thread-safe, so each compiled ruleset gets a
  process-unique name and all calls come from the event loop's thread. A `post` costs ~34 µs; the
  answer depends only on the facts given, so it is cached by them (keep facts few and discrete:
  ints in öre, codes, booleans — never floats).

Condition language (YAML), all keys combined with AND:
    field: value            equals
    field: [a, b]           one of
    field: {gt: 0}          comparison: eq, ne, gt, gte, lt, lte (several combine with AND)
    any: [cond, cond]       OR of sub-conditions;  all: [cond, ...]  AND of sub-conditions
"""

from __future__ import annotations

import itertools
from collections.abc import Hashable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

M = TypeVar("M", bound=BaseModel)
_OPS = {"eq": None, "ne": "$neq", "gt": "$gt", "gte": "$gte", "lt": "$lt", "lte": "$lte"}
_names = itertools.count(1)


class RulesFileError(ValueError):
    """A rules file is invalid; the message names file, line and field."""


class RuleEvaluator(Protocol):
    def matching(self, ruleset: str, facts: Mapping[str, Hashable]) -> tuple[str, ...]: ...


# -- YAML loading with line numbers ------------------------------------------------------------
def _line_of(node: yaml.Node | None, loc: Sequence[str | int]) -> int | None:
    line = node.start_mark.line + 1 if node is not None else None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            node = next((v for k, v in node.value if k.value == str(part)), None)
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            node = node.value[part]
        else:
            break
        if node is None:
            break
        line = node.start_mark.line + 1
    return line


def load_rules_file(path: Path | str, model: type[M]) -> M:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RulesFileError(f"{path}: cannot read rules file ({exc.strerror})") from None
    try:
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "?"
        raise RulesFileError(f"{path}:{where}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        problems = []
        for err in exc.errors(include_url=False):
            loc = [p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-"))]
            line = _line_of(node, loc)
            where = ".".join(str(p) for p in loc) or "(top level)"
            problems.append(f"{path}:{line or '?'}: {where}: {err['msg']}")
        raise RulesFileError("invalid rules file\n  " + "\n  ".join(problems)) from None


# -- conditions -> durable-rules JSON --------------------------------------------------------------
def compile_condition(cond: Mapping[str, Any]) -> dict[str, Any]:
    """Compile the YAML condition language (module docstring) to a durable-rules expression."""
    terms: list[dict[str, Any]] = []
    for field, spec in cond.items():
        if field == "any":
            terms.append({"$or": [compile_condition(c) for c in spec]})
        elif field == "all":
            terms.append({"$and": [compile_condition(c) for c in spec]})
        elif isinstance(spec, list):
            terms.append({"$or": [{field: _literal(v)} for v in spec]})
        elif isinstance(spec, Mapping):
            for op, value in spec.items():
                if op not in _OPS:
                    raise ValueError(f"unknown operator {op!r} for {field!r}; use {', '.join(_OPS)}")
                terms.append({field: _literal(value)} if _OPS[op] is None else {_OPS[op]: {field: _literal(value)}})
        else:
            terms.append({field: _literal(spec)})
    if not terms:
        raise ValueError("a condition needs at least one term")
    return terms[0] if len(terms) == 1 else {"$and": terms}


def _literal(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("rule conditions take integers (amounts in öre), not decimals")
    return value


def require_unique(items: Sequence[Any], key: Any, what: str) -> Sequence[Any]:
    """Pydantic-friendly validator body: raise naming the repeated keys (rule ids, codes...)."""
    keys = [key(item) for item in items]
    repeated = sorted({k for k in keys if keys.count(k) > 1})
    if repeated:
        raise ValueError(f"{what} must be unique: {', '.join(map(str, repeated))}")
    return items


def check_condition(cond: Any) -> Any:
    """Pydantic-friendly validator: raises ValueError if a condition does not compile."""
    if not isinstance(cond, Mapping):
        raise ValueError("a condition is a mapping of field to value")
    compile_condition(cond)
    return cond


class DurableRules:
    """The process's durable-rules host, behind `RuleEvaluator`."""

    def __init__(self, cache_size: int = 65_536) -> None:
        from durable.engine import Host

        self._host = Host()
        self._names: dict[str, str] = {}
        self._order: dict[str, list[str]] = {}
        self._fired: list[str] = []
        self._cache: dict[tuple[str, tuple[tuple[str, Hashable], ...]], tuple[str, ...]] = {}
        self._cache_size = cache_size
        self._fact_ids = itertools.count(1)

    def add_ruleset(self, name: str, rules: Sequence[tuple[str, Mapping[str, Any]]]) -> None:
        """Compile `(rule_id, condition)` pairs into a ruleset called `name` (for this host)."""
        if name in self._names:
            raise ValueError(f"ruleset {name!r} is already defined")
        if not rules:
            raise ValueError(f"ruleset {name!r} has no rules")
        engine_name = f"pn{next(_names)}:{name}"
        definition = {}
        for i, (rule_id, condition) in enumerate(rules):
            definition[f"r{i}"] = {"all": [{"m": compile_condition(condition)}], "run": self._action(rule_id)}
        self._host.set_rulesets({engine_name: definition})
        self._names[name] = engine_name
        self._order[name] = [rule_id for rule_id, _ in rules]

    def _action(self, rule_id: str) -> Any:
        fired = self._fired

        def run(_c: Any) -> None:
            fired.append(rule_id)

        return run

    def matching(self, ruleset: str, facts: Mapping[str, Hashable]) -> tuple[str, ...]:
        """Rule ids whose condition holds for `facts`, in the order they were defined."""
        key = (ruleset, tuple(sorted(facts.items())))
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        engine_name = self._names[ruleset]
        fact = {**facts, "id": f"f{next(self._fact_ids)}"}
        self._fired.clear()
        try:
            self._host.assert_fact(engine_name, fact)
        except Exception as exc:  # durable raises when no rule matched
            if type(exc).__name__ != "MessageNotHandledException":
                raise
        try:  # facts must not pile up in the engine
            self._host.retract_fact(engine_name, fact)
        except Exception as exc:
            if type(exc).__name__ != "MessageNotHandledException":
                raise
        order = self._order[ruleset]
        result = tuple(sorted(set(self._fired), key=order.index))
        self._fired.clear()
        if len(self._cache) >= self._cache_size:
            self._cache.clear()
        self._cache[key] = result
        return result
