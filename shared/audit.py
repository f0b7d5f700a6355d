"""Audit trail of reads of case data through the API (issue 11 completes the topic and tests).

Until the audit topic exists in the catalog, reads are logged as structured `audit` lines with
who (token name and role), what (view and ids) and when — never case content.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .auth import Caller


def make_audit_hook(runtime: Any) -> Any:
    log = runtime.log

    async def hook(caller: Caller, view: str, params: Mapping[str, str]) -> None:
        log.info("audit", who=caller.name, role=caller.role, view=view, ids=dict(params))

    return hook
