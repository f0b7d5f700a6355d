"""WebGate without a server: order of checks (auth before body), audit calls, fail closed."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace

from click.testing import CliRunner

from shared.cli.main import main
from shared.web.audit import make_audit_hook
from shared.web.auth import TokenRegistry, new_token
from shared.web.gate import WebGate, WebResponse

OFFICER, OFFICER_ENTRY = new_token("case-system", "officer")


class Body:
    def __init__(self, data: bytes) -> None:
        self.data, self.reads = data, 0

    async def read(self, n: int) -> bytes:
        self.reads += 1
        return self.data[:n]


def request(method="GET", path="/cases/PN-1", token=None, body=b"", query=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return SimpleNamespace(method=method, path=path, headers=headers, query=query or {},
                           content_length=len(body), content=Body(body))


async def handler(req):
    return {"case_id": req.params.get("case_id"), "description": "case content"}


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
    ok = await g.handle(request(token=OFFICER, query={"case_id": "Q", "text": "x"}), handler, role="officer",
                        audit_view="case", params={"case_id": "PN-1"})
    assert ok.status == 200
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
