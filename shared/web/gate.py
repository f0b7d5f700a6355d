"""HTTP views for every service: one place for authentication, roles, body limits and audit.

A service registers a view with `runtime.route(method, path, handler, role=..., audit=...)`.
The handler is `async def handler(req: WebRequest) -> WebResponse | dict | list` and never sees an
unauthenticated request: no or a bad token → 401 with WWW-Authenticate (also for a method the
path does not have: the token check comes first), a valid token with another role → 403, a body
over its limit → 413 (counted as it arrives, chunked or not), a body that is not UTF-8 → 415,
JSON that is too deep or has too long strings → 422. `/health`, `/metrics` and `/openapi.json`
are the only open views. Every error answer is `application/problem+json` (RFC 9457) with the
extension member `error` (a short code) beside `type`, `title`, `status` and `detail`.

An audited view (`audit="case"`) names the ids it read with `req.audit(case_id=...)` once it has
found the record: only those reach `pn.audit.reads`, never a caller's raw query parameters.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from shared.service.logging import get_logger
from shared.web.auth import Caller, TokenRegistry

MAX_BODY_BYTES = 1_048_576
MAX_JSON_DEPTH = 32
MAX_STRING_CHARS = 100_000
MAX_TOKEN_CHARS = 200
BODY_TIMEOUT_S = 30.0
PROBLEM_JSON = "application/problem+json"
BODY_METHODS = ("POST", "PUT", "PATCH")


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


def problem(status: int, error: str, detail: str | None = None, *, errors: list[dict[str, Any]] | None = None,
            headers: dict[str, str] | None = None) -> WebResponse:
    """An RFC 9457 problem: `type` about:blank (the status says it all), `title` the status's
    phrase, `detail` for a human, `error` a short code clients branch on, `errors` per field."""
    body: dict[str, Any] = {"type": "about:blank", "title": _phrase(status), "status": status, "error": error}
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    return WebResponse(status, body, content_type=PROBLEM_JSON, headers=dict(headers or {}))


def as_problem(resp: WebResponse) -> WebResponse:
    """A view's error answer in problem form (views may return `WebResponse(404, {"error": ...})`)."""
    if resp.status < 400 or resp.content is not None or resp.content_type == PROBLEM_JSON:
        return resp
    body = resp.body if isinstance(resp.body, dict) else {}
    return problem(resp.status, str(body.get("error") or _phrase(resp.status).lower().replace(" ", "_")),
                   body.get("detail"), errors=body.get("errors"), headers=resp.headers)


