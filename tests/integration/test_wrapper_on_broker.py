"""The shared consumer wrapper on the real broker: bad input goes to pn.deadletter, good goes on."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime

import pytest

from shared.broker import free_port
from shared.events import LedgerPosted, make_event
from shared.kafka_io import events_of, produce, wait_for
from shared.topics import ALERTS_OPS, DEADLETTER, FINANCE_POSTINGS

from ..conftest import ROOT

pytestmark = pytest.mark.broker


def _posting(pid: str):
    return make_event(LedgerPosted(posting_id=pid, period="2023-01", cost_centre="6101",
                                   account_group="other", amount="-10.50", text="t"),
                      source="/test", time=datetime.now(UTC), id=f"ev-{pid}")


@pytest.fixture
def probe(settings, tmp_path):
    port = free_port()
    env = {**os.environ, "PN_KAFKA_BOOTSTRAP": settings.kafka_bootstrap, "PN_DATA_DIR": str(tmp_path / "data"),
           "PYTHONPATH": str(ROOT)}
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
