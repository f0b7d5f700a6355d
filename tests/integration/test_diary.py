"""The diary as its own process on the real broker: 2,000 mixed documents with duplicates are
numbered gaplessly, letters are dispatched only after their registration (also once an unknown
recipient appears), confidential subjects never reach the public register, lag alerts, web views.

Diary numbers are global per year on the session's broker (other tests' `pn.cases.opened` are
registered too), so gaplessness is asserted over every entry of a year on the topic.
"""

from __future__ import annotations

import asyncio
import csv
import io
import random
import urllib.error
import urllib.request
import uuid
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contract.events import make_event
from shared.contract.topics import (
    ALERTS_OPS,
    BY_NAME,
    CARE_UNITS,
    CASES_OPENED,
    DEADLETTER,
    DIARY_ENTRIES,
    LETTERS_DISPATCHED,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
)
from shared.kafka.io import Record, events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..unit.diary.factories import care_unit, case_opened, letter_in, letter_out

pytestmark = pytest.mark.broker

RUN = uuid.uuid4().hex[:10]
OFFICER_TOKEN, OFFICER = new_token("test-officer", "officer")
DIARY_SOURCE = "/pn/diary"
WAITING = {f"{RUN}-L{i}" for i in range(2000) if i % 3 == 2 and i % 100 == 2}
"""Outgoing letters of the 2,000 whose recipient unit is published only after their registration."""


def event(data: Any, *, id: str | None = None, time: datetime | None = None):
    return make_event(data, source="/test/diary", time=time or datetime.now(UTC), id=id or str(uuid.uuid4()))


def unit_id(tag: str, i: int) -> str:
    return f"SE2321000180-{tag}{i}"


def secret(tag: str, i: int) -> str:
    return f"SECRET-{tag}-{i} journalanteckning"


def documents(tag: str, n: int, *, units: int = 8, unknown_every: int = 0, seed: int = 1) -> dict:
    """`n` distinct documents (cases, letters in, letters out) for `tag`, plus duplicates: the same
    event again (~10 %) and the same document under a new event id (~5 %). Returns events per topic."""
    rnd = random.Random(seed)
    out: dict[str, list] = defaultdict(list)
    for i in range(n):
        case = f"{tag}-C{i // 3}"
        kind = i % 3
        recipient = unit_id(tag, "X") if unknown_every and i % unknown_every == 2 else unit_id(tag, i % units)
        confidential = i % 4 != 0
        subject = secret(tag, i) if confidential else f"Begäran om yttrande {tag}-{i}"
        if kind == 0:
            topic, data = CASES_OPENED, case_opened(case, care_unit_hsa_id=unit_id(tag, i % units))
        elif kind == 1:
            topic, data = LETTERS_INCOMING, letter_in(f"{tag}-R{i}", case, confidential=confidential, subject=subject)
        else:
            topic, data = LETTERS_OUTGOING, letter_out(f"{tag}-L{i}", case, recipient=recipient,
                                                     confidential=confidential, subject=subject)
        first = event(data, id=f"{tag}-e{i}")
        out[topic.name].append(first)
        if rnd.random() < 0.10:
            out[topic.name].append(first)
        if rnd.random() < 0.05:
            out[topic.name].append(event(data, id=f"{tag}-e{i}-again"))
    for events in out.values():
        rnd.shuffle(events)  # arrival order differs from creation order; the numbering does not care
    return out


async def publish(settings: PnSettings, docs: dict) -> None:
    await asyncio.gather(*(produce(settings, BY_NAME[name], events) for name, events in docs.items()))


def unique_events(records: list[Record]) -> list[Any]:
    """Events by id (an at-least-once re-emit carries the same id and counts once)."""
    return list({e.id: e for e in events_of(records)}.values())


