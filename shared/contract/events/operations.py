"""Cross-cutting events: period-close commands, alerts, dead letters."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field

from shared.contract.events.envelope import EventData, Part
from shared.contract.events.types import Period, Severity


class PeriodCloseRequested(EventData):
    event_type = "pn.period.close_requested"

    service: Literal["fees", "billing"]
    period: Period


class AlertMessage(Part):
    sv: Annotated[str, Field(max_length=1000)]
    en: Annotated[str, Field(max_length=1000)]


class AlertRaised(EventData):
    event_type = "pn.alert.raised"

    alert_id: Annotated[str, Field(max_length=200)]
    rule_id: Annotated[str, Field(max_length=100)]
    severity: Severity
    subject: Annotated[str, Field(max_length=200)]
    message: AlertMessage
    facts: dict[str, Any] = {}
    raised_at: datetime


class AlertResolved(EventData):
    event_type = "pn.alert.resolved"

    alert_id: Annotated[str, Field(max_length=200)]
    rule_id: Annotated[str, Field(max_length=100)]
    severity: Severity
    subject: Annotated[str, Field(max_length=200)]
    message: AlertMessage
    facts: dict[str, Any] = {}
    raised_at: datetime
    resolved_at: datetime | None = None


class ErrorDetail(Part):
    loc: list[str | int] = []
    msg: str


class EventRejected(EventData):
    event_type = "pn.event.rejected"
    # `raw` carries the original value (base64 when binary), whole up to 512 KiB; a larger value
    # is cut to its first 512 KiB (`raw_truncated`), and `raw_sha256`/`raw_size` always describe
    # the whole original, so a dead letter can be built for any record (issue 22).
    model_config = ConfigDict(frozen=True, extra="ignore", str_max_length=1_500_000)

    source_topic: str
    partition: int
    offset: int
    service: str
    errors: list[ErrorDetail]
    raw: str
    raw_encoding: Literal["utf-8", "base64"] | None = None
    received_at: datetime
    # Additive: the replay trail (`pn deadletter replay`), when a dead letter is re-published.
    replay_of: str | None = None
    # Additive: a CloudEvents binary-mode record's `ce_*` and `content-type` headers (its `raw` is
    # then the data alone), so the dead letter holds the whole event.
    raw_headers: dict[str, str] | None = None
    # Additive (issue 22): the original value's size in bytes and sha256 (hex), and whether `raw`
    # holds only its beginning.
    raw_size: int | None = None
    raw_sha256: Annotated[str | None, Field(max_length=64)] = None
    raw_truncated: bool = False


class Tick(EventData):
    """Service-internal clock event: a service's timer publishes one to every partition of
    `pn.ticks`, so time-driven decisions (hold expiry, alert resolution) run as replayable events
    on the partition whose state they touch. Each service acts only on its own ticks."""

    event_type = "pn.tick"

    service: Annotated[str, Field(max_length=40)]
    at: datetime
