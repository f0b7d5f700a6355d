"""Audit trail of reads of case data through the API: one `pn.audit.case_read` event per read.

`runtime.route(..., audit="case")` makes the web gate call `hook(caller, view, params)` after a
successful read; the hook publishes who (token name and role), which view, which ids and when to
`pn.audit.reads` (key: the case id) and waits for the broker's ack. It never sees the response,
so no case content can reach the audit topic. If the event cannot be stored, the hook raises and
the gate answers 503 instead of returning the data (fail closed: no untraced read).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from shared.contract.events import CaseRead, encode, make_event
from shared.contract.events.envelope import CONTENT_TYPE_HEADER
from shared.contract.topics import AUDIT_READS
from shared.web.auth import Caller

MAX_IDS = 20
MAX_ID_CHARS = 200


def audit_event(service: str, caller: Caller, view: str, params: Mapping[str, str], at: Any) -> Any:
    """The envelope of one read (pure: tests build it without a broker)."""
    ids = {str(k)[:MAX_ID_CHARS]: str(v)[:MAX_ID_CHARS] for k, v in list(params.items())[:MAX_IDS]}
    case_id = ids.get("case_id")
    data = CaseRead(who=caller.name, role=caller.role, service=service, view=view[:MAX_ID_CHARS],
                    case_id=case_id, ids=ids, at=at)
    return make_event(data, source=f"/pn/{service}", time=at, id=str(uuid.uuid4()), subject=case_id)


def make_audit_hook(service: str, publisher: Any, clock: Any, log: Any, metrics: Any = None) -> Any:
    """The gate's audit hook: publishes through `publisher` (a `Publisher` port: the runtime
    gives its producer, tests a recording fake), stamped by `clock`; a failed publish counts in
    `metrics.audit_failures` (pn_audit_publish_failures_total) when given."""

    async def hook(caller: Caller, view: str, params: Mapping[str, str]) -> None:
        event = audit_event(service, caller, view, params, clock.now())
        key = (event.data.case_id or event.id).encode()
        try:
            await publisher.send(AUDIT_READS.name, key, encode(event), (CONTENT_TYPE_HEADER,))
        except Exception as exc:
            if metrics is not None:
                metrics.audit_failures.labels(service).inc()
            log.error("audit_publish_failed", view=view, case_id=event.data.case_id, error=type(exc).__name__)
            raise
        log.info("audit", who=caller.name, role=caller.role, view=view, case_id=event.data.case_id,
                 audit_event_id=event.id)

    return hook