def check_numbering(entries: list[Any]) -> dict[int, int]:
    """Every year's numbers the diary put on the topic are exactly 1..N, each held by one document;
    returns N per year. (Other tests publish stand-in entries from their own source: not ours.)"""
    entries = [e for e in entries if e.source == DIARY_SOURCE]
    by_number: dict[str, set[str]] = defaultdict(set)
    by_document: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for e in entries:
        d = e.data
        by_number[d.diary_number].add(e.id)
        by_document[(d.direction, d.document_kind, d.document_id)].add(d.diary_number)
    assert all(len(ids) == 1 for ids in by_number.values()), "a number was given to two documents"
    assert all(len(numbers) == 1 for numbers in by_document.values()), "a document got two numbers"
    per_year: dict[int, list[int]] = defaultdict(list)
    for number in by_number:
        year, n = number.rsplit(" ", 1)[1].split("/")
        per_year[int(year)].append(int(n))
    for year, numbers in per_year.items():
        assert sorted(numbers) == list(range(1, len(numbers) + 1)), f"gap or repeat in {year}"
    return {year: len(numbers) for year, numbers in per_year.items()}


def mine(events: list[Any], tag: str) -> list[Any]:
    return [e for e in events if e.data.case_id.startswith(f"{tag}-")]


def unknown_recipient_alerts(records: list[Record]) -> set[str]:
    return {e.data.facts["letter_id"] for e in events_of(records) if e.data.rule_id == "diary.unknown_recipient"
            and e.data.facts.get("letter_id", "").startswith(f"{RUN}-")}


def get(stack: Stack, path: str, token: str | None = OFFICER_TOKEN) -> tuple[int, bytes, str]:
    req = urllib.request.Request(f"http://127.0.0.1:{stack.processes['diary'].web_port}{path}")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read(), r.headers.get("Content-Type", "")
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(), ""


@pytest.fixture(scope="module")
def settings(broker) -> PnSettings:
    return PnSettings(kafka_bootstrap=broker.bootstrap)


@pytest.fixture(scope="module")
def stack(broker, settings, tmp_path_factory):
    asyncio.run(produce(settings, CARE_UNITS, [event(care_unit(unit_id(RUN, i))) for i in range(8)]))
    stack = Stack(["diary"], work_dir=tmp_path_factory.mktemp("diary"), bootstrap=broker.bootstrap,
                  env={"PN_TOKENS": OFFICER.line()})
    stack.start(timeout=90)
    yield stack
    stack.stop()


@pytest.fixture(scope="module")
def registered(stack, settings):
    """2,000 documents with duplicates, the unknown recipient appearing afterwards; all outputs."""
    asyncio.run(publish(settings, documents(RUN, 2000, unknown_every=100)))

    def all_mine(records):
        return len({e.data.document_id for e in mine(events_of(records), RUN)}) >= 2000

    asyncio.run(wait_for(settings, [DIARY_ENTRIES], all_mine, timeout=120))
    asyncio.run(wait_for(settings, [ALERTS_OPS], lambda rs: unknown_recipient_alerts(rs) == WAITING, timeout=60))
    asyncio.run(produce(settings, CARE_UNITS, [event(care_unit(unit_id(RUN, "X")))]))
    outgoing = 2000 // 3

    def all_sent(records):
        return len({e.data.letter_id for e in mine(events_of(records), RUN)}) >= outgoing

    asyncio.run(wait_for(settings, [LETTERS_DISPATCHED], all_sent, timeout=60))
    records = asyncio.run(read_all(settings, [DIARY_ENTRIES, LETTERS_DISPATCHED, ALERTS_OPS]))
    return records


def test_2000_documents_with_duplicates_are_numbered_1_to_n_without_gap_or_repeat(registered):
    entries = unique_events([r for r in registered if r.topic == DIARY_ENTRIES.name])
    counts = check_numbering(entries)
    assert len(mine(entries, RUN)) == 2000 and sum(counts.values()) >= 2000
    kinds = {(e.data.direction, e.data.document_kind) for e in mine(entries, RUN)}
    assert kinds == {("in", "complaint"), ("in", "letter"), ("out", "letter")}


