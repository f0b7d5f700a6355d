"""CloudEvents 1.0 envelope (structured JSON mode) and the event-type registry.

(A binary-mode record is turned into this structured form first: shared/contract/events/binary_mode.py.)

Every payload model subclasses `EventData` and names its `event_type`; `Envelope[Data]` wraps it.
Decoding goes through one pydantic `TypeAdapter` per topic (a union discriminated by `type`), so
a message is parsed and validated in a single pass in Rust, and a failure names the field.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Literal, TypeVar, Union  # noqa: UP035

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, create_model

if TYPE_CHECKING:
    from shared.contract.events.upcast import UpcastingDecoder

CONTENT_TYPE = "application/cloudevents+json"
CONTENT_TYPE_HEADER = ("content-type", CONTENT_TYPE.encode())
ID_NAMESPACE = uuid.UUID("6f1c1b1e-3a0d-5b9e-9c55-70a7e1d3c0de")
_NS_BYTES = ID_NAMESPACE.bytes
_sha1 = hashlib.sha1
_VARIANT = {d: "89ab"[int(d, 16) & 0x3] for d in "0123456789abcdef"}

EVENT_TYPES: dict[str, type[EventData]] = {}


class EventData(BaseModel):
    """Base of every payload. Unknown fields are ignored (forward compatibility)."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_max_length=20_000)
    event_type: ClassVar[str] = ""
    schema_version: ClassVar[int] = 1
    """The envelope's `schemaversion` this model reads and writes; older versions are upcast on
    decoding (shared/contract/events/upcast.py, docs/schema-evolution.md)."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        declared = cls.__dict__.get("event_type")
        if declared:
            if declared in EVENT_TYPES:
                raise TypeError(f"event type {declared} is declared twice")
            EVENT_TYPES[declared] = cls


class Part(BaseModel):
    """Base of nested value objects inside payloads."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_max_length=20_000)


D = TypeVar("D", bound=EventData)


class Envelope(BaseModel, Generic[D]):
    model_config = ConfigDict(frozen=True, extra="ignore")

    specversion: Literal["1.0"] = "1.0"
    id: Annotated[str, Field(min_length=1, max_length=200)]
    source: Annotated[str, Field(min_length=1, max_length=500)]
    type: str
    time: AwareDatetime
    datacontenttype: str | None = "application/json"
    subject: Annotated[str | None, Field(max_length=200)] = None
    schemaversion: int = 1
    data: D


@cache
def envelope_model(data_cls: type[EventData]) -> type[Envelope]:
    """The concrete envelope for one payload type, with `type` pinned to its literal."""
    return create_model(  # type: ignore[call-overload]
        f"{data_cls.__name__}Event",
        __base__=Envelope[data_cls],  # type: ignore[valid-type]
        type=(Literal[data_cls.event_type], ...),  # type: ignore[valid-type]
        # a version newer than this code reads is refused (dead letter), never guessed at
        schemaversion=(Annotated[int, Field(ge=1, le=data_cls.schema_version)], data_cls.schema_version),
    )


@cache
def decoder_for(data_classes: tuple[type[EventData], ...]) -> TypeAdapter | UpcastingDecoder:
    """A one-pass JSON decoder accepting exactly these event types (older schema versions of a
    type with upcasters are brought to today's version first: shared/contract/events/upcast.py)."""
    models = tuple(envelope_model(c) for c in data_classes)
    if len(models) == 1:
        adapter = TypeAdapter(models[0])
    else:
        union = Union[models]  # noqa: UP007 - a runtime tuple of models
        adapter = TypeAdapter(Annotated[union, Field(discriminator="type")])
    from shared.contract.events.upcast import UpcastingDecoder, upcasters_for

    chains = upcasters_for(data_classes)
    return UpcastingDecoder(adapter, chains) if chains else adapter


def derive_id(*parts: object) -> str:
    """A deterministic event id from its cause, so a re-run emits the same id (idempotency)."""
    # = str(uuid.uuid5(ID_NAMESPACE, name)), without building a UUID object (~3x faster; the
    # outputs are identical, tests/unit/shared/test_derive_id.py compares them)
    # (str(p) of an exact str is p itself: skipped, the ids are the same)
    h = _sha1(_NS_BYTES + "\x1f".join([p if type(p) is str else str(p) for p in parts]).encode()).hexdigest()
    # version 5 in the 13th hex digit; the RFC 4122 variant (10xx) in the 17th
    return f"{h[:8]}-{h[8:12]}-5{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:32]}"


def make_event(
    data: EventData,
    *,
    source: str,
    time: datetime,
    id: str | None = None,
    subject: str | None = None,
) -> Envelope:
    """Wrap a payload in its envelope. Output ids should come from `derive_id`."""
    return envelope_model(type(data))(
        id=id or str(uuid.uuid4()),
        source=source,
        type=data.event_type,
        time=time,
        subject=subject,
        data=data,
    )


_ENVELOPE_FIELDS_SET = frozenset({"id", "source", "type", "time", "subject", "data"})
"""The fields `make_event` passes to the model: what pydantic records as set."""


def emitted_event(data: EventData, *, source: str, time: datetime, id: str, subject: str | None = None) -> Envelope:
    """`make_event` for a service's own outputs, built without re-validating what is valid by
    construction (~1 µs an output): `data` is a payload model instance, `id` comes from
    `derive_id`, `source` is the service's. What a handler passes is still checked: an aware
    `time` and the subject's bound. tests/unit/shared/test_trusted.py compares it with make_event."""
    if time.tzinfo is None or time.tzinfo.utcoffset(time) is None:
        raise ValueError("an event's time must be timezone-aware")
    if subject is not None and len(subject) > 200:
        raise ValueError("an event's subject is at most 200 characters")
    return trusted(envelope_model(type(data)), {
        "specversion": "1.0", "id": id, "source": source, "type": data.event_type, "time": time,
        "datacontenttype": "application/json", "subject": subject, "schemaversion": data.schema_version, "data": data,
    }, _ENVELOPE_FIELDS_SET)


M = TypeVar("M", bound=BaseModel)
_set = object.__setattr__


def trusted(cls: type[M], values: dict[str, Any], fields_set: frozenset[str] | None = None) -> M:
    """`cls.model_construct(**values)` for values that are already valid and name every field (in
    declaration order), without its per-field walk for aliases and defaults (~2 µs a model).
    tests/unit/shared/test_trusted.py checks it equals model_construct for the models built so."""
    if len(values) != len(cls.__pydantic_fields__):  # a field added to the model: the general path
        model = cls.model_construct(**values)
        if fields_set is not None:
            _set(model, "__pydantic_fields_set__", set(fields_set))
        return model
    model = cls.__new__(cls)
    _set(model, "__dict__", values)
    _set(model, "__pydantic_fields_set__", set(values if fields_set is None else fields_set))
    _set(model, "__pydantic_extra__", None)
    _set(model, "__pydantic_private__", None)
    return model


def encode(event: Envelope) -> bytes:
    """The envelope as JSON bytes (the serializer's own bytes: no str in between)."""
    return event.__pydantic_serializer__.to_json(event, exclude_none=True)


def decode(raw: bytes | str, *data_classes: type[EventData]) -> Envelope:
    """Parse and validate; raises pydantic.ValidationError naming the failing field."""
    return decoder_for(tuple(data_classes or EVENT_TYPES.values())).validate_json(raw)
