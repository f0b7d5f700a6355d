"""The OpenAPI 3.1 document of a service's HTTP views, generated from its routes (issue 26).

Every view is registered with `runtime.route(..., doc=ViewDoc(...))`; this module turns the
routes of one ServiceRuntime into the document each service serves at `/openapi.json` and that
`pn schema --out docs/contract` writes to `docs/contract/openapi/<service>.json`. What the gate
adds to every view (bearer token, 401/403, 413/415 for bodies, 503 for audited reads, RFC 9457
problem bodies) is added here once, from the same facts the gate acts on, so the document cannot
promise a view the gate does not keep.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from shared.web.gate import BODY_METHODS, MAX_BODY_BYTES, PROBLEM_JSON

OPENAPI_VERSION = "3.1.0"

YEAR = {"type": "string", "pattern": "^[0-9]{4}$", "examples": ["2023"]}
"""A four-digit year as views take it (shared.web.year_param)."""

PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "description": "RFC 9457 problem details; `error` is a short code to branch on",
    "required": ["type", "title", "status", "error"],
    "properties": {
        "type": {"type": "string", "const": "about:blank"},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "error": {"type": "string"},
        "detail": {"type": "string"},
        "errors": {"type": "array", "items": {"type": "object", "properties": {
            "loc": {"type": "array", "items": {"type": ["string", "integer"]}}, "msg": {"type": "string"}}}},
    },
}


@dataclass(frozen=True)
class ViewDoc:
    """What a view's OpenAPI operation says beyond what the gate adds.

    `path` and `query`: parameter name → JSON Schema (path parameters default to a string);
    `required`: the required query parameters; `body`: the request body's JSON Schema (or a
    pydantic model); `content`: the success response's media types → schema; `responses`: other
    statuses the view itself answers → description."""

    summary: str
    description: str = ""
    path: Mapping[str, Any] = field(default_factory=dict)
    query: Mapping[str, Any] = field(default_factory=dict)
    required: tuple[str, ...] = ()
    body: Any = None
    ok: int = 200
    content: Mapping[str, Any] = field(default_factory=lambda: {"application/json": {}})
    responses: Mapping[int, str] = field(default_factory=dict)


def _schema_of(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if hasattr(value, "model_json_schema"):
        return value.model_json_schema(mode="validation", ref_template="#/components/schemas/{model}")
    return dict(value)


def _problem(description: str) -> dict[str, Any]:
    return {"description": description,
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}


def _operation(service: str, method: str, path: str, role: Any, audit: str | None, doc: ViewDoc | None,
               handler: Any, components: dict[str, Any]) -> dict[str, Any]:
    doc = doc or ViewDoc(summary=(handler.__doc__ or handler.__name__).strip().splitlines()[0])
    roles = [role] if isinstance(role, str) else list(role)
    params = []
    for name in re.findall(r"{(\w+)}", path):
        params.append({"name": name, "in": "path", "required": True,
                       "schema": _schema_of(doc.path.get(name)) or {"type": "string"}})
    for name, schema in doc.query.items():
        params.append({"name": name, "in": "query", "required": name in doc.required, "schema": _schema_of(schema)})
    op: dict[str, Any] = {
        "operationId": f"{service}_{method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', path).strip('_') or 'root'}",
        "summary": doc.summary,
        "description": (doc.description + "\n\n" if doc.description else "") + f"Role: {', '.join(roles)}."
                       + (" Each successful read publishes one audit event on pn.audit.reads." if audit else ""),
        "security": [{"bearer": []}],
        "x-pn-roles": roles,
        "parameters": params,
    }
    responses: dict[str, Any] = {str(doc.ok): {"description": "success", "content": {
        ctype: {"schema": _schema_of(schema)} for ctype, schema in doc.content.items()}}}
    if method in BODY_METHODS:
        body = _schema_of(doc.body)
        defs = body.pop("$defs", {})
        components.update(defs)
        op["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
        responses["413"] = _problem(f"the body is over {MAX_BODY_BYTES} bytes")
        responses["415"] = _problem("the body is not UTF-8")
        responses["408"] = _problem("the body did not arrive in time")
        responses["400"] = _problem("the body could not be read")
    responses["401"] = {**_problem("no valid bearer token"), "headers": {
        "WWW-Authenticate": {"schema": {"type": "string"}}}}
    responses["403"] = _problem("the token's role may not use this view")
    if params or method in BODY_METHODS:
        responses["422"] = _problem("a parameter or the body is not valid")
    for status, description in doc.responses.items():
        responses[str(status)] = _problem(description)
    if audit:
        responses["503"] = _problem("the read could not be audited (the data is not returned)")
    op["responses"] = dict(sorted(responses.items()))
    return op


def _open(op_id: str, summary: str, ctype: str, schema: dict[str, Any], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"get": {"summary": summary, "security": [], "operationId": op_id,
                    "responses": {"200": {"description": "success", "content": {ctype: {"schema": schema}}},
                                  **(extra or {})}}}


def openapi_document(runtime: Any) -> dict[str, Any]:
    """The OpenAPI 3.1 document of one ServiceRuntime's views (pure: no broker, no network)."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        release = version("patientnamnd")
    except PackageNotFoundError:  # pragma: no cover - run from a source tree without install
        release = "0"
    components: dict[str, Any] = {"Problem": PROBLEM_SCHEMA}
    paths: dict[str, dict[str, Any]] = {
        "/health": _open("health", "Health: ready or recovering", "application/json",
                         {"type": "object", "properties": {"service": {"type": "string"},
                                                           "status": {"enum": ["ready", "recovering"]}}},
                         {"503": {"description": "recovering", "content": {"application/json": {"schema": {}}}}}),
        "/metrics": _open("metrics", "Metrics in the Prometheus text format", "text/plain", {"type": "string"}),
        "/openapi.json": _open("openapi", "This OpenAPI document", "application/json", {"type": "object"}),
    }
    for (method, path), (handler, role, audit, doc) in sorted(runtime.docs.items(), key=lambda kv: (kv[0][1], kv[0][0])):
        paths.setdefault(path, {})[method.lower()] = _operation(runtime.service, method, path, role, audit, doc,
                                                                handler, components)
    return {
        "openapi": OPENAPI_VERSION,
        "info": {"title": f"patientnamnd {runtime.service}", "version": release,
                 "description": f"HTTP views of the {runtime.service} service (generated from its routes by "
                                "shared/web/openapi.py; docs/security.md says who may call what)."},
        "paths": paths,
        "components": {"schemas": dict(sorted(components.items())),
                       "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                                      "description": "a token from `pn token create`"}}},
    }