def test_every_dispatched_letter_has_its_number_and_was_registered_first(registered):
    entries = {e.data.diary_number: (e, r) for r in registered if r.topic == DIARY_ENTRIES.name
               for e in events_of([r])}
    sent = [(e, r) for r in registered if r.topic == LETTERS_DISPATCHED.name for e in events_of([r])
            if e.data.case_id and e.data.case_id.startswith(f"{RUN}-")]
    assert len({e.data.letter_id for e, _ in sent}) == 2000 // 3
    for dispatch, record in sent:
        entry, entry_record = entries[dispatch.data.diary_number]
        assert (entry.data.direction, entry.data.document_kind, entry.data.document_id) == (
            "out", "letter", dispatch.data.letter_id)
        assert entry_record.timestamp <= record.timestamp and entry.time <= dispatch.time
        assert dispatch.data.registry_address.startswith("Region Dalarna, Registratur")


def test_unknown_recipient_was_alerted_and_dispatched_once_the_unit_appeared(registered):
    assert unknown_recipient_alerts([r for r in registered if r.topic == ALERTS_OPS.name]) == WAITING
    sent = {e.data.letter_id: e.data for r in registered if r.topic == LETTERS_DISPATCHED.name
            for e in events_of([r])}
    assert all(sent[letter].recipient_hsa_id == unit_id(RUN, "X") for letter in WAITING)


def test_confidential_subjects_never_appear_on_the_public_topics(registered):
    assert not [r for r in registered if f"SECRET-{RUN}".encode() in (r.value or b"")]
    entries = mine(unique_events([r for r in registered if r.topic == DIARY_ENTRIES.name]), RUN)
    confidential = [e.data for e in entries if e.data.confidential]
    assert confidential and all(d.confidentiality_ref == "25 kap. 1 § OSL" for d in confidential)
    assert {d.subject for d in confidential} == {
        "Klagomål avseende vård", "Skrivelse till vårdgivare", "Skrivelse från vårdgivare"}
    assert any(not e.data.confidential and e.data.subject.startswith("Begäran") for e in entries)


def test_web_views_show_the_masked_register(stack, registered):
    entries = mine(unique_events([r for r in registered if r.topic == DIARY_ENTRIES.name]), RUN)
    entry = next(e.data for e in entries if e.data.confidential and e.data.document_kind == "letter")
    year, n = entry.diary_number.rsplit(" ", 1)[1].split("/")
    status, body, _ = get(stack, f"/diary/{year}/{n}")
    assert status == 200 and entry.diary_number.encode() in body and b"SECRET" not in body
    assert get(stack, f"/diary/{year}/{n}", token=None)[0] == 401
    assert get(stack, f"/diary/{year}/99999999")[0] == 404
    status, body, _ = get(stack, f"/diary?case_id={entry.case_id}")
    assert status == 200 and entry.diary_number.encode() in body and b"SECRET" not in body
    status, body, content_type = get(stack, f"/diary/export?year={year}")
    rows = list(csv.reader(io.StringIO(body.decode())))
    assert status == 200 and content_type.startswith("text/csv") and b"SECRET" not in body
    assert [row[0] for row in rows[1:]] == [f"PN {year}/{i}" for i in range(1, len(rows))]


def test_late_documents_raise_a_lag_alert_and_bad_input_is_dead_lettered(stack, settings, registered):
    tag = uuid.uuid4().hex[:10]
    late = event(letter_in(f"{tag}-R1", f"{tag}-C1"), time=datetime.now(UTC) - timedelta(minutes=10))
    asyncio.run(produce(settings, LETTERS_OUTGOING, [f"not json {tag}".encode()], keys=[b"x"]))
    asyncio.run(produce(settings, LETTERS_INCOMING, [late]))

    def lag_alert(records):
        return any(e.data.rule_id == "diary.registration_lag" and e.data.subject == f"{tag}-C1"
                   for e in events_of(records))

    asyncio.run(wait_for(settings, [ALERTS_OPS], lag_alert, timeout=30))
    letters = asyncio.run(read_all(settings, [DEADLETTER]))
    assert any(e.data.service == "diary" and tag in e.data.raw for e in events_of(letters))
