"""Upcasters: an event written under an older `schemaversion` read as today's model.

The policy (docs/schema-evolution.md): a compatible change (a new optional field, a relaxed
constraint) keeps the version; a change an older reader would misread (a renamed field, a new
required field, a changed unit or meaning) bumps the model's `schema_version` and registers one
upcaster per step, `vN → vN+1`, a pure function of the payload dict; a change no function can
bridge is a new event type. Producers always write today's version. The log is never rewritten:
the record keeps what was sent, and every reader brings it up to date on the way in.

Only topics that carry a type with upcasters pay for them: their decoder parses the JSON once to
read `schemaversion`, upcasts when it is old, then validates the dict (`validate_python`); every
other topic keeps the one-pass `validate_json`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

import orjson

Payload = dict[str, Any]
Upcaster = Callable[[Payload], Payload]

UPCASTERS: dict[str, dict[int, Upcaster]] = {}
"""event type → {from_version: the function taking a payload of that version to the next}."""


def upcaster(event_type: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
    """Register `fn` as the step `from_version → from_version + 1` of `event_type`."""

    def register(fn: Upcaster) -> Upcaster:
        steps = UPCASTERS.setdefault(event_type, {})
        if from_version in steps:
            raise ValueError(f"{event_type} has an upcaster from v{from_version} already")
        steps[from_version] = fn
        return fn

    return register


def upcasters_for(data_classes: Sequence[type]) -> dict[str, tuple[int, Mapping[int, Upcaster]]]:
    """For the types among these that have upcasters: (today's version, their steps). A missing
    step is an error at start-up, not when the first old record arrives."""
    chains = {}
    for cls in data_classes:
        steps = UPCASTERS.get(cls.event_type)
        if not steps:
            continue
        missing = [v for v in range(1, cls.schema_version) if v not in steps]
        if missing:
            raise ValueError(f"{cls.event_type} v{cls.schema_version} has no upcaster from v{missing[0]}")
        chains[cls.event_type] = (cls.schema_version, steps)
    return chains


def upcast(event: Payload, chains: Mapping[str, tuple[int, Mapping[int, Upcaster]]]) -> Payload:
    """The envelope dict with its `data` brought to today's version of its type (unchanged when
    it is current, newer — refused by validation — or of a type without upcasters)."""
    chain = chains.get(event.get("type")) if isinstance(event, dict) else None
    if chain is None:
        return event
    current, steps = chain
    version = event.get("schemaversion", 1)
    if not isinstance(version, int) or not 1 <= version < current or not isinstance(event.get("data"), dict):
        return event
    data = event["data"]
    while version < current:
        data = steps[version](dict(data))
        version += 1
    return {**event, "schemaversion": current, "data": data}


class UpcastingDecoder:
    """A TypeAdapter's `validate_json` that upcasts old versions first (see the module doc)."""

    __slots__ = ("_adapter", "_chains")

    def __init__(self, adapter: Any, chains: Mapping[str, tuple[int, Mapping[int, Upcaster]]]) -> None:
        self._adapter, self._chains = adapter, chains

    def validate_json(self, raw: bytes | str) -> Any:
        try:
            parsed = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return self._adapter.validate_json(raw)  # the adapter's own "not JSON" error
        return self._adapter.validate_python(upcast(parsed, self._chains))

    def validate_python(self, value: Any) -> Any:
        return self._adapter.validate_python(upcast(value, self._chains))
