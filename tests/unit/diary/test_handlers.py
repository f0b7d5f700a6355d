"""Diary handlers driven through both shared Processors with fakes, the queue and the entries looped
back in memory as the broker would deliver them."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
import structlog

from services.diary.app import wire
from services.diary.settings import Settings
from services.diary.spec import SPEC
from services.diary.web import case_entries
from shared.contract.events import encode
from shared.contract.topics import (
    ALERTS_OPS,
    CARE_UNITS,
    CASES_OPENED,
    DIARY_ENTRIES,
    DIARY_QUEUE,
    LETTERS_DISPATCHED,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
)
from shared.service.processor import Message
from shared.service.testing import FakePublisher, FixedClock, InMemoryRuntime, envelope, message

from .factories import SECRET, UNIT, care_unit, case_opened, letter_in, letter_out

START = datetime(2023, 6, 1, 12, tzinfo=UTC)


class CrashAfterSend(FakePublisher):
    """The broker gets the output, then the worker dies before it commits its state."""

    def send(self, topic, key, value, headers):
        super().send(topic, key, value, headers)
        fut = asyncio.get_event_loop().create_future()
        fut.set_exception(SystemExit("kill -9"))
        return fut


class Diary:
    """The diary as app.py wires it (`wire`) over one set of tables; a restart keeps only
    committed table contents."""

    def __init__(self, clock: FixedClock | None = None, tables: dict | None = None,
                 publisher: FakePublisher | None = None, **settings) -> None:
        config = Settings(**settings)
        self.runtime = InMemoryRuntime(SPEC, config, clock=clock or FixedClock(START), publisher=publisher,
                                       tables=tables)
        self.clock, self.publisher, self.tables = self.runtime.clock, self.runtime.sent, self.runtime.tables
        self.deps = wire(self.runtime, config)
        self.intake = self.runtime.processor_for(CASES_OPENED)
        self.numbering = self.runtime.processor_for(DIARY_QUEUE)

    def restarted(self, publisher: FakePublisher | None = None) -> Diary:
        return Diary(self.clock, self.tables, publisher or self.publisher)

    async def send(self, topic, payload, **kwargs) -> None:
        kwargs.setdefault("time", self.clock.now())
        await self.intake.process(message(topic, payload, **kwargs))
        await self.pump()

    async def pump(self) -> None:
        """Deliver what the diary wrote to its own queue and entries topics, until nothing new."""
        await self.runtime.pump(one_by_one=True)

    def on(self, topic):
        return [e.data for e in self.publisher.on(topic)]

    def numbers(self):
        return [e.diary_number for e in self.on(DIARY_ENTRIES)]


@pytest.fixture
def diary():
    return Diary()


async def test_documents_are_numbered_from_one_and_duplicates_keep_their_number(diary):
    await diary.send(CASES_OPENED, case_opened("C1"), id="e1")
    await diary.send(LETTERS_INCOMING, letter_in("R1", "C1"), id="e2")
    await diary.send(CASES_OPENED, case_opened("C1"), id="e1")  # same event again
    await diary.send(CASES_OPENED, case_opened("C1"), id="e3")  # same document, new event id
    await diary.send(LETTERS_OUTGOING, letter_out("L1", "C1", confidential=False, subject="Begäran"), id="e4")
    assert diary.numbers() == ["PN 2023/1", "PN 2023/2", "PN 2023/3"]
    kinds = [(e.direction, e.document_kind, e.document_id) for e in diary.on(DIARY_ENTRIES)]
    assert kinds == [("in", "complaint", "C1"), ("in", "letter", "R1"), ("out", "letter", "L1")]
    assert [e["diary_number"] for e in case_entries(diary.deps.registry, "C1")] == diary.numbers()


async def test_the_registry_gets_two_keys_per_complaint_and_three_per_letter_and_no_seen_ids(diary):
    await diary.send(CASES_OPENED, case_opened("C1"))
    assert sorted(diary.tables["registry"]) == ["doc|complaint:C1", "number|2023|1"]
    await diary.send(LETTERS_INCOMING, letter_in("R1", "C1"))
    await diary.send(LETTERS_INCOMING, letter_in("R1", "C1"), id="again")  # the same document: no write
    assert sorted(diary.tables["registry"]) == [
        "case|C1", "doc|complaint:C1", "doc|in-letter:R1", "number|2023|1", "number|2023|2"]
    assert diary.tables["registry"]["case|C1"] == ["in-letter:R1"]
    assert "seen-p1" not in diary.tables  # the numbering keeps no seen ids: doc| is its dedup fact


async def test_state_of_earlier_versions_is_read_on(diary):
    """Earlier versions wrote `seq|<year>`, listed the complaint under `case|`, and kept queue ids
    in `seen-p1`: numbering goes on after the last number, and the case view lists each once."""
    registry = diary.tables["registry"]
    for n, key in ((1, "complaint:C1"), (2, "in-letter:R1")):
        registry[f"number|2023|{n}"] = key
        registry[f"doc|{key}"] = {"diary_number": f"PN 2023/{n}", "case_id": "C1"}
    registry["case|C1"], registry["seq|2023"] = ["complaint:C1", "in-letter:R1"], 2
    await diary.send(LETTERS_OUTGOING, letter_out("L1", "C1"))
    await diary.send(LETTERS_INCOMING, letter_in("R1", "C1"), id="dup")  # registered by the old version
    assert diary.numbers() == ["PN 2023/3"]
    assert registry["seq|2023"] == 2  # read, no longer written
    assert [e["diary_number"] for e in case_entries(diary.deps.registry, "C1")] == [
        "PN 2023/1", "PN 2023/2", "PN 2023/3"]


async def test_a_rolled_back_batch_gives_its_numbers_out_again(diary):
    """The in-memory last number is a cache: after a failed publish the store no longer holds it."""
    await diary.send(CASES_OPENED, case_opened("C1"))
    await diary.intake.process(message(CASES_OPENED, case_opened("C2"), time=START))
    [queued] = [s for s in diary.publisher.sent if s.topic == DIARY_QUEUE.name][-1:]
    diary.numbering.publisher = CrashAfterSend()
    with pytest.raises(SystemExit):
        await diary.numbering.process(Message(DIARY_QUEUE.name, 0, 98, None, queued.value))
    assert diary.deps.last_numbers[2023] == 2 and "number|2023|2" not in diary.deps.registry
    diary.numbering.publisher = diary.publisher
    await diary.send(CASES_OPENED, case_opened("C3"))  # C2's queue record is delivered again first
    assert diary.numbers() == ["PN 2023/1", "PN 2023/2", "PN 2023/3"]  # no gap after the rolled-back 2
    assert [e.document_id for e in diary.on(DIARY_ENTRIES)] == ["C1", "C2", "C3"]


async def test_the_prefix_is_a_setting():
    diary = Diary(diary_prefix="PNX")
    await diary.send(CASES_OPENED, case_opened("C1"))
    assert diary.numbers() == ["PNX 2023/1"]


async def test_confidential_subjects_stay_in_the_store_only(diary):
    await diary.send(LETTERS_OUTGOING, letter_out("L1"))
    await diary.send(LETTERS_INCOMING, letter_in("R1"))
    await diary.send(CASES_OPENED, case_opened("C9"))
    public = [s for s in diary.publisher.sent if s.topic != DIARY_QUEUE.name]
    assert public and all(SECRET.encode() not in s.value for s in public)
    assert all(e.confidential and e.confidentiality_ref == "25 kap. 1 § OSL" for e in diary.on(DIARY_ENTRIES))
    assert diary.deps.registry["doc|out-letter:L1"]["original_subject"] == SECRET


async def test_no_subject_or_personnummer_in_the_log(diary):
    with structlog.testing.capture_logs() as logs:
        await diary.send(LETTERS_OUTGOING, letter_out("L1"))
    assert logs and SECRET not in repr(logs) and "19600101" not in repr(logs)


async def test_year_change_31_december_and_1_january(diary):
    diary.clock.at = datetime(2023, 12, 31, 22, 30, tzinfo=UTC)  # 23:30 in Sweden
    for i in range(3):
        await diary.send(CASES_OPENED, case_opened(f"D{i}"))
    diary.clock.at = datetime(2023, 12, 31, 23, 30, tzinfo=UTC)  # 00:30 on 1 January
    for i in range(2):
        await diary.send(CASES_OPENED, case_opened(f"J{i}"))
    assert diary.numbers() == ["PN 2023/1", "PN 2023/2", "PN 2023/3", "PN 2024/1", "PN 2024/2"]


async def test_a_crash_after_the_entry_was_sent_re_emits_the_same_number_and_id(diary):
    await diary.send(CASES_OPENED, case_opened("C1"))
    await diary.intake.process(message(CASES_OPENED, case_opened("C2"), time=START))  # queued, not numbered yet
    [queued] = [s for s in diary.publisher.sent if s.topic == DIARY_QUEUE.name][-1:]
    record = Message(DIARY_QUEUE.name, 0, 99, None, queued.value)
    crashing = diary.restarted(publisher=CrashAfterSend())
    with pytest.raises(SystemExit):
        await crashing.numbering.process(record)
    [lost] = crashing.publisher.on(DIARY_ENTRIES)
    again = diary.restarted(publisher=FakePublisher())
    await again.numbering.process(record)
    [replayed] = again.publisher.on(DIARY_ENTRIES)
    assert (replayed.id, replayed.data) == (lost.id, lost.data)
    assert replayed.data.diary_number == "PN 2023/2"
    await again.send(CASES_OPENED, case_opened("C3"))
    assert again.numbers()[-1] == "PN 2023/3"


async def test_a_crash_that_kept_only_a_prefix_of_the_writes_never_hands_a_number_out_twice(diary):
    await diary.send(CASES_OPENED, case_opened("C1"))
    registry = diary.tables["registry"]
    registry["number|2023|2"] = "complaint:C2"  # C2's first write survived, its counter did not
    await diary.send(CASES_OPENED, case_opened("C2"))  # the replay meets C2 first: its own number
    assert diary.numbers() == ["PN 2023/1", "PN 2023/2"]
    registry["number|2023|3"] = "complaint:C3"  # C3's mapping and document survived, not its counter
    registry["doc|complaint:C3"] = {"diary_number": "PN 2023/3"}
    await diary.send(CASES_OPENED, case_opened("C3"))  # registered: no second entry
    await diary.send(CASES_OPENED, case_opened("C4"))
    assert diary.numbers() == ["PN 2023/1", "PN 2023/2", "PN 2023/4"]


async def test_an_outgoing_letter_is_dispatched_after_its_registration(diary):
    await diary.send(CARE_UNITS, care_unit())
    await diary.send(LETTERS_OUTGOING, letter_out("L1", "C1"))
    kinds = [s.topic for s in diary.publisher.sent]
    assert kinds.index(DIARY_ENTRIES.name) < kinds.index(LETTERS_DISPATCHED.name)
    [entry], [sent] = diary.on(DIARY_ENTRIES), diary.on(LETTERS_DISPATCHED)
    assert (sent.letter_id, sent.diary_number, sent.recipient_hsa_id, sent.case_id) == (
        "L1", entry.diary_number, UNIT, "C1")
    assert sent.registry_address.startswith("Region Dalarna, Registratur")
    assert diary.publisher.sent[kinds.index(LETTERS_DISPATCHED.name)].key == UNIT.encode()


async def test_incoming_letters_and_complaints_are_not_dispatched(diary):
    await diary.send(CARE_UNITS, care_unit())
    await diary.send(LETTERS_INCOMING, letter_in("R1"))
    await diary.send(CASES_OPENED, case_opened("C1"))
    assert diary.on(LETTERS_DISPATCHED) == []


async def test_unknown_recipient_waits_with_an_alert_and_is_dispatched_when_the_unit_appears(diary):
    await diary.send(LETTERS_OUTGOING, letter_out("L1", "C1"))
    assert diary.on(LETTERS_DISPATCHED) == []
    [alert] = diary.on(ALERTS_OPS)
    assert (alert.rule_id, alert.facts["letter_id"], alert.facts["recipient_hsa_id"]) == (
        "diary.unknown_recipient", "L1", UNIT)
    await diary.send(CARE_UNITS, care_unit())
    [sent] = diary.on(LETTERS_DISPATCHED)
    assert (sent.letter_id, sent.diary_number) == ("L1", "PN 2023/1")
    await diary.send(CARE_UNITS, care_unit(), id="again")  # the unit once more: nothing waits now
    assert len(diary.on(LETTERS_DISPATCHED)) == 1


async def test_a_re_dispatch_carries_the_same_event_id(diary):
    await diary.send(CARE_UNITS, care_unit())
    await diary.send(LETTERS_OUTGOING, letter_out("L1"))
    [entry] = diary.publisher.on(DIARY_ENTRIES)
    fresh = Diary(diary.clock, {**diary.tables, "seen-p4": {}})  # at-least-once: the entry is read again
    await fresh.intake.process(Message(DIARY_ENTRIES.name, 0, 0, None, encode(entry)))
    await fresh.pump()  # on to pn.diary.dispatch, the recipient's partition
    [first] = diary.publisher.on(LETTERS_DISPATCHED)
    [second] = fresh.publisher.on(LETTERS_DISPATCHED)
    assert first.id == second.id


async def test_registration_lag_raises_an_ops_alert_only_over_the_threshold(diary):
    await diary.send(LETTERS_INCOMING, letter_in("R1"), time=datetime(2023, 6, 1, 11, 59, 30, tzinfo=UTC))
    assert diary.on(ALERTS_OPS) == []
    await diary.send(LETTERS_INCOMING, letter_in("R2"), time=datetime(2023, 6, 1, 11, 58, tzinfo=UTC))
    [alert] = diary.on(ALERTS_OPS)
    assert (alert.rule_id, alert.facts["document"], alert.facts["lag_seconds"]) == (
        "diary.registration_lag", "in-letter:R2", 120.0)
    assert len(diary.on(DIARY_ENTRIES)) == 2


async def test_bad_input_is_dead_lettered_and_the_next_document_is_registered(diary):
    await diary.intake.process(Message(LETTERS_OUTGOING.name, 0, 0, None, b"{not json"))
    await diary.send(LETTERS_OUTGOING, envelope(letter_out("L2")))
    assert [s.topic for s in diary.publisher.sent][0] == "pn.deadletter"
    assert diary.numbers() == ["PN 2023/1"]


async def test_backfill_registers_documents_at_their_own_time():
    """Importing an old register (or replaying a past year): numbers follow the documents' years."""
    diary = Diary(FixedClock(datetime(2026, 11, 25, 9, 0, tzinfo=UTC)), diary_backfill=True)
    opened = datetime(2023, 3, 1, 10, 0, tzinfo=UTC)
    await diary.send(CASES_OPENED, case_opened("B1").model_copy(update={"opened_at": opened}))
    entry = diary.publisher.on(DIARY_ENTRIES)[0].data
    assert entry.diary_number == "PN 2023/1" and entry.registered_at == opened
    assert not diary.publisher.on(ALERTS_OPS)  # no lag alert for an imported document
    sent = datetime(2023, 3, 5, 9, 0, tzinfo=UTC)
    await diary.send(CARE_UNITS, care_unit())
    await diary.send(LETTERS_OUTGOING, letter_out("UT1"), time=sent)
    [dispatched] = diary.publisher.on(LETTERS_DISPATCHED)
    assert dispatched.data.dispatched_at == sent  # went out when it was registered, in 2023
