"""HTTP views: `POST /complaints` (role submitter), `GET /cases/{case_id}` and
`GET /reports/{period}` (role officer; the report of shared/report, rebuilt from the topics).

A posted complaint is validated with the same model the consumer uses and published to
`pn.complaints.submitted`; the business checks (personnummer, attachments) happen in the stream,
so the HTTP path and the Kafka path decide alike. Errors name locations, never the input values.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from pydantic import ValidationError

from shared.contract.events import ComplaintSubmitted, encode, envelope_model, make_event
from shared.contract.events.envelope import CONTENT_TYPE_HEADER
from shared.contract.topics import COMPLAINTS_SUBMITTED
from shared.service.ports import Clock, Publisher
from shared.service.state import Store
from shared.web.gate import BadRequest, WebRequest, WebResponse, problem
from shared.web.openapi import ViewDoc

from . import keys
from .domain import for_officer

HTTP_SOURCE = "/pn/intake/http"
CASE_ID_SCHEMA = {"type": "string", "pattern": r"^[A-Za-z0-9][A-Za-z0-9._:/-]*$", "maxLength": 100}
ENVELOPE_FIELDS = ("specversion", "data")


def parse_complaint(body: Any, clock: Clock) -> Any:
    """A full CloudEvent, or just its `data` (then the envelope is made here with a new id)."""
    if not isinstance(body, dict):
        raise BadRequest(422, "the body must be a JSON object")
    try:
        if any(f in body for f in ENVELOPE_FIELDS):
            return envelope_model(ComplaintSubmitted).model_validate(body)
        data = ComplaintSubmitted.model_validate(body)
    except ValidationError as exc:
        errors = [{"loc": list(e["loc"]), "msg": e["msg"]} for e in exc.errors(include_url=False)]
        raise BadRequest(422, "the complaint is not valid", errors) from None
    return make_event(data, source=HTTP_SOURCE, time=clock.now(), id=str(uuid.uuid4()))


def register(runtime: Any, *, cases: Store, publisher: Publisher, clock: Clock) -> None:
    async def submit(req: WebRequest) -> WebResponse:
        event = parse_complaint(req.json(), clock)
        try:
            await publisher.send(COMPLAINTS_SUBMITTED.name, COMPLAINTS_SUBMITTED.key_for(event).encode(),
                                 encode(event), (CONTENT_TYPE_HEADER,))
        except Exception as exc:  # the broker, not the input: tell the client to retry
            runtime.log.error("complaint_publish_failed", event_id=event.id, error=type(exc).__name__)
            return WebResponse(503, {"error": "unavailable", "detail": "could not store the complaint; retry"})
        runtime.log.info("complaint_received", event_id=event.id, via="http")
        return WebResponse(202, {"id": event.id})

    async def get_case(req: WebRequest) -> Any:
        case_id = req.params["case_id"]
        case = cases.get(keys.case(case_id))
        if case is None:
            return WebResponse(404, {"error": "not_found"})
        req.audit(case_id=case_id)  # a case that exists: its id is what the audit event names
        return for_officer(case)  # the case's data; no contact details

    async def get_report(req: WebRequest) -> WebResponse:
        from shared.apps.report.build import read_events
        from shared.apps.report.names import load_cost_centres
        from shared.apps.report.view import report_response

        period, fmt = req.params["period"], req.query.get("format", "html")
        status, _, body = report_response([], period, fmt)  # a bad period or format: 400 before any read
        if status == 400:
            return problem(400, "invalid", json.loads(body).get("error"))
        events = await read_events(runtime.settings)
        status, content_type, body = report_response(events, period, fmt, region=runtime.settings.region,
                                                     cost_centres=load_cost_centres(runtime.settings.rules_dir))
        if status >= 400:
            return problem(status, "not_found" if status == 404 else "invalid", json.loads(body).get("error"))
        return WebResponse(status, content=body if isinstance(body, bytes) else body.encode(), content_type=content_type)

    runtime.route("POST", "/complaints", submit, role="submitter", doc=ViewDoc(
        "Submit a complaint: a CloudEvent pn.complaint.submitted or just its data", body=ComplaintSubmitted,
        ok=202, content={"application/json": {"type": "object", "required": ["id"],
                                              "properties": {"id": {"type": "string"}}}},
        responses={503: "the complaint could not be stored; retry"}))
    runtime.route("GET", "/reports/{period}", get_report, role="officer", doc=ViewDoc(
        "The quarterly report or annual analysis, rebuilt from the topics",
        path={"period": {"type": "string", "pattern": "^[0-9]{4}(-Q[1-4])?$", "examples": ["2023", "2023-Q3"]}},
        query={"format": {"enum": ["html", "json", "csv"], "default": "html"}},
        content={"text/html": {"type": "string"}, "application/json": {"type": "object"},
                 "text/csv": {"type": "string"}},
        responses={400: "a bad period or format", 404: "the period has no data"}))
    # the cases are one partition, on the worker that numbers them: another worker asks it
    runtime.route("GET", "/cases/{case_id}", get_case, role="officer", audit="case", spread="any", doc=ViewDoc(
        "A case as intake opened it (no contact details)", path={"case_id": CASE_ID_SCHEMA},
        responses={404: "no such case"}))
