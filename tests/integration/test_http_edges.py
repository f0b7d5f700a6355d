"""The HTTP edges of all five services, as an outside attacker tries them (issue 22, issue 26):
raw sockets against the real web ports of real service processes on the real broker.

Whole bodies (200-900 KB complaints in one part, two parts, slowly, chunked), 413 above the limit
(chunked too), 415 for UTF-16, 401 for non-UTF-8 tokens and before 404/405, the audit topic only
for cases that exist, the report in every format, the OpenAPI document each service serves, a
property-based run of every view from that document (schemathesis, bounded), malformed requests;
and last, the logs of the whole run scanned for every token and personnummer sent."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.generation import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shared.contract.topics import AUDIT_READS, CASES_OPENED
from shared.kafka.io import events_of, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token
from shared.web.gate import MAX_BODY_BYTES

from ..conftest import ROOT
from .http_attack import COUNT, PNR, malformed, raw, request

pytestmark = pytest.mark.broker

SERVICES = ("intake", "diary", "fees", "billing", "budget")
TOKENS = {role: new_token(f"edge-{role}", role) for role in ("officer", "submitter", "ops")}
RUN = uuid.uuid4().hex[:8]
SENT_PERSONNUMMER = {PNR, PNR.replace("-", "")}
EXAMPLES = {"fuzz": 0}
EXAMPLES_PER_VIEW = 10  # per view and mode (valid, invalid): bounded so CI stays fast
PATHS = {"intake": ["/complaints", "/cases/{case_id}", "/reports/{period}"],
         "diary": ["/diary", "/diary/export", "/diary/{year}/{n}"], "fees": ["/fees/summary"],
         "billing": ["/billing/summary"], "budget": ["/budget/{year}"]}


def token(role: str) -> str:
    return TOKENS[role][0]


@pytest.fixture(scope="module")
def stack(broker, tmp_path_factory):
    env = {"PN_TOKENS": ";".join(e.line() for _, e in TOKENS.values()), "PN_RULES_DIR": str(ROOT / "rules")}
    s = Stack(list(SERVICES), work_dir=tmp_path_factory.mktemp("edges"), bootstrap=broker.bootstrap, env=env)
    s.start(timeout=120)
    yield s
    s.stop()


@pytest.fixture(scope="module")
def kafka(broker) -> PnSettings:
    return PnSettings(kafka_bootstrap=broker.bootstrap)


def port(stack: Stack, name: str) -> int:
    return stack.processes[name].web_port


def complaint_body(size: int, ref: str) -> bytes:
    """A valid complaint of about `size` bytes: escaped text fills it as a real one can (every
    field within the contract's limits), JSON whitespace makes up the rest."""
    att = [{"filename": "\\u00e5" * 200 + ".pdf", "media_type": "application/pdf", "size_bytes": 10,
            "sha256": "a" * 64, "uri": "https://files.example/" + "\\u00e4" * 1900} for _ in range(50)]
    data = {"channel": "1177", "external_ref": ref, "region": "20", "submitter": {"role": "patient"},
            "patient": {"personnummer": PNR}, "description": "\\u00f6" * 20_000, "attachments": att}
    text = json.dumps(data).replace("\\\\u", "\\u").encode()
    while len(text) > size and data["attachments"]:
        data["attachments"].pop()
        text = json.dumps(data).replace("\\\\u", "\\u").encode()
    if len(text) > size:
        data["description"] = "\\u00f6" * max(1, (size - 400) // 6)
        text = json.dumps(data).replace("\\\\u", "\\u").encode()
    assert len(text) <= size
    return text + b" " * (size - len(text))


# -- 4: whole bodies ----------------------------------------------------------------------------------
@pytest.mark.parametrize("size", [200_000, 900_000])
@pytest.mark.parametrize("how", ["one part", "two parts", "slowly", "chunked"])
def test_a_valid_complaint_of_200_to_900_kb_is_accepted_however_it_arrives(stack, size, how):
    body = complaint_body(size, f"{RUN}-{size}-{how.replace(' ', '')}")
    json.loads(body)  # valid JSON of the size claimed
    parts = request("POST", "/complaints", token=token("submitter"), body=body,
                    headers={"Content-Type": "application/json"}, chunked=65_536 if how == "chunked" else None)
    if how == "two parts":
        head, payload = parts
        parts = [head + payload[: len(payload) // 2], payload[len(payload) // 2:]]
    elif how == "slowly":
        head, payload = parts
        parts = [head, *(payload[i:i + 100_000] for i in range(0, len(payload), 100_000))]
    answer = raw(port(stack, "intake"), parts, pause=0.1 if how in ("two parts", "slowly") else 0.0)
    assert answer.status == 202, (answer.status, answer.body[:300])
    assert json.loads(answer.body)["id"]


@pytest.mark.parametrize("chunked", [None, 65_536])
def test_a_body_over_the_limit_is_413_with_or_without_content_length(stack, chunked):
    body = b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]"
    answer = raw(port(stack, "intake"), request("POST", "/complaints", token=token("submitter"), body=body,
                                                  chunked=chunked))
    assert answer.status == 413 and answer.headers["content-type"].startswith("application/problem+json")


def test_a_utf16_body_is_415(stack):
    body = json.dumps({"channel": "1177", "region": "20", "submitter": {"role": "patient"},
                       "description": "x"}).encode("utf-16")
    answer = raw(port(stack, "intake"), request("POST", "/complaints", token=token("submitter"), body=body,
                                                  headers={"Content-Type": "application/json"}))
    assert answer.status == 415


# -- 6, 10: tokens first, whatever the method, path or bytes --------------------------------------------
@pytest.mark.parametrize("name", SERVICES)
def test_without_a_valid_token_every_path_and_method_is_401(stack, name):
    paths = ["/", *(p.replace("{year}", "2023").replace("{n}", "1").replace("{case_id}", "PN-1")
                    .replace("{period}", "2023") for p in PATHS[name])]
    for path in paths:
        for method in ("GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"):
            answer = raw(port(stack, name), request(method, path, body=b"{}" if method in ("POST", "PUT") else None))
            assert answer.status == 401, (name, method, path, answer.status)
            assert "bearer" in answer.headers.get("www-authenticate", "").lower()
    for value in (b"\xff\xfe\x80", b"pn_\xe5\xe4\xf6", b"\xc3(", b"pn_" + b"a" * 5000):
        answer = raw(port(stack, name), [f"GET {paths[1]} HTTP/1.1\r\nHost: x\r\n".encode() + b"Authorization: Bearer "
                                         + value + b"\r\nConnection: close\r\n\r\n"])
        assert answer.status == 401, (name, value[:10], answer.status)


def test_with_a_token_a_missing_method_is_405_and_the_root_404(stack):
    assert raw(port(stack, "diary"), request("DELETE", "/diary", token=token("officer"))).status == 405
    assert raw(port(stack, "diary"), request("GET", "/", token=token("officer"))).status == 404


# -- 7: the audit topic holds only validated ids of cases that exist ---------------------------------------
async def test_the_audit_topic_gets_only_ids_of_cases_that_exist(stack, kafka):
    body = complaint_body(3_000, f"{RUN}-audit")
    answer = raw(port(stack, "intake"), request("POST", "/complaints", token=token("submitter"), body=body))
    assert answer.status == 202
    event_id = json.loads(answer.body)["id"]
    opened = await wait_for(kafka, [CASES_OPENED], lambda rs: any(
        e.data.complaint_event_id == event_id for e in events_of(rs)), timeout=60)
    case_id = next(e.data.case_id for e in events_of(opened) if e.data.complaint_event_id == event_id)
    officer = token("officer")
    for _ in range(60):  # diary registers the case's complaint from pn.cases.opened
        answer = raw(port(stack, "diary"), request("GET", f"/diary?case_id={case_id}&other_id={PNR}", token=officer))
        if answer.status == 200:
            break
        await asyncio.sleep(0.5)
    assert answer.status == 200 and json.loads(answer.body)["entries"]
    unknown = f"PN-{RUN}-unknown"
    assert raw(port(stack, "diary"), request("GET", f"/diary?case_id={unknown}&x_id=free%20text",
                                             token=officer)).status == 404
    assert raw(port(stack, "diary"), request("GET", "/diary?case_id=%20%3Cscript%3E", token=officer)).status == 422
    assert raw(port(stack, "intake"), request("GET", f"/cases/{unknown}", token=officer)).status == 404
    assert raw(port(stack, "intake"), request("GET", f"/cases/{case_id}", token=officer)).status == 200

    def mine(records):
        # this module's token name: other modules on the session broker may read a case of that id
        return [e for e in events_of(records) if e.data.case_id == case_id and e.data.who == "edge-officer"]

    await wait_for(kafka, [AUDIT_READS], lambda rs: len(mine(rs)) >= 2, timeout=30)
    audited = mine(await read_all(kafka, [AUDIT_READS], idle_s=1.0))
    assert sorted(e.data.view for e in audited) == sorted([f"case GET /cases/{case_id}", "case GET /diary"])
    assert all(e.data.case_id == case_id and e.data.ids == {"case_id": case_id} for e in audited)
    everything = await read_all(kafka, [AUDIT_READS], idle_s=0.5)
    raw_values = b"".join(r.value or b"" for r in everything)
    assert len([e for e in events_of(everything) if e.data.who == "edge-officer"]) == 2  # nothing else audited
    assert unknown.encode() not in raw_values and PNR.encode() not in raw_values and b"free text" not in raw_values


# -- 8: the report in every format ----------------------------------------------------------------------
@pytest.mark.parametrize("fmt,ctype", [("html", "text/html; charset=utf-8"), ("csv", "text/csv; charset=utf-8"),
                                       ("json", "application/json")])
def test_the_report_is_served_in_every_format(stack, fmt, ctype):
    year = datetime.now(UTC).year  # the complaints above opened cases this year
    for _ in range(40):
        answer = raw(port(stack, "intake"), request("GET", f"/reports/{year}?format={fmt}", token=token("officer")))
        if answer.status != 404:
            break
        time.sleep(0.5)
    assert answer.status == 200, (answer.status, answer.body[:300])
    assert answer.headers["content-type"] == ctype


# -- issue 26: the OpenAPI document each service serves --------------------------------------------------
def served_document(stack: Stack, name: str) -> dict:
    COUNT["requests"] += 1
    with urllib.request.urlopen(f"http://127.0.0.1:{port(stack, name)}/openapi.json", timeout=10) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("name", SERVICES)
def test_each_service_serves_its_committed_openapi_document(stack, name):
    doc = served_document(stack, name)
    validate(doc)
    assert doc == json.loads((ROOT / "docs" / "contract" / "openapi" / f"{name}.json").read_text())


# -- the systematic search: every view from its schema, bounded --------------------------------------------
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@pytest.mark.parametrize("name", SERVICES)
def test_every_view_answers_generated_requests_as_its_document_says(stack, name):
    doc = served_document(stack, name)
    schema = schemathesis.openapi.from_dict(doc)
    base = f"http://127.0.0.1:{port(stack, name)}"
    for result in schema.get_all_operations():
        operation = result.ok()
        if operation.path in ("/health", "/metrics", "/openapi.json"):
            continue
        role = operation.definition.raw["x-pn-roles"][0]
        # the report reads every topic per request: a few examples; the other views are cheap
        examples = 2 if operation.path.startswith("/reports") else EXAMPLES_PER_VIEW
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            run_examples(operation, mode, examples, base, {"Authorization": f"Bearer {token(role)}"})


def run_examples(operation, mode, examples, base, headers):
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def check(case):
        EXAMPLES["fuzz"] += 1
        COUNT["requests"] += 1
        response = case.call(base_url=base, headers=headers, timeout=60)
        case.validate_response(response, checks=CHECKS)

    check()


@pytest.mark.parametrize("name", SERVICES)
def test_malformed_requests_get_no_5xx_and_no_data(stack, name):
    for what, data in malformed(token("officer")):
        answer = raw(port(stack, name), [data], timeout=15)
        assert answer.status is None or answer.status < 500, (name, what, answer.status, answer.body[:200])
        assert answer.status != 200, (name, what)


# -- last: the logs of the whole run ------------------------------------------------------------------
def test_the_logs_of_the_run_hold_no_token_and_no_personnummer(stack):
    with ThreadPoolExecutor(len(SERVICES)) as pool:  # stop all at once: every line is flushed
        list(pool.map(lambda name: stack.processes[name].stop(), SERVICES))
    leaks = []
    for name in SERVICES:
        text = stack.processes[name].log_path.read_text(encoding="utf-8", errors="replace")
        for secret, entry in TOKENS.values():
            for value in (secret, secret[3:], entry.digest.hex(), entry.salt.hex()):
                if value in text:
                    leaks.append((name, "token"))
        for pnr in SENT_PERSONNUMMER | {"19121212%2D1212", "121212-1212"}:
            if pnr in text:
                leaks.append((name, pnr))
    assert leaks == []
    print(f"\nissue 22 edge run: {COUNT['requests']} HTTP requests, {EXAMPLES['fuzz']} generated by schemathesis")
