"""One fuzz run: own broker, intake + diary + billing as processes, ≥ 2,000 bad messages mixed with
valid ones on every public input topic and on `POST /complaints`; what came out, for the tests.

Used by the session fixture `fuzz_run` (tests/reliability/conftest.py), so test_fuzz.py and
test_privacy.py share one run. Determinism: the bad messages come from hypothesis strategies
(fuzz_messages.py) drawn with `derandomize=True`; valid ones and the mixing order from
`random.Random(SEED)`; only the run tag in ids differs between runs.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from services.billing.handlers import day_key
from shared.contract.events import decoder_for, encode, make_event
from shared.contract.events.envelope import CONTENT_TYPE_HEADER
from shared.contract.topics import (
    BY_NAME,
    CARE_DAYS,
    CARE_UNITS,
    CASES_OPENED,
    COMPLAINTS_REJECTED,
    COMPLAINTS_SUBMITTED,
    DEADLETTER,
    DIARY_ENTRIES,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
)
from shared.kafka.broker import EmbeddedBroker
from shared.kafka.io import topic_partitions
from shared.platform.supervisor import Stack
from shared.service.processor import MAX_VALUE_BYTES
from shared.web.auth import new_token

from ..unit.billing.factories import care_day
from ..unit.diary.factories import case_opened, letter_in, letter_out
from ..unit.intake.factories import care_unit, complaint, personnummer
from .fuzz_messages import BAD, CONSUMERS, HAS_BUDGET, HAS_FEES, Bad, examples, http_bodies, huge
from .fuzz_poison import Plan, build, problems

ROOT = Path(__file__).resolve().parents[2]
SEED = 2026
SERVICES = ["intake", "diary", "billing", *(["fees"] if HAS_FEES else []), *(["budget"] if HAS_BUDGET else [])]
N_BAD, N_HUGE, N_HTTP_BAD = 2000, 6, 60
BILLING_CHANGELOG = "pn-billing-days-changelog"


@dataclass
class Sent:
    kind: str
    topic: str
    value: bytes
    partition: int = -1
    offset: int = -1


@dataclass
class FuzzResult:
    bad: list[Sent]
    rejected_expected: dict[str, Sent]  # complaint event id -> message (business rejection)
    valid_complaints: set[str]
    valid_documents: set[tuple[str, str, str]]
    valid_days: set[str]
    http_bad: list[tuple[str, int, Any]]  # kind, status, body
    http_valid: dict[str, int]  # accepted event id -> status
    records: dict[str, list[Any]]
    pids_before: dict[str, int]
    pids_after: dict[str, int | None]
    alive_after: dict[str, bool]
    log_paths: list[Path]
    secrets: list[str] = field(default_factory=list)
    seconds: float = 0.0
    discarded: int = 0
    poison: Plan | None = None  # issue 22: oversized poison, valid records behind it, reused ids
    kafka_sent: int = 0  # every record the fuzzer produced


def decodes(topic: str, value: bytes) -> bool:
    """Would the shared consumer accept this value on this topic? (the same size bound and decoder)"""
    if len(value) > MAX_VALUE_BYTES:
        return False
    try:
        decoder_for(BY_NAME[topic].event_types).validate_json(value)
        return True
    except Exception:
        return False


def _event(data: Any, id: str) -> Any:
    return make_event(data, source="/test/fuzz", time=datetime.now(UTC), id=id)


async def _produce(bootstrap: str, items: list[Sent], keys: list[bytes | None]) -> None:
    from aiokafka import AIOKafkaProducer

    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5, max_request_size=4 * 1048576,
                                max_batch_size=262_144)
    await producer.start()
    try:
        futures = [await producer.send(s.topic, s.value, key=k, headers=[CONTENT_TYPE_HEADER])
                   for s, k in zip(items, keys, strict=True)]
        for s, meta in zip(items, await asyncio.gather(*futures), strict=True):
            s.partition, s.offset = meta.partition, meta.offset
    finally:
        await producer.stop()


async def _collect(bootstrap: str, topics: list[str], done: Any, timeout: float) -> dict[str, list[Any]]:
    """Read the topics from the beginning, incrementally, until `done(records)` or the timeout."""
    from aiokafka import AIOKafkaConsumer

    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                max_partition_fetch_bytes=16 * 1048576, fetch_max_bytes=64 * 1048576)
    await consumer.start()
    records: dict[str, list[Any]] = {t: [] for t in topics}
    try:
        tps = [tp for name in topics for tp in await topic_partitions(consumer, name)]
        consumer.assign(tps)
        await consumer.seek_to_beginning(*tps)
        deadline, checked = time.monotonic() + timeout, 0.0
        while time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=300, max_records=20_000)
            for tp, rs in batch.items():
                records[tp.topic] += rs
            if not batch or time.monotonic() - checked > 2:
                checked = time.monotonic()
                if done(records):
                    break
    finally:
        await consumer.stop()
    return records


def _post(port: int, token: str, body: bytes) -> tuple[int, Any]:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/complaints", data=body, method="POST",
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            status, raw = resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        status, raw = exc.code, exc.read()
    try:
        return status, json.loads(raw)
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def run_fuzz(work_dir: Path) -> FuzzResult:
    started = time.monotonic()
    rng = random.Random(SEED)
    tag = uuid.uuid4().hex[:8]
    token, entry = new_token("fuzz-submitter", "submitter")

    # -- bad messages (hypothesis, derandomized) ---------------------------------------------------
    drawn: list[Bad] = examples(BAD, N_BAD + 400) + examples(huge(), N_HUGE)
    bad = [Sent(b.kind, b.topic.name, b.value) for b in drawn if not decodes(b.topic.name, b.value)]
    discarded = len(drawn) - len(bad)
    bad = bad[:N_BAD] + [s for s in bad if s.kind == "huge_string"][:N_HUGE]

    # -- valid messages and business rejections -------------------------------------------------------
    secrets: list[str] = []
    units = [care_unit(f"SE2321000180-F{tag}{k}") for k in range(3)]
    valid: list[tuple[Sent, bytes | None]] = []

    def add(topic: Any, ev: Any, kind: str) -> Sent:
        sent = Sent(kind, topic.name, encode(ev))
        valid.append((sent, topic.key_for(ev).encode()))
        return sent

    complaints, rejected, documents, days = set(), {}, set(), set()
    for i in range(100):
        pnr = personnummer(5000 + i)
        text = f"Fuzz {tag} klagomål {i}: jag fick ett otrevligt bemötande på mottagningen"
        secrets += [pnr, text]
        eid = f"{tag}-ok-{i}"
        add(COMPLAINTS_SUBMITTED, _event(complaint(external_ref=f"{tag}-{i}", care_unit_hsa_id=units[i % 3].hsa_id,
                                                   patient={"personnummer": pnr, "name": "Test Testsson"},
                                                   description=text), eid), "valid.complaint")
        complaints.add(eid)
    for i in range(30):  # checksum-invalid personnummer: a business rejection, not a dead letter
        good = personnummer(6000 + i)
        pnr = good[:-1] + str((int(good[-1]) + 1) % 10)
        text = f"Fuzz {tag} avvisat {i}: ingen fick veta något om min behandling"
        secrets += [pnr, text]
        eid = f"{tag}-rej-{i}"
        rejected[eid] = add(COMPLAINTS_SUBMITTED, _event(complaint(external_ref=None, patient={"personnummer": pnr},
                                                                   description=text), eid), "rejected.personnummer")
    for i in range(50):
        case_id = f"FZ-{tag}-{i}"
        add(CASES_OPENED, _event(case_opened(case_id, care_unit_hsa_id=units[i % 3].hsa_id), f"{tag}-case-{i}"),
            "valid.case")
        add(LETTERS_OUTGOING, _event(letter_out(f"{tag}-L{i}", case_id, recipient=units[i % 3].hsa_id),
                                     f"{tag}-lo-{i}"), "valid.letter_out")
        add(LETTERS_INCOMING, _event(letter_in(f"{tag}-R{i}", case_id), f"{tag}-li-{i}"), "valid.letter_in")
        documents |= {(case_id, "in", "complaint"), (case_id, "out", "letter"), (case_id, "in", "letter")}
    for i in range(100):
        day = care_day(home="21", on=f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}", care_day_id=f"{tag}-D{i}",
                       patient=f"{tag}-P{i}", stay=f"{tag}-S{i}")
        add(CARE_DAYS, _event(day, f"{tag}-day-{i}"), "valid.care_day")
        days.add(day_key(day))

    # mixed: valid and bad interleaved deterministically
    mixed: list[tuple[Sent, bytes | None]] = [(s, None) for s in bad] + valid
    rng.shuffle(mixed)

    broker = EmbeddedBroker(log_file=work_dir / "broker.log").start()
    env = {"PN_TOKENS": entry.line(), "PN_RULES_DIR": str(ROOT / "rules"), "PN_INTAKE_TICK_S": "5"}
    stack = Stack(SERVICES, work_dir=work_dir, bootstrap=broker.bootstrap, env=env)
    try:
        stack.start(timeout=90)
        pids_before = {n: p.proc.pid for n, p in stack.processes.items()}
        asyncio.run(_produce(broker.bootstrap, [Sent("unit", CARE_UNITS.name, encode(_event(u, f"{tag}-u-{u.hsa_id}")))
                                                 for u in units], [u.hsa_id.encode() for u in units]))
        asyncio.run(_produce(broker.bootstrap, [s for s, _ in mixed], [k for _, k in mixed]))
        poison = build(tag, SEED + 22)
        asyncio.run(_produce(broker.bootstrap, poison.records, [r.key for r in poison.records]))

        # HTTP: bad bodies (hypothesis) and valid complaints
        port = stack.processes["intake"].web_port
        http_bad = []
        for kind, body in examples(http_bodies(), N_HTTP_BAD):
            status, answer = _post(port, token, body)
            http_bad.append((kind, status, answer))
        http_valid = {}
        for i in range(20):
            pnr, text = personnummer(7000 + i), f"Fuzz {tag} webb {i}: väntetiden var orimligt lång"
            secrets += [pnr, text]
            body = complaint(external_ref=f"{tag}-http-{i}", care_unit_hsa_id=units[0].hsa_id,
                             patient={"personnummer": pnr}, description=text).model_dump_json(exclude_none=True)
            status, answer = _post(port, token, body.encode())
            if isinstance(answer, dict) and "id" in answer:
                http_valid[answer["id"]] = status
                complaints.add(answer["id"])
            else:
                http_valid[f"failed-{i}"] = status

        expected_dead = {(svc, s.topic, s.partition, s.offset) for s in bad for svc in CONSUMERS[s.topic]}

        def done(records: dict[str, list[Any]]) -> bool:
            dead = set()
            for r in records[DEADLETTER.name]:
                data = data_of(r.value)
                dead.add((data.get("service"), data.get("source_topic"), data.get("partition"), data.get("offset")))
            opened = {data_of(r.value).get("complaint_event_id") for r in records[CASES_OPENED.name]}
            entries = {(d.get("case_id"), d.get("direction"), d.get("document_kind"))
                       for d in (data_of(r.value) for r in records[DIARY_ENTRIES.name])}
            stored = {key_of(r.key) for r in records[BILLING_CHANGELOG]}
            refused = {data_of(r.value).get("complaint_event_id") for r in records[COMPLAINTS_REJECTED.name]}
            return (expected_dead <= dead and complaints <= opened and documents <= entries and days <= stored
                    and set(rejected) <= refused | {k for k in rejected if _dead_for(records, rejected[k])}
                    and not problems(poison, records, data_of, key_of))

        collected = [DEADLETTER.name, CASES_OPENED.name, DIARY_ENTRIES.name, COMPLAINTS_REJECTED.name, BILLING_CHANGELOG,
                     *(["pn.fees.calculated", "pn.fees.rejected"] if HAS_FEES else []),
                     *(["pn.budget.status"] if HAS_BUDGET else [])]
        records = asyncio.run(_collect(broker.bootstrap, collected, done, 90))
        alive = {n: p.alive() for n, p in stack.processes.items()}
        pids_after = {n: (p.proc.pid if p.proc else None) for n, p in stack.processes.items()}
    finally:
        stack.stop()
        broker.stop()
    return FuzzResult(bad=bad, rejected_expected=rejected, valid_complaints=complaints, valid_documents=documents,
                      valid_days=days, http_bad=http_bad, http_valid=http_valid, records=records,
                      pids_before=pids_before, pids_after=pids_after, alive_after=alive,
                      log_paths=sorted((work_dir / "logs").glob("*.log")), secrets=secrets,
                      seconds=time.monotonic() - started, discarded=discarded, poison=poison,
                      kafka_sent=len(units) + len(mixed) + len(poison.records))


def data_of(value: bytes | None) -> dict[str, Any]:
    """The `data` of a record a service published (source `/pn/...`); {} for anything else, such as
    the fuzzer's own messages on the same topic."""
    try:
        body = json.loads(value or b"")
    except (ValueError, RecursionError):
        return {}
    if not isinstance(body, dict) or not str(body.get("source", "")).startswith("/pn/"):
        return {}
    data = body.get("data")
    return data if isinstance(data, dict) else {}


def key_of(key: bytes | None) -> Any:
    try:
        value = json.loads(key) if key else None
        return value if isinstance(value, str) else None
    except ValueError:
        return None


def _dead_for(records: dict[str, list[Any]], sent: Sent) -> bool:
    for r in records[DEADLETTER.name]:
        data = data_of(r.value)
        if (data.get("source_topic"), data.get("partition"), data.get("offset")) == (sent.topic, sent.partition,
                                                                                      sent.offset):
            return True
    return False
