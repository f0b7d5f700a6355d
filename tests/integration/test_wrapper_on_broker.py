"""The shared consumer wrapper on the real broker: bad input goes to pn.deadletter, good goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from shared.contract.events import LedgerPosted, make_event
from shared.contract.topics import ALERTS_OPS, DEADLETTER, FINANCE_POSTINGS
from shared.kafka.broker import free_port
from shared.kafka.io import events_of, produce, wait_for

from ..conftest import ROOT

pytestmark = pytest.mark.broker


def _posting(pid: str):
    return make_event(LedgerPosted(posting_id=pid, period="2023-01", cost_centre="6101",
                                   account_group="other", amount="-10.50", text="t"),
                      source="/test", time=datetime.now(UTC), id=f"ev-{pid}")


def _start_probe(settings, tmp_path, **extra_env):
    port = free_port()
    env = {**os.environ, "PN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "PN_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT), **extra_env}
    log = open(tmp_path / "probe.log", "wb")
    proc = subprocess.Popen([sys.executable, str(ROOT / "tests/integration/probe_service.py"), str(port)],
                            env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, (tmp_path / "probe.log").read_text()[-3000:]
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    break
        except Exception:
            time.sleep(0.2)
    return proc, port


@pytest.fixture
def probe(settings, tmp_path):
    proc, _ = _start_probe(settings, tmp_path)
    yield proc, tmp_path / "probe.log"
    proc.terminate()
    proc.wait(20)


async def test_malformed_messages_are_dead_lettered_and_the_next_good_one_is_processed(settings, probe, unique):
    bad_json = f"not json {unique}".encode()
    invalid = _posting(f"{unique}-x").model_dump_json().replace('"2023-01"', '"2023-13"').encode()
    good = _posting(f"{unique}-ok")
    await produce(settings, FINANCE_POSTINGS, [bad_json, invalid], keys=[b"6101", b"6101"])
    await produce(settings, FINANCE_POSTINGS, [good, good])  # the duplicate must have no effect

    def done(records):
        return any(unique in (r.value or b"").decode("utf-8", "replace") for r in records)

    alerts = await wait_for(settings, [ALERTS_OPS], lambda rs: any(f"probe:{unique}-ok" in (r.value or b"").decode() for r in rs))
    mine = [e for e in events_of(alerts) if e.data.alert_id == f"probe:{unique}-ok"]
    assert len(mine) == 1

    letters = await wait_for(settings, [DEADLETTER], lambda rs: sum(unique in (r.value or b"").decode() for r in rs) >= 2)
    rejected = [e.data for e in events_of(letters) if unique in e.data.raw]
    assert {r.raw for r in rejected} == {bad_json.decode(), invalid.decode()}
    by_raw = {r.raw: r for r in rejected}
    assert by_raw[bad_json.decode()].errors[0].msg.startswith("not JSON")
    assert by_raw[invalid.decode()].errors[0].loc[-1] == "period"
    assert all(r.source_topic == FINANCE_POSTINGS.name and r.service == "probe" for r in rejected)


async def test_deadletter_list_and_replay_of_a_corrected_message(settings, probe, unique, tmp_path):
    import json as _json

    invalid = _posting(f"{unique}-fix").model_dump_json().replace('"2023-01"', '"2023-13"').encode()
    await produce(settings, FINANCE_POSTINGS, [invalid], keys=[b"6101"])
    letters = await wait_for(settings, [DEADLETTER], lambda rs: any(f"{unique}-fix" in (r.value or b"").decode() for r in rs))
    [letter] = [e for e in events_of(letters) if f"{unique}-fix" in e.data.raw]

    env = {**os.environ, "PN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap}
    listed = subprocess.run([sys.executable, "-m", "shared.cli", "deadletter", "list", "--json",
                             "--topic", FINANCE_POSTINGS.name], capture_output=True, text=True, env=env, timeout=60)
    assert listed.returncode == 0, listed.stderr
    assert letter.id in [_json.loads(line)["id"] for line in listed.stdout.splitlines()]

    again = subprocess.run([sys.executable, "-m", "shared.cli", "deadletter", "replay", "--id", letter.id],
                           capture_output=True, text=True, env=env, timeout=60)
    assert again.returncode != 0 and "still not a valid event" in again.stderr and "period" in again.stderr

    fixed = tmp_path / "fixed.json"
    fixed.write_bytes(b"\xef\xbb\xbf" + invalid.replace(b'"2023-13"', b'"2023-02"'))  # a UTF-8 BOM (issue 22)
    done = subprocess.run([sys.executable, "-m", "shared.cli", "deadletter", "replay", "--id", letter.id,
                           "--file", str(fixed)], capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    alerts = await wait_for(settings, [ALERTS_OPS], lambda rs: any(f"probe:{unique}-fix" in (r.value or b"").decode() for r in rs))
    assert any(e.data.alert_id == f"probe:{unique}-fix" for e in events_of(alerts))


async def _oversized_poison_then_valid_records(settings, unique):
    """Issue 22: 1.2 MB of random bytes stopped the partition silently (the dead letter itself
    failed). It must end on pn.deadletter, truncated, with its sha256 and size; what follows goes on."""
    import hashlib

    huge = os.urandom(1_200_000)
    after = [_posting(f"{unique}-after-{i}") for i in range(3)]
    await produce(settings, FINANCE_POSTINGS, [huge], keys=[unique.encode()])
    await produce(settings, FINANCE_POSTINGS, after, keys=[unique.encode()] * 3)  # same partition as the poison
    wanted = {f"probe:{unique}-after-{i}" for i in range(3)}
    alerts = await wait_for(settings, [ALERTS_OPS],
                            lambda rs: wanted <= {e.data.alert_id for e in events_of(rs) if e.type == "pn.alert.raised"},
                            timeout=60)
    assert wanted <= {e.data.alert_id for e in events_of(alerts) if e.type == "pn.alert.raised"}
    digest = hashlib.sha256(huge).hexdigest()
    letters = await wait_for(settings, [DEADLETTER], lambda rs: any(digest.encode() in (r.value or b"") for r in rs))
    [letter] = [e.data for e in events_of(letters) if e.data.raw_sha256 == digest]
    assert letter.raw_truncated and letter.raw_size == 1_200_000 and letter.service == "probe"


def _get(port: int, path: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()
    except OSError:  # the worker exits while we ask
        return 0, b""


async def test_a_poison_record_never_stops_a_partition_and_a_crashed_agent_is_never_silent(settings, tmp_path, unique):
    """Issue 22, on one probe worker. First an oversized poison record (1.2 MB of random bytes)
    is dead-lettered and the records behind it take effect (it once made the dead letter fail and
    stopped the partition). Then a record whose handling takes 5 s: /health 503 `stalled` while
    the partition stands with a record behind it, 200 again when it moves. Then a batch that raises (an output that cannot be encoded): a crashed
    agent once left /health 200, pn_ready 1 and pn_consumer_lag 0. Now: 503 `agent_crashed`, the
    lag measured from the broker on a timer shows the records behind it, and after
    PN_AGENT_MAX_RESTARTS failed batches in a row the worker exits non-zero."""
    import json
    import re

    from shared.runtime.app import EXIT_AGENT_FAILED

    proc, port = _start_probe(settings, tmp_path, PN_AGENT_MAX_RESTARTS="4", PN_LAG_EVERY_S="0.5", PN_STALL_AFTER_S="1.5",
                                PYTHONUNBUFFERED="1")
    try:
        await _oversized_poison_then_valid_records(settings, unique)
        # a record whose handling takes 5 s: the partition stands still with a record behind it
        hang = make_event(LedgerPosted(posting_id=f"{unique}-hang", period="2023-01", cost_centre="6101",
                                       account_group="other", amount="-1.00", text="hang 5"),
                          source="/test", time=datetime.now(UTC), id=f"ev-{unique}-hang")
        await produce(settings, FINANCE_POSTINGS, [hang, _posting(f"{unique}-after-hang")], keys=[unique.encode()] * 2)
        stalled, deadline = None, time.monotonic() + 30
        while stalled is None and time.monotonic() < deadline:
            status, body = _get(port, "/health")
            if status == 503 and json.loads(body)["status"] == "stalled":
                stalled = json.loads(body)
            time.sleep(0.1)
        assert stalled is not None and "pn.finance.postings[" in stalled["reasons"][0], stalled
        await wait_for(settings, [ALERTS_OPS], lambda rs: any(f"probe:{unique}-after-hang" in (r.value or b"").decode()
                                                              for r in rs))
        assert _get(port, "/health")[0] == 200  # moving again: ready
        key = f"{unique}-crash".encode()
        await produce(settings, FINANCE_POSTINGS, [_posting(f"{unique}-first")], keys=[key])
        await wait_for(settings, [ALERTS_OPS], lambda rs: any(f"probe:{unique}-first" in (r.value or b"").decode() for r in rs))
        crash = make_event(LedgerPosted(posting_id=f"{unique}-crash", period="2023-01", cost_centre="6101",
                                        account_group="other", amount="-1.00", text="crash-agent"),
                           source="/test", time=datetime.now(UTC), id=f"ev-{unique}-crash")
        await produce(settings, FINANCE_POSTINGS, [crash, _posting(f"{unique}-b1"), _posting(f"{unique}-b2")],
                      keys=[key] * 3)
        seen_503, lag_seen, deadline = None, 0, time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < deadline:
            status, body = _get(port, "/health")
            if status == 503:
                seen_503 = json.loads(body)
                _, metrics = _get(port, "/metrics")
                lags = [float(v) for v in re.findall(rb'pn_consumer_lag\{[^}]*topic="pn.finance.postings"[^}]*\} (\S+)', metrics)]
                lag_seen = max([lag_seen, *lags])
                assert b'pn_ready{service="probe"} 0.0' in metrics
            time.sleep(0.1)
        assert proc.wait(30) == EXIT_AGENT_FAILED
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert seen_503 is not None and seen_503["status"] == "agent_crashed", seen_503
    assert "RuntimeError" in seen_503["reasons"][0]
    assert lag_seen >= 2  # the crashing record and the two behind it, measured without a processed batch
    log = (tmp_path / "probe.log").read_text(encoding="utf-8", errors="replace")
    assert log.count("agent_crashed") >= 4 and "agent_gave_up" in log
