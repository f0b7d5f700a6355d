"""WebGate without a server: order of checks (auth before body), audit calls, fail closed; whole
bodies read in parts, problem bodies, hostile Authorization headers (issue 22)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from click.testing import CliRunner

from shared.cli import main
from shared.web.audit import make_audit_hook
from shared.web.auth import TokenRegistry, new_token
from shared.web.gate import MAX_BODY_BYTES, PROBLEM_JSON, WebGate, WebResponse

OFFICER, OFFICER_ENTRY = new_token("case-system", "officer")


class Body:
    """aiohttp's StreamReader as it behaves: read(n) returns what has arrived, at most n bytes
    (here `part` bytes at a time, as a body sent in parts or chunks arrives), b"" at the end."""

    def __init__(self, data: bytes, part: int | None = None) -> None:
        self.data, self.reads, self.pos, self.part = data, 0, 0, part

    async def read(self, n: int) -> bytes:
        self.reads += 1
        take = min(n, self.part or n)
        chunk = self.data[self.pos:self.pos + take]
        self.pos += len(chunk)
        return chunk


def request(method="GET", path="/cases/PN-1", token=None, body=b"", query=None, part=None, length=True,
            headers=None):
    hdrs = {"Authorization": f"Bearer {token}"} if token else {}
    hdrs.update(headers or {})
    return SimpleNamespace(method=method, path=path, headers=hdrs, query=query or {},
                           content_length=len(body) if length else None, content=Body(body, part))


async def handler(req):
    req.audit(case_id=req.params.get("case_id"))
    return {"case_id": req.params.get("case_id"), "description": "case content"}


async def echo(req):
    return {"keys": len(req.json())}


def gate(audit=None) -> WebGate:
    return WebGate("test", TokenRegistry([OFFICER_ENTRY]), audit)


async def test_the_body_of_an_unauthenticated_request_is_never_read():
    req = request("POST", token=None, body=b"{}" * 10)
    resp = await gate().handle(req, handler, role="officer", audit_view=None, params={})
    assert resp.status == 401 and req.content.reads == 0
    assert resp.headers["WWW-Authenticate"] == 'Bearer realm="pn-test"'


async def test_audit_is_called_once_with_ids_for_a_successful_read_only():
    calls = []

    async def audit(caller, view, params):
        calls.append((caller.name, caller.role, view, dict(params)))

    g = gate(audit)
    ok = await g.handle(request(token=OFFICER, query={"case_id": "Q", "other_id": "19121212-1212"}), handler,
                        role="officer", audit_view="case", params={"case_id": "PN-1"}, template="/cases/{case_id}")
    assert ok.status == 200
    # the view named PN-1 (the record it found); the caller's query ids are not copied
    assert calls == [("case-system", "officer", "case GET /cases/PN-1", {"case_id": "PN-1"})]

    async def missing(req):
        return WebResponse(404, {"error": "not_found"})

    await g.handle(request(token=OFFICER), missing, role="officer", audit_view="case", params={"case_id": "x"})
    await g.handle(request(token="pn_bad"), handler, role="officer", audit_view="case", params={"case_id": "x"})
    await g.handle(request(token=OFFICER), handler, role="ops", audit_view="case", params={"case_id": "x"})
    assert len(calls) == 1


async def test_a_read_whose_audit_event_cannot_be_stored_is_refused():
    class FailingPublisher:
        async def send(self, *a, **k):
            raise ConnectionError("broker down")

    runtime = SimpleNamespace(service="test", clock=SimpleNamespace(now=lambda: datetime.now(UTC)),
                              log=SimpleNamespace(error=lambda *a, **k: None, info=lambda *a, **k: None))
    hook = make_audit_hook(runtime.service, FailingPublisher(), runtime.clock, runtime.log)
    resp = await gate(hook).handle(request(token=OFFICER), handler, role="officer", audit_view="case",
                                   params={"case_id": "PN-1"})
    assert resp.status == 503 and "case content" not in str(resp.body)


async def test_the_audit_hook_publishes_ids_only_to_the_audit_topic():
    sent = []

    class Publisher:
        async def send(self, topic, key, value, headers):
            sent.append((topic, key, value, headers))

    logged = []
    runtime = SimpleNamespace(service="intake", clock=SimpleNamespace(now=lambda: datetime(2023, 5, 1, tzinfo=UTC)),
                              log=SimpleNamespace(error=lambda *a, **k: None, info=lambda *a, **k: logged.append(k)))
    hook = make_audit_hook(runtime.service, Publisher(), runtime.clock, runtime.log)
    resp = await gate(hook).handle(request(token=OFFICER), handler, role="officer", audit_view="case",
                                   params={"case_id": "PN-1"})
    assert resp.status == 200
    [(topic, key, value, headers)] = sent
    assert topic == "pn.audit.reads" and key == b"PN-1" and b"case content" not in value
    assert ("content-type", b"application/cloudevents+json") in [tuple(h) for h in headers]
    assert OFFICER not in str(logged)


def test_pn_acl_prints_one_line_per_acl_and_refuses_unknown_services():
    out = CliRunner().invoke(main, ["acl", "--service", "fees"])
    assert out.exit_code == 0 and "User:pn-fees\tRead\tGroup\tLITERAL\tpn-fees" in out.output
    assert CliRunner().invoke(main, ["acl", "--service", "nope"]).exit_code != 0


# -- issue 22: whole bodies, encodings, hostile headers, problem bodies ---------------------------
async def test_a_body_arriving_in_parts_is_read_whole():
    body = b'{"a": [' + b",".join([b'"' + b"x" * 98 + b'"'] * 7_000) + b'], "b": 1}'  # 700 KB
    for part in (1, 65_536, 100_000):
        resp = await gate().handle(request("POST", token=OFFICER, body=body, part=part if part > 1 else 4096),
                                   echo, role="officer", audit_view=None, params={})
        assert resp.status == 200 and resp.body == {"keys": 2}, part


async def test_a_chunked_body_over_the_limit_is_413_and_not_read_past_it():
    body = b"[" + b"1," * MAX_BODY_BYTES + b"1]"
    req = request("POST", token=OFFICER, body=body, part=65_536, length=False)  # no Content-Length: chunked
    resp = await gate().handle(req, echo, role="officer", audit_view=None, params={})
    assert resp.status == 413 and resp.body["error"] == "too_large"
    assert req.content.pos <= MAX_BODY_BYTES + 65_536


async def test_utf16_bodies_are_refused_with_415():
    body = '{"a": 1}'.encode("utf-16")
    resp = await gate().handle(request("POST", token=OFFICER, body=body), echo, role="officer", audit_view=None,
                               params={})
    assert resp.status == 415
    resp = await gate().handle(request("POST", token=OFFICER, body=b'{"a": 1}',
                                       headers={"Content-Type": "application/json; charset=utf-16"}),
                               echo, role="officer", audit_view=None, params={})
    assert resp.status == 415


async def test_non_ascii_or_oversized_authorization_is_401_not_500():
    for value in ("Bearer pn_\udcff\udcfe", "Bearer pn_åäö", "Bearer " + "a" * 10_000, "Bearer pn_a\x00b"):
        req = request()
        req.headers["Authorization"] = value
        resp = await gate().handle(req, handler, role="officer", audit_view=None, params={})
        assert resp.status == 401, value


async def test_every_error_is_an_rfc9457_problem():
    resp = await gate().handle(request(token="pn_bad"), handler, role="officer", audit_view=None, params={})
    assert resp.content_type == PROBLEM_JSON
    assert {"type", "title", "status", "detail", "error"} <= resp.body.keys()
    assert resp.body["status"] == 401 and resp.body["title"] == "Unauthorized"

    async def missing(req):
        return WebResponse(404, {"error": "not_found"})

    resp = await gate().handle(request(token=OFFICER), missing, role="officer", audit_view=None, params={})
    assert resp.content_type == PROBLEM_JSON and resp.body["status"] == 404 and resp.body["error"] == "not_found"


async def test_a_body_that_stops_arriving_is_given_up_with_408():
    import asyncio

    from shared.web.gate import read_body

    class Stalled:
        async def read(self, n):
            await asyncio.sleep(3600)

    try:
        await read_body(Stalled(), timeout_s=0.05)
    except TimeoutError:
        pass
    else:
        raise AssertionError("a stalled body must time out")
