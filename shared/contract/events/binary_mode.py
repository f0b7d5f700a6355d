"""CloudEvents binary content mode on Kafka, read into the structured form we validate.

The CloudEvents Kafka protocol binding has two modes. Structured (ours, EVENTS.md): the value is
the whole envelope as JSON, header `content-type: application/cloudevents+json`. Binary (the
default of the Java and Go SDKs and of many connectors): each attribute is a `ce_<name>` header,
the value is the data alone, and the `content-type` header is the event's `datacontenttype`.

A binary record is turned into the structured JSON bytes of the same event, which then go through
the same decoder (`decoder_for`) as a structured record: one validation, the same error locations
for the dead letter, the same `id` for idempotency. A record is binary, as the binding says, when
its `content-type` does not start with `application/cloudevents` and it has `ce_` headers; our
own records carry the structured content type as their first header, so the check stops there.

Only JSON data is accepted (`content-type` absent, `application/json` or a `+json` type); the
data must be one JSON value, checked before it is spliced into the envelope so that it cannot add
or override attributes.
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson
from pydantic_core import from_json

CE_PREFIX = "ce_"
_STRUCTURED = b"application/cloudevents"
ATTRIBUTES = frozenset({"specversion", "id", "source", "type", "time", "subject", "schemaversion"})
"""The envelope's attributes read from `ce_` headers (`datacontenttype` is `content-type`);
other extension attributes are ignored, as unknown fields of a structured envelope are."""
MAX_HEADERS = 50
MAX_HEADER_CHARS = 2_000


class NotCloudEvent(ValueError):
    """A binary-mode record that cannot be read as a CloudEvent with JSON data (message: why)."""


def is_binary(headers: Sequence[tuple[str, bytes | None]] | None) -> bool:
    """True for a record in binary content mode (see module docstring)."""
    if not headers:
        return False
    binary = False
    for key, value in headers:
        if key == "content-type" and value is not None and value[:23].lower() == _STRUCTURED:
            return False
        if key[:3].lower() == CE_PREFIX:
            binary = True
    return binary


def cloudevent_headers(headers: Sequence[tuple[str, bytes | None]]) -> dict[str, str]:
    """The `ce_*` and `content-type` headers as text, bounded: what a dead letter keeps."""
    kept: dict[str, str] = {}
    for key, value in headers:
        if len(kept) >= MAX_HEADERS:
            break
        name = key.lower()
        if name == "content-type" or name.startswith(CE_PREFIX):
            text = "" if value is None else value.decode("utf-8", "replace")
            kept.setdefault(key[:100], text[:MAX_HEADER_CHARS])
    return kept


def _json_media_type(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (media.startswith("application/") and media.endswith("+json"))


def to_structured(headers: Sequence[tuple[str, bytes | None]], value: bytes) -> bytes:
    """The structured JSON envelope of a binary-mode record; raises NotCloudEvent."""
    attributes: dict[str, object] = {}
    content_type: str | None = None
    for key, raw in headers:
        name = key.lower()
        if name != "content-type" and not name.startswith(CE_PREFIX):
            continue
        if raw is None:
            raise NotCloudEvent(f"header {key[:100]} has no value")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise NotCloudEvent(f"header {key[:100]} is not UTF-8") from None
        if name == "content-type":
            content_type = text
            continue
        attribute = name[len(CE_PREFIX):]
        if attribute not in ATTRIBUTES:
            continue
        if attribute in attributes:
            raise NotCloudEvent(f"header {key[:100]} appears twice")
        attributes[attribute] = int(text) if attribute == "schemaversion" and text.isdigit() else text
    if content_type is not None:
        if not _json_media_type(content_type):
            raise NotCloudEvent(f"binary mode data of content-type {content_type[:100]!r}: only JSON data "
                                "(application/json) is accepted")
        attributes["datacontenttype"] = content_type
    try:
        from_json(value)  # one JSON value, nothing after it: cannot break out of "data"
    except ValueError as exc:
        raise NotCloudEvent(f"binary mode data is not JSON: {str(exc)[:200]}") from None
    head = orjson.dumps(attributes)
    return (head[:-1] + b"," if attributes else b"{") + b'"data":' + value + b"}"
