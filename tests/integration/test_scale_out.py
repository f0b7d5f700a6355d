"""Two workers of one service in one consumer group, on the real broker (issue 27): a global store
holds every key on every worker, and views answer the same whichever worker is asked
(tests/integration/scale_probe.py; shared/runtime/global_store.py, shared/runtime/views.py)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime

import pytest

from shared.contract.events import CareUnitUpserted, LedgerPosted, make_event
from shared.contract.topics import ALERTS_OPS, CARE_UNITS, FINANCE_POSTINGS
from shared.kafka.broker import free_port
from shared.kafka.io import events_of, produce, wait_for
from shared.web.auth import new_token

from ..conftest import ROOT

pytestmark = pytest.mark.broker

TOKEN, OFFICER = new_token("scale-officer", "officer")


def _get(port: int, path: str) -> tuple[int, dict]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers={"Authorization": f"Bearer {TOKEN}"})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")
    except OSError:  # not listening yet
        return 0, {}


def _until(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (value := predicate()):
            return value
        time.sleep(0.1)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@pytest.fixture
def workers(broker, tmp_path):
    procs = []

    def start(n: int):
        port = free_port()
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PN_")},
               "PN_KAFKA_BOOTSTRAP": broker.bootstrap, "PN_DATA_DIR": str(tmp_path / f"data-{n}"),
               "PN_TOKENS": OFFICER.line(), "PYTHONPATH": str(ROOT)}
        log = open(tmp_path / f"worker-{n}.log", "wb")
        proc = subprocess.Popen([sys.executable, str(ROOT / "tests/integration/scale_probe.py"), str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
        procs.append(proc)
        return port

    yield start, tmp_path
    for proc in procs:
        proc.terminate()
    for proc in procs:
        proc.wait(20)


async def test_two_workers_share_reference_data_and_answer_every_view_alike(broker, settings, workers, unique):
    start, logs = workers
    a, b = start(1), start(2)

    def both_members():  # the count view is merged from every member: 2 when both are in the group
        answers = [_get(port, "/postings") for port in (a, b)]
        return all(s == 200 and body["workers"] == 2 for s, body in answers)

    _until(both_members, 90, f"two workers in one group; logs in {logs}")

    units = [f"SE2321000180-{unique}{i:02d}" for i in range(8)]
    now = datetime.now(UTC)
    await produce(settings, CARE_UNITS, [make_event(
        CareUnitUpserted(hsa_id=hsa, name=f"Enhet {i}", care_provider="Region Dalarna", region="20",
                         registry_address="Box 1, 791 29 Falun"), source="/test", time=now, id=f"{unique}-u{i}")
        for i, hsa in enumerate(units)])
    started = time.monotonic()
    # every unit on every worker, whichever wrote it (each writes the units of its own partitions)
    _until(lambda: all(_get(port, f"/units/{hsa}")[0] == 200 for port in (a, b) for hsa in units), 30,
           "every unit on both workers")
    print(f"global store: 8 units on both workers {time.monotonic() - started:.2f} s after publishing")

    postings = [make_event(LedgerPosted(posting_id=f"{unique}-p{i}", period="2023-01", cost_centre=f"{7000 + i}",
                                        account_group="other", amount="-1.00", text=units[i % len(units)]),
                           source="/test", time=now, id=f"{unique}-p{i}") for i in range(40)]
    await produce(settings, FINANCE_POSTINGS, postings)
    records = await wait_for(settings, [ALERTS_OPS], lambda rs: sum(
        1 for e in events_of(rs) if e.data.alert_id.startswith(f"sprobe:{unique}-")) >= 40, timeout=60)
    alerts = [e for e in events_of(records) if e.data.alert_id.startswith(f"sprobe:{unique}-")]
    assert len({e.data.alert_id for e in alerts}) == 40
    assert [e.data.facts["unit"] for e in alerts if e.data.facts["unit"] == "missing"] == []
    assert {e.data.facts["worker"] for e in alerts} == {str(a), str(b)}  # both decided postings

    for posting in postings:  # a lookup answers the same on either worker, wherever the posting lives
        pid = posting.data.posting_id
        answers = [_get(port, f"/postings/{pid}") for port in (a, b)]
        assert answers[0] == answers[1] and answers[0][0] == 200, (pid, answers)
    assert _get(a, f"/postings/{unique}-none")[0] == 404
    mine = f"/postings?prefix={unique}-"
    assert _get(a, mine) == _get(b, mine) == (200, {"count": 40, "workers": 2})
