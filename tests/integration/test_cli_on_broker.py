"""`pn` against the real embedded broker: topics from the catalog, publish → tail, schema export."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from shared.contract.topics import CATALOG

from ..unit.shared.examples import EXAMPLES

pytestmark = pytest.mark.broker


def pn(*args: str, bootstrap: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
    env = {"PN_KAFKA_BOOTSTRAP": bootstrap, "PATH": "/usr/bin:/bin"}
    return subprocess.run([sys.executable, "-m", "shared.cli", *args], input=stdin, capture_output=True,
                          text=True, timeout=timeout, env=env)


async def test_every_catalog_topic_exists_with_its_partitions(broker):
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        described = await admin.describe_topics([t.name for t in CATALOG])
    finally:
        await admin.close()
    partitions = {d["topic"]: len(d["partitions"]) for d in described}
    assert partitions == {t.name: t.partitions for t in CATALOG}


def test_publish_then_tail_round_trip(broker, unique):
    lines = []
    for i in range(3):
        lines.append(json.dumps({"specversion": "1.0", "id": f"{unique}-{i}", "source": "/test",
                                 "type": "pn.care.day_cancelled", "time": "2023-01-01T00:00:00Z",
                                 "subject": f"stay-{unique}", "data": {"care_day_id": f"{unique}-{i}", "reason": "x"}}))
    done = pn("publish", "pn.care.days", "-", bootstrap=broker.bootstrap, stdin="\n".join(lines) + "\n")
    assert done.returncode == 0, done.stderr
    assert "published 3 events to pn.care.days" in done.stdout
    tailed = pn("tail", "pn.care.days", "--from-beginning", "--json", "--timeout", "3", bootstrap=broker.bootstrap)
    assert tailed.returncode == 0, tailed.stderr
    mine = [json.loads(line) for line in tailed.stdout.splitlines() if unique in line]
    assert sorted(e["id"] for e in mine) == [f"{unique}-{i}" for i in range(3)]


def test_publish_validates_before_sending_and_names_the_line(broker, unique):
    good = json.dumps({"specversion": "1.0", "id": f"{unique}-ok", "source": "/t", "type": "pn.ledger.posted",
                       "time": "2023-01-01T00:00:00Z", "data": {**EXAMPLES["pn.ledger.posted"], "posting_id": unique}})
    bad = good.replace('"2023-01"', '"2023-13"')
    done = pn("publish", "pn.finance.postings", "-", bootstrap=broker.bootstrap, stdin=f"{good}\n{bad}\n")
    assert done.returncode != 0
    assert "line 2" in done.stderr and "period" in done.stderr and "nothing sent" in done.stderr
    tailed = pn("tail", "pn.finance.postings", "--from-beginning", "--json", "--timeout", "2",
                bootstrap=broker.bootstrap)
    assert unique not in tailed.stdout


def test_tail_colours_alerts_by_severity(broker, unique):
    alert = json.dumps({"specversion": "1.0", "id": unique, "source": "/t", "type": "pn.alert.raised",
                        "time": "2023-01-01T00:00:00Z",
                        "data": {**EXAMPLES["pn.alert.raised"], "alert_id": unique, "severity": "critical"}})
    assert pn("publish", "pn.alerts.budget", "-", bootstrap=broker.bootstrap, stdin=alert + "\n").returncode == 0
    tailed = pn("tail", "pn.alerts.budget", "pn.alerts.ops", "--from-beginning", "--timeout", "2",
                bootstrap=broker.bootstrap)
    assert tailed.returncode == 0, tailed.stderr
    assert "CRITICAL budget.forecast_deficit" in tailed.stdout
    assert "Prognos underskott" in tailed.stdout and "Forecast deficit" not in tailed.stdout  # Swedish by default


def test_unknown_topic_and_unreachable_broker_give_clear_errors(broker):
    done = pn("tail", "pn.nope", bootstrap=broker.bootstrap)
    assert done.returncode != 0 and "unknown topic 'pn.nope'" in done.stderr
    done = pn("publish", "pn.care.days", "-", bootstrap="127.0.0.1:1", stdin="", timeout=90)
    assert done.returncode != 0 and "cannot reach Kafka" in done.stderr


def test_schema_writes_valid_json_schemas_and_an_asyncapi_document(tmp_path):
    import jsonschema
    import yaml

    done = subprocess.run([sys.executable, "-m", "shared.cli", "schema", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    schemas = sorted((tmp_path / "schemas").glob("*.json"))
    assert {p.stem for p in schemas} == set(EXAMPLES)
    for path in schemas:
        schema = json.loads(path.read_text())
        jsonschema.Draft202012Validator.check_schema(schema)
        instance = {"specversion": "1.0", "id": "x", "source": "/t", "type": path.stem,
                    "time": "2023-01-01T00:00:00Z", "data": json.loads(json.dumps(EXAMPLES[path.stem]))}
        if path.stem in ("pn.ledger.posted",):
            instance["data"]["amount"] = "-420.00"
        jsonschema.Draft202012Validator(schema).validate(_as_output(instance))
    doc = yaml.safe_load((tmp_path / "asyncapi.yaml").read_text())
    assert doc["asyncapi"].startswith("3.")
    assert {c["address"] for c in doc["channels"].values()} == {t.name for t in CATALOG}


def _as_output(instance: dict) -> dict:
    """The serialised form of the example (amounts as strings, as the platform writes them)."""
    from shared.contract.events import decode, encode

    return json.loads(encode(decode(json.dumps(instance))))


def test_pn_broker_prints_ready_and_stops_on_ctrl_c():
    import signal
    import time

    from shared.kafka.broker import free_port

    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "shared.cli", "broker", "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith(f"ready 127.0.0.1:{port}"), line + proc.stderr.read()
        started = time.monotonic()
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0
        assert time.monotonic() - started < 15
    finally:
        if proc.poll() is None:
            proc.kill()


def _make_topics(bootstrap: str, topics: dict[str, tuple[int, dict[str, str]]]) -> None:
    import asyncio

    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    async def run() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(n, p, 1, topic_configs=c) for n, (p, c) in topics.items()])
        finally:
            await admin.close()

    asyncio.run(run())


def test_topics_reconciles_a_wrongly_configured_topic():
    """Issue 24 item 2, on its own broker (the session broker's topics stay as they are): the 7-day
    default retention on the record is shown by --dry-run, fixed by `pn topics`."""
    from shared.kafka.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        _make_topics(b.bootstrap, {"pn.budget.status": (4, {"cleanup.policy": "compact", "retention.ms": "604800000"})})
        dry = pn("topics", "--dry-run", bootstrap=b.bootstrap)
        assert dry.returncode == 0, dry.stderr
        assert "would config pn.budget.status: retention.ms 604800000 -> -1" in dry.stdout
        assert "would create pn.cases.opened: 4 partitions, cleanup.policy=delete retention.ms=-1" in dry.stdout
        done = pn("topics", bootstrap=b.bootstrap)
        assert done.returncode == 0, done.stderr
        assert "config pn.budget.status: retention.ms 604800000 -> -1" in done.stdout  # the dry run changed nothing
        again = pn("topics", "--dry-run", bootstrap=b.bootstrap)
        assert "all as the catalog" in again.stdout and "would " not in again.stdout.replace("would change", "")


def test_topics_refuses_to_shrink_partitions():
    from shared.kafka.broker import EmbeddedBroker

    with EmbeddedBroker() as b:
        _make_topics(b.bootstrap, {"pn.ticks": (8, {"cleanup.policy": "delete"})})
        done = pn("topics", bootstrap=b.bootstrap)
        assert done.returncode == 1
        assert "pn.ticks has 8 partitions, the catalog 4: Kafka cannot remove partitions" in done.stderr
        assert "Traceback" not in done.stderr
        assert "would create" not in done.stdout
        assert "create pn.cases.opened" in done.stdout  # the plan is shown, nothing applied
        again = pn("topics", "--dry-run", bootstrap=b.bootstrap)
        assert again.returncode == 1 and "create pn.cases.opened" in again.stdout  # still missing