def _phrase(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


@dataclass
class WebRequest:
    method: str
    path: str
    params: Mapping[str, str]
    query: Mapping[str, str]
    caller: Caller
    body: bytes = b""
    audited: dict[str, str] = field(default_factory=dict)

    def audit(self, **ids: str) -> None:
        """Name the ids of the records this read found; only these reach the audit topic."""
        self.audited.update({k: str(v) for k, v in ids.items()})

    def json(self) -> Any:
        """The body as JSON, bounded in depth and string length (hostile bodies cost little).
        UTF-8 only (RFC 8259 §8.1): json.loads would guess UTF-16 or -32 from the bytes."""
        if not self.body:
            raise BadRequest(422, "a JSON body is required")
        try:
            text = self.body.decode("utf-8")
        except UnicodeDecodeError:
            raise BadRequest(415, "the body must be UTF-8 encoded JSON") from None
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            raise BadRequest(422, "the body is not valid JSON") from None
        check_json_limits(value)
        return value


def year_param(value: str | None) -> int:
    """A four-digit year from a path or query parameter, else 422 (views of every service)."""
    if value is None or len(value) != 4 or not value.isdigit() or not value.isascii():
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


class BodyTooLarge(Exception):
    pass


async def read_body(content: Any, limit: int = MAX_BODY_BYTES, timeout_s: float = BODY_TIMEOUT_S) -> bytes:
    """The whole body, however it arrives (in parts, chunked), up to `limit` bytes.

    aiohttp's `content.read(n)` returns what has arrived so far, not n bytes: read until the end
    of the body, counting, and stop at the first byte over the limit (BodyTooLarge). A body that
    does not finish within `timeout_s` raises TimeoutError (a slow sender holds no task for long)."""
    chunks: list[bytes] = []
    size = 0
    async with asyncio.timeout(timeout_s):
        while True:
            chunk = await content.read(limit + 1 - size)
            if not chunk:
                return b"".join(chunks)
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            chunks.append(chunk)


def _unauthorized(service: str) -> WebResponse:
    return problem(401, "unauthorized", "a valid bearer token is required",
                   headers={"WWW-Authenticate": f'Bearer realm="pn-{service}"'})


def _too_large() -> WebResponse:
    return problem(413, "too_large", f"body over {MAX_BODY_BYTES} bytes")


class WebGate:
    """Authenticates, authorises and bounds every request before a view's handler runs."""

    def __init__(self, service: str, tokens: TokenRegistry, audit: AuditHook | None = None) -> None:
        self.service = service
        self.tokens = tokens
        self.audit = audit
        self.log = get_logger(service=service)
        if not tokens:
            self.log.warning("no_api_tokens", detail="no API tokens configured (PN_TOKENS_FILE / PN_TOKENS): "
                             "every view except /health, /metrics and /openapi.json answers 401")

    def authenticate(self, headers: Mapping[str, str]) -> Caller | None:
        """The caller of a `Bearer` token, else None. A token is printable ASCII of bounded
        length: anything else (non-UTF-8 bytes aiohttp kept as surrogates, controls) is no token."""
        value = headers.get("Authorization") or headers.get("authorization") or ""
        scheme, _, token = value.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_CHARS:
            return None
        if not (token.isascii() and token.isprintable()):
            return None
        return self.tokens.identify(token)

    def unauthenticated(self, request: Any) -> WebResponse | None:
        """401 for a request without a valid token, whatever its method or path (no 405 or 404
        tells a caller without a token which paths and methods exist)."""
        return _unauthorized(self.service) if self.authenticate(request.headers) is None else None

    async def handle(self, request: Any, handler: Handler, *, role: str | tuple[str, ...],
                     audit_view: str | None, params: Mapping[str, str], template: str | None = None) -> WebResponse:
        roles = (role,) if isinstance(role, str) else role
        caller = self.authenticate(request.headers)
        if caller is None:
            return _unauthorized(self.service)
        if caller.role not in roles:
            return problem(403, "forbidden", f"role {caller.role} may not use this view")
        body = b""
        if request.method in BODY_METHODS:
            refused = _refused_content_type(request.headers.get("Content-Type", ""))
            if refused is not None:
                return refused
            if (request.content_length or 0) > MAX_BODY_BYTES:
                return _too_large()
            try:
                body = await read_body(request.content)
            except BodyTooLarge:
                return _too_large()
            except TimeoutError:
                return problem(408, "timeout", f"the body did not arrive within {BODY_TIMEOUT_S:.0f} s")
            except Exception:  # a broken chunked encoding, a connection cut mid-body
                return problem(400, "bad_body", "the body could not be read")
        req = WebRequest(request.method, request.path, dict(params), dict(request.query), caller, body)
        try:
            result = await handler(req)
        except BadRequest as exc:
            return problem(exc.status, "invalid", exc.message, errors=exc.errors)
        if audit_view is not None and self.audit is not None and (
                not isinstance(result, WebResponse) or (result.status < 400 and not result.audited)):
            try:
                await self.audit(caller, f"{audit_view} {request.method} {audit_path(template or '', req.audited)}",
                                 dict(req.audited))
            except Exception as exc:  # fail closed: no read of case data without its audit event
                self.log.error("audit_failed", view=audit_view, error=type(exc).__name__)
                return problem(503, "unavailable", "the read could not be audited; retry")
        return as_problem(result) if isinstance(result, WebResponse) else WebResponse(200, result)


def _refused_content_type(value: str) -> WebResponse | None:
    """415 for a body declared in another charset than UTF-8 (the views take UTF-8 JSON)."""
    for part in value.split(";")[1:]:
        name, _, charset = part.strip().partition("=")
        if name.strip().lower() == "charset" and charset.strip().strip('"').lower() not in ("utf-8", "utf8"):
            return problem(415, "unsupported_media_type", "bodies are UTF-8 (JSON)")
    return None


def audit_path(template: str, audited: Mapping[str, str]) -> str:
    """The route for the audit event's `view`: its `{name}` parts filled with the validated ids
    the view named (`/cases/{case_id}` → `/cases/PN-2023-00001`), left as `{name}` otherwise."""
    for name, value in audited.items():
        template = template.replace("{" + name + "}", value)
    return template[:200]
