"""The web gate over real HTTP on a real service process and the real broker (issue 11):
401 + WWW-Authenticate, 403, 200, 413, 422; one audit event per case read, without case content;
no token in the log output of the run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from shared.contract.topics import AUDIT_READS
from shared.kafka.broker import free_port
from shared.kafka.io import events_of, read_all, wait_for
from shared.web.auth import new_token
from shared.web.gate import MAX_BODY_BYTES, MAX_JSON_DEPTH

from ..conftest import ROOT
from .security_probe import DESCRIPTION, PERSONNUMMER

pytestmark = pytest.mark.broker

TOKENS = {role: new_token(f"test-{role}", role) for role in ("officer", "submitter", "ops")}


def call(port: int, method: str, path: str, token: str | None = None, body: bytes | None = None,
         headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method=method)
    if token is not None:
        req.add_header("Authorization", f"Bearer {token}")
    for k, v in (headers or {}).items():
        req.add_header(k, v)
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


@pytest.fixture(scope="module")
def probe(broker, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("secprobe")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PN_")}
    env.update({"PN_KAFKA_BOOTSTRAP": broker.bootstrap, "PN_DATA_DIR": str(tmp / "data"), "PYTHONPATH": str(ROOT),
                "PN_TOKENS": ";".join(entry.line() for _, entry in TOKENS.values())})
    log_path = tmp / "probe.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests/integration/security_probe.py"), str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        assert proc.poll() is None, log_path.read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    break
        except Exception:
            pass
        assert time.monotonic() < deadline, "probe not healthy in 60 s: " + log_path.read_text()[-3000:]
        time.sleep(0.2)
    yield port, proc, log_path
    if proc.poll() is None:
        proc.terminate()
        proc.wait(20)


def token(role: str) -> str:
    return TOKENS[role][0]


def test_open_views_need_no_token(probe):
    port, *_ = probe
    assert call(port, "GET", "/health")[0] == 200
    status, _, body = call(port, "GET", "/metrics")
    assert status == 200 and b"# TYPE" in body


@pytest.mark.parametrize("auth", [None, "Bearer", "Bearer pn_wrong", "Basic dXNlcjpwYXNz", "bearer  "])
def test_no_or_a_bad_token_is_401_with_www_authenticate(probe, auth):
    port, *_ = probe
    status, headers, body = call(port, "GET", "/cases/PN-1", headers={"Authorization": auth} if auth else None)
    assert status == 401
    assert headers.get("WWW-Authenticate", "").startswith("Bearer realm=")
    assert json.loads(body)["error"] == "unauthorized"


@pytest.mark.parametrize("path,method,role", [("/cases/PN-1", "GET", "submitter"), ("/cases/PN-1", "GET", "ops"),
                                              ("/echo", "POST", "officer"), ("/ops/ping", "GET", "officer")])
def test_a_valid_token_with_the_wrong_role_is_403(probe, path, method, role):
    port, *_ = probe
    status, _, body = call(port, method, path, token(role), body=b"{}" if method == "POST" else None)
    assert status == 403 and json.loads(body)["error"] == "forbidden"


def test_the_right_role_is_200(probe, unique):
    port, *_ = probe
    status, _, body = call(port, "GET", f"/cases/PN-ok-{unique}", token("officer"))
    assert status == 200 and json.loads(body)["case_id"] == f"PN-ok-{unique}"
    status, _, body = call(port, "POST", "/echo", token("submitter"), body=b'{"a": 1}',
                           headers={"Content-Type": "application/json"})
    assert status == 200 and json.loads(body) == {"ok": True, "keys": 1}
    status, _, body = call(port, "GET", "/ops/ping", token("ops"))
    assert status == 200 and json.loads(body) == {"pong": "test-ops"}


def test_an_oversize_body_is_413(probe):
    port, *_ = probe
    status, _, body = call(port, "POST", "/echo", token("submitter"), body=b" " * (MAX_BODY_BYTES + 1),
                           headers={"Content-Type": "application/json"})
    assert status == 413 and json.loads(body)["error"] == "too_large"


def test_an_oversize_body_without_a_token_is_401_not_read(probe):
    port, *_ = probe
    status, _, _ = call(port, "POST", "/echo", None, body=b" " * (MAX_BODY_BYTES + 1))
    assert status == 401


def test_too_deep_json_is_422(probe):
    port, *_ = probe
    deep = ("[" * (MAX_JSON_DEPTH + 5) + "]" * (MAX_JSON_DEPTH + 5)).encode()
    status, _, body = call(port, "POST", "/echo", token("submitter"), body=deep)
    assert status == 422 and "deeper" in json.loads(body)["detail"]
    very_deep = b"[" * 200_000 + b"]" * 200_000  # recursion in the parser itself: still a clean 422
    assert call(port, "POST", "/echo", token("submitter"), body=very_deep)[0] == 422


def test_too_long_string_is_422(probe):
    port, *_ = probe
    status, _, body = call(port, "POST", "/echo", token("submitter"), body=json.dumps({"a": "x" * 100_001}).encode())
    assert status == 422 and "longer" in json.loads(body)["detail"]


async def test_one_audit_event_per_case_read_and_none_for_refused_or_missing(probe, settings, unique):
    port, *_ = probe
    reads = [f"PN-{unique}-a", f"PN-{unique}-b", f"PN-{unique}-a"]  # the same case read twice: two events
    for case_id in reads:
        assert call(port, "GET", f"/cases/{case_id}", token("officer"))[0] == 200
    assert call(port, "GET", f"/cases/PN-{unique}-c", token("submitter"))[0] == 403
    assert call(port, "GET", f"/cases/PN-{unique}-d")[0] == 401
    assert call(port, "GET", f"/cases/missing-{unique}", token("officer"))[0] == 404

    def mine(records):
        return [r for r in records if unique.encode() in (r.value or b"")]

    await wait_for(settings, [AUDIT_READS], lambda rs: len(mine(rs)) >= len(reads), timeout=30)
    records = mine(await read_all(settings, [AUDIT_READS], idle_s=1.0))  # nothing more arrives later
    assert len(records) == len(reads)
    events = events_of(records)
    assert len(events) == len(reads) and len({e.id for e in events}) == len(reads)
    assert sorted(e.data.case_id for e in events) == sorted(reads)
    for record, event in zip(records, events, strict=True):
        assert record.key == event.data.case_id.encode()
        assert event.type == "pn.audit.case_read" and event.source == "/pn/secprobe"
        assert (event.data.who, event.data.role, event.data.service) == ("test-officer", "officer", "secprobe")
        assert event.data.view == f"case GET /cases/{event.data.case_id}"
        raw = record.value.decode()
        assert DESCRIPTION not in raw and "description" not in raw
        assert PERSONNUMMER not in raw and "personnummer" not in raw and "patient" not in raw
        for secret, _ in TOKENS.values():
            assert secret not in raw


def test_the_log_output_of_the_run_holds_no_token(probe):
    """Last in this module: stop the process so every line is flushed, then read its whole log."""
    port, proc, log_path = probe
    call(port, "GET", "/cases/PN-log", token("officer"))
    call(port, "GET", "/cases/PN-log", "pn_" + "x" * 43)
    proc.terminate()
    proc.wait(20)
    text = log_path.read_text()
    assert '"event": "audit"' in text or '"audit"' in text  # the log did record the reads
    for secret, entry in TOKENS.values():
        assert secret not in text
        assert entry.digest.hex() not in text and entry.salt.hex() not in text
    assert "pn_" + "x" * 43 not in text
    assert "Bearer pn_" not in text and DESCRIPTION not in text and PERSONNUMMER not in text
