"""HTTP views for every service: one place for authentication, roles, body limits and audit.

A service registers a view with `runtime.route(method, path, handler, role=..., audit=...)`.
The handler is `async def handler(req: WebRequest) -> WebResponse | dict | list` and never sees an
unauthenticated request: no or a bad token → 401 with WWW-Authenticate, a valid token with
another role → 403, a body over its limit → 413, JSON that is too deep or has too long strings →
422. `/health` and `/metrics` are the only open views.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.service.logging import get_logger
from shared.web.auth import Caller, TokenRegistry

MAX_BODY_BYTES = 1_048_576
MAX_JSON_DEPTH = 32
MAX_STRING_CHARS = 100_000


class BadRequest(Exception):
    def __init__(self, status: int, message: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.errors = status, message, errors or []


@dataclass
class WebResponse:
    status: int = 200
    body: Any = None
    content: bytes | None = None
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    audited: bool = False
    """Served by another worker of the service, which audited the read (shared/runtime/views.py):
    set by the runtime only, never from a request."""


@dataclass
class WebRequest:
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    caller: Caller
    body: bytes = b""

    def json(self) -> Any:
        """The body as JSON, bounded in depth and string length (hostile bodies cost little)."""
        if not self.body:
            raise BadRequest(422, "a JSON body is required")
        try:
            value = json.loads(self.body)
        except (ValueError, RecursionError):
            raise BadRequest(422, "the body is not valid JSON") from None
        check_json_limits(value)
        return value


def year_param(value: str | None) -> int:
    """A four-digit year from a path or query parameter, else 422 (views of every service)."""
    if value is None or len(value) != 4 or not value.isdigit():
        raise BadRequest(422, "the year must be four digits, e.g. 2023")
    return int(value)


def check_json_limits(value: Any, depth: int = 0) -> None:
    if depth > MAX_JSON_DEPTH:
        raise BadRequest(422, f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
    if isinstance(value, str):
        if len(value) > MAX_STRING_CHARS:
            raise BadRequest(422, f"a JSON string is longer than {MAX_STRING_CHARS} characters")
    elif isinstance(value, dict):
        for k, v in value.items():
            check_json_limits(k, depth + 1)
            check_json_limits(v, depth + 1)
    elif isinstance(value, list):
        for v in value:
            check_json_limits(v, depth + 1)


Handler = Callable[[WebRequest], Awaitable[Any]]
AuditHook = Callable[[Caller, str, Mapping[str, str]], Awaitable[None]]


class WebGate:
    """Authenticates, authorises and bounds every request before a view's handler runs."""

    def __init__(self, service: str, tokens: TokenRegistry, audit: AuditHook | None = None) -> None:
        self.service = service
        self.tokens = tokens
        self.audit = audit
        self.log = get_logger(service=service)
        if not tokens:
            self.log.warning("no_api_tokens", detail="no API tokens configured (PN_TOKENS_FILE / PN_TOKENS): "
                             "every view except /health and /metrics answers 401")

    def authenticate(self, headers: Mapping[str, str]) -> Caller | None:
        value = headers.get("Authorization") or headers.get("authorization") or ""
        scheme, _, token = value.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return None
        return self.tokens.identify(token.strip())

    async def handle(self, request: Any, handler: Handler, *, role: str | tuple[str, ...],
                     audit_view: str | None, params: Mapping[str, str]) -> WebResponse:
        roles = (role,) if isinstance(role, str) else role
        caller = self.authenticate(request.headers)
        if caller is None:
            return WebResponse(401, {"error": "unauthorized", "detail": "a valid bearer token is required"},
                               headers={"WWW-Authenticate": f'Bearer realm="pn-{self.service}"'})
        if caller.role not in roles:
            return WebResponse(403, {"error": "forbidden", "detail": f"role {caller.role} may not use this view"})
        body = b""
        if request.method in ("POST", "PUT", "PATCH"):
            if (request.content_length or 0) > MAX_BODY_BYTES:
                return WebResponse(413, {"error": "too_large", "detail": f"body over {MAX_BODY_BYTES} bytes"})
            try:
                body = await request.content.read(MAX_BODY_BYTES + 1)
            except Exception:
                return WebResponse(413, {"error": "too_large", "detail": f"body over {MAX_BODY_BYTES} bytes"})
            if len(body) > MAX_BODY_BYTES:
                return WebResponse(413, {"error": "too_large", "detail": f"body over {MAX_BODY_BYTES} bytes"})
        req = WebRequest(request.method, request.path, dict(params), dict(request.query), caller, body)
        try:
            result = await handler(req)
        except BadRequest as exc:
            return WebResponse(exc.status, {"error": "invalid", "detail": exc.message, "errors": exc.errors})
        if audit_view is not None and self.audit is not None and (
                not isinstance(result, WebResponse) or (result.status < 400 and not result.audited)):
            try:
                await self.audit(caller, f"{audit_view} {request.method} {request.path}", audit_ids(params, req.query))
            except Exception as exc:  # fail closed: no read of case data without its audit event
                self.log.error("audit_failed", view=audit_view, error=type(exc).__name__)
                return WebResponse(503, {"error": "unavailable", "detail": "the read could not be audited; retry"})
        return result if isinstance(result, WebResponse) else WebResponse(200, result)


def audit_ids(params: Mapping[str, str], query: Mapping[str, str]) -> dict[str, str]:
    """The ids a read names: its path parameters plus query parameters named `id`/`*_id`."""
    ids = {str(k): str(v) for k, v in params.items()}
    for k, v in query.items():
        if (k == "id" or k.endswith("_id")) and k not in ids:
            ids[k] = str(v)
    return ids
