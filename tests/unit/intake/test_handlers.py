"""Intake handlers driven through the shared Processor with fakes: both stages, as create_app wires them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from services.intake.domain import AttachmentPolicy
from services.intake.handlers import CASE_HANDLERS, INTAKE_HANDLERS, REUSED_HANDLERS, Deps
from services.intake.rules import load_category_rules
from shared.consumer import Message, Processor
from shared.events import Tick, encode, make_event
from shared.logging import get_logger
from shared.state import Store
from shared.testing import FakePublisher, FixedClock, envelope, message
from shared.topics import (
    ALERTS_OPS,
    CARE_UNITS,
    CASES_OPENED,
    COMPLAINTS_REJECTED,
    COMPLAINTS_SUBMITTED,
    DIARY_ENTRIES,
    INTAKE_ACCEPTED,
    NOTIFICATIONS,
    TICKS,
)

from .factories import UNIT, care_unit, complaint, diary_entry

ROOT = Path(__file__).resolve().parents[3]
RULES = load_category_rules(ROOT / "rules" / "complaint_categories.yaml")


class Intake:
    """The two processors over one set of stores, with the accepted topic looped back in memory."""

    def __init__(self, clock: FixedClock | None = None, tables: dict | None = None) -> None:
        self.clock = clock or FixedClock()
        self.publisher = FakePublisher()
        self.tables = tables or {name: {} for name in ("refs", "directory", "resolved", "cases")}
        stores = {name: Store(name, table) for name, table in self.tables.items()}
        self.deps = Deps(**stores, rules=RULES, attachments=AttachmentPolicy(1000, frozenset({"image/jpeg"})),
                         clock=self.clock, log=get_logger(service="intake"))
        self.stage1 = Processor(service="intake", handlers=INTAKE_HANDLERS, deps=self.deps, publisher=self.publisher,
                                clock=self.clock, stores=[self.deps.refs, self.deps.directory, self.deps.resolved])
        self.stage2 = Processor(service="intake", handlers=CASE_HANDLERS, deps=self.deps, publisher=self.publisher,
                                clock=self.clock, stores=[self.deps.cases])
        self.stage1.on_reused = REUSED_HANDLERS  # as app.py
        self.deps.emit = self.stage1.emit
        self._forwarded = 0
        self.accepted_offset = 0

    def restarted(self) -> Intake:
        """A new process over the committed tables (staged writes die with the old one)."""
        again = Intake(self.clock, self.tables)
        again.publisher = self.publisher
        again.stage1.publisher = again.stage2.publisher = self.publisher
        return again

    async def send(self, topic, payload, **kwargs) -> None:
        await self.stage1.process(message(topic, payload, **kwargs))
        accepted = [s for s in self.publisher.sent if s.topic == INTAKE_ACCEPTED.name]
        for sent in accepted[self._forwarded:]:
            await self.stage2.process(Message(INTAKE_ACCEPTED.name, 0, self.accepted_offset, None, sent.value))
            self.accepted_offset += 1
        self._forwarded = len(accepted)

    def on(self, topic):
        return [e.data for e in self.publisher.on(topic)]


@pytest.fixture
def intake():
    return Intake()


async def test_a_valid_complaint_opens_a_case_with_a_receipt(intake):
    await intake.send(CARE_UNITS, care_unit())
    await intake.send(COMPLAINTS_SUBMITTED, complaint(), id="c1")
    [case] = intake.on(CASES_OPENED)
    assert case.case_id == "PN-2023-00001" and case.complaint_event_id == "c1"
    assert (case.care_unit_status, case.care_provider) == ("resolved", "Region Dalarna")
    assert [c.code for c in case.categories] == ["kommunikation.bemotande", "kommunikation.information"]
    [receipt] = intake.on(NOTIFICATIONS)
    assert (receipt.case_id, receipt.template, receipt.channel, receipt.recipient) == (
        "PN-2023-00001", "receipt", "1177_inbox", "1177:ref-1")
    assert intake.deps.cases["case|PN-2023-00001"]["categories"][0] == {"code": "kommunikation.bemotande", "source": "rules"}
    assert "description" not in intake.deps.cases["case|PN-2023-00001"]


async def test_duplicates_by_event_id_or_by_channel_and_external_ref_have_no_second_effect(intake):
    await intake.send(COMPLAINTS_SUBMITTED, complaint(), id="c1")
    await intake.send(COMPLAINTS_SUBMITTED, complaint(), id="c1")
    await intake.send(COMPLAINTS_SUBMITTED, complaint(), id="c2")  # 1177 sent ref-1 again
    await intake.send(COMPLAINTS_SUBMITTED, complaint(channel="email"), id="c3")  # another channel's ref-1
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref=None), id="c4")
    cases = intake.on(CASES_OPENED)
    assert [(c.complaint_event_id, c.case_id) for c in cases] == [
        ("c1", "PN-2023-00001"), ("c3", "PN-2023-00002"), ("c4", "PN-2023-00003")]


@pytest.mark.parametrize(("overrides", "reason"), [
    ({"description": " "}, "empty_description"),
    ({"patient": {"personnummer": "196102020003"}}, "invalid_personnummer"),
    ({"attachments": [{"filename": "a.jpg", "media_type": "image/jpeg", "size_bytes": 1001, "sha256": "a" * 64,
                       "uri": "s3://x"}]}, "attachment_too_large"),
    ({"attachments": [{"filename": "a.exe", "media_type": "application/x-msdownload", "size_bytes": 10,
                       "sha256": "a" * 64, "uri": "s3://x"}]}, "attachment_type_not_allowed"),
])
async def test_rejections_carry_a_reason_and_open_no_case(intake, overrides, reason):
    await intake.send(COMPLAINTS_SUBMITTED, complaint(**overrides), id="bad")
    [rejected] = intake.publisher.on(COMPLAINTS_REJECTED)
    assert (rejected.data.reason, rejected.data.complaint_event_id) == (reason, "bad")
    assert intake.on(CASES_OPENED) == [] and intake.on(INTAKE_ACCEPTED) == []
    await intake.send(COMPLAINTS_SUBMITTED, complaint(), id="good")  # the ref stays free for a valid one
    assert len(intake.on(CASES_OPENED)) == 1


async def test_unknown_care_unit_opens_an_unresolved_case_and_raises_an_ops_alert(intake):
    await intake.send(COMPLAINTS_SUBMITTED, complaint(care_unit_hsa_id="SE2321000180-9999"), id="c1")
    [case] = intake.on(CASES_OPENED)
    assert (case.care_unit_status, case.care_provider) == ("unresolved", None)
    [alert] = intake.on(ALERTS_OPS)
    assert (alert.rule_id, alert.subject, alert.facts["care_unit_hsa_id"]) == (
        "intake.unknown_care_unit", case.case_id, "SE2321000180-9999")


async def test_no_care_unit_given(intake):
    await intake.send(COMPLAINTS_SUBMITTED, complaint(care_unit_hsa_id=None, channel="letter",
                                                      submitter={"role": "relative"}), id="c1")
    [case] = intake.on(CASES_OPENED)
    assert case.care_unit_status == "none" and intake.on(ALERTS_OPS) == []
    [receipt] = intake.on(NOTIFICATIONS)
    assert (receipt.channel, receipt.recipient) == ("letter", f"case:{case.case_id}/submitter")


async def test_notifications_never_carry_personnummer_names_or_description(intake):
    c = complaint(channel="email")
    await intake.send(COMPLAINTS_SUBMITTED, c, id="c1")
    raw = b"".join(s.value for s in intake.publisher.sent if s.topic != INTAKE_ACCEPTED.name)
    for secret in (c.patient.personnummer, c.patient.name, c.description):
        assert secret.encode() not in raw


# -- case numbering ------------------------------------------------------------------------------------
async def test_numbers_are_per_year_of_receipt():
    intake = Intake(FixedClock(datetime(2024, 1, 2, 9, 0, tzinfo=UTC)))
    new_years_eve = datetime(2023, 12, 31, 23, 59, tzinfo=UTC)
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="a"), id="a", time=new_years_eve)
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="b"), id="b", time=new_years_eve + timedelta(minutes=2))
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="c"), id="c", time=new_years_eve + timedelta(minutes=3))
    assert [c.case_id for c in intake.on(CASES_OPENED)] == ["PN-2023-00001", "PN-2024-00001", "PN-2024-00002"]
    assert intake.on(CASES_OPENED)[0].opened_at == new_years_eve  # opened when received, also in a backlog


async def test_a_complaint_dated_in_the_future_is_opened_now():
    intake = Intake(FixedClock(datetime(2024, 1, 2, 9, 0, tzinfo=UTC)))
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="f"), id="f", time=datetime(2030, 1, 1, tzinfo=UTC))
    [case] = intake.on(CASES_OPENED)
    assert case.case_id == "PN-2024-00001" and case.opened_at == intake.clock.now()


async def test_a_crash_before_state_is_written_reuses_the_same_number_and_event_id(intake):
    accepted = encode(envelope(complaint(), id="c1"))
    intake.publisher.fail_with = ConnectionError("broker gone")
    with pytest.raises(ConnectionError):
        await intake.stage2.process(Message(INTAKE_ACCEPTED.name, 0, 0, None, accepted))
    intake.publisher.fail_with = None
    intake = intake.restarted()
    await intake.stage2.process(Message(INTAKE_ACCEPTED.name, 0, 0, None, accepted))  # the replay
    [case] = intake.publisher.on(CASES_OPENED)
    assert case.data.case_id == "PN-2023-00001"
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="next"), id="c2")
    assert [c.case_id for c in intake.on(CASES_OPENED)] == ["PN-2023-00001", "PN-2023-00002"]


async def test_a_replay_after_state_was_written_emits_nothing(intake):
    accepted = encode(envelope(complaint(), id="c1"))
    await intake.stage2.process(Message(INTAKE_ACCEPTED.name, 0, 0, None, accepted))
    intake.stage2.seen.table.clear()  # the dedup record lost, the case mapping kept
    await intake.stage2.process(Message(INTAKE_ACCEPTED.name, 0, 0, None, accepted))
    assert len(intake.on(CASES_OPENED)) == 1


async def test_a_crash_that_kept_only_the_case_record_gives_the_replay_the_same_number(intake):
    accepted = [encode(envelope(complaint(external_ref=r), id=r)) for r in ("a", "b")]
    for offset, value in enumerate(accepted):
        await intake.stage2.process(Message(INTAKE_ACCEPTED.name, 0, offset, None, value))
    cases = intake.tables["cases"]
    for key in ("complaint|b", "seq|2023"):  # kill -9 after the first write of "b" (its case record)
        del cases[key]
    intake = intake.restarted()
    await intake.stage2.process(Message(INTAKE_ACCEPTED.name, 0, 1, None, accepted[1]))  # the replay of "b"
    assert [c.case_id for c in intake.on(CASES_OPENED)] == ["PN-2023-00001", "PN-2023-00002", "PN-2023-00002"]


async def test_a_lost_counter_never_reuses_a_number(intake):
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="a"), id="a")
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="b"), id="b")
    del intake.deps.cases.table["seq|2023"]  # a crash kept the mappings but not the counter
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="c"), id="c")
    assert [c.case_id for c in intake.on(CASES_OPENED)] == ["PN-2023-00001", "PN-2023-00002", "PN-2023-00003"]


# -- diary entries ------------------------------------------------------------------------------------
async def test_registered_letters_notify_the_submitter(intake):
    await intake.send(COMPLAINTS_SUBMITTED, complaint(channel="email"), id="c1")
    case_id = intake.on(CASES_OPENED)[0].case_id
    await intake.send(DIARY_ENTRIES, diary_entry(case_id, "in", kind="complaint", number=1))
    await intake.send(DIARY_ENTRIES, diary_entry(case_id, "out", number=2))
    await intake.send(DIARY_ENTRIES, diary_entry(case_id, "in", number=3))
    await intake.send(DIARY_ENTRIES, diary_entry("PN-1999-00001", "out", number=4))  # not ours
    notes = [(n.template, n.channel, n.recipient) for n in intake.on(NOTIFICATIONS)]
    assert notes == [("receipt", "email", "mailto:anna@example.se"),
                     ("sent_to_provider", "email", "mailto:anna@example.se"),
                     ("provider_replied", "email", "mailto:anna@example.se")]


async def test_a_case_opened_by_an_earlier_version_keeps_its_contact_key(intake):
    """Earlier versions kept the contact as `contact|<case_id>`, beside the case record."""
    intake.tables["cases"]["case|PN-2022-00007"] = {"case_id": "PN-2022-00007", "complaint_event_id": "old"}
    intake.tables["cases"]["contact|PN-2022-00007"] = {"channel": "email", "recipient": "mailto:b@example.se"}
    await intake.send(DIARY_ENTRIES, diary_entry("PN-2022-00007", "out", number=1))
    assert [(n.template, n.recipient) for n in intake.on(NOTIFICATIONS)] == [("sent_to_provider", "mailto:b@example.se")]


# -- spike signal ------------------------------------------------------------------------------------------
def tick(at: datetime, service: str = "intake"):
    return make_event(Tick(service=service, at=at), source=f"/pn/{service}", time=at)


async def send_many(intake, n, at, prefix="s", text="Otrevligt bemötande"):
    for i in range(n):
        await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref=f"{prefix}{i}", description=text),
                          id=f"{prefix}{i}", time=at)


async def test_a_spike_is_raised_once_per_window_and_resolved_by_a_later_tick(intake):
    await intake.send(CARE_UNITS, care_unit())
    at = datetime(2023, 5, 20, 10, tzinfo=UTC)
    await send_many(intake, 4, at)
    assert intake.on(ALERTS_OPS) == []
    await send_many(intake, 3, at, prefix="t")
    [raised] = intake.on(ALERTS_OPS)
    assert (raised.rule_id, raised.subject, raised.facts["category"], raised.facts["count"]) == (
        "intake.complaint_spike", UNIT, "kommunikation.bemotande", 5)
    await intake.send(TICKS, tick(at + timedelta(days=10)))  # still within the window
    await intake.send(TICKS, tick(at + timedelta(days=31), service="fees"))  # not ours
    assert len(intake.on(ALERTS_OPS)) == 1
    await intake.send(TICKS, tick(at + timedelta(days=31)))
    await intake.send(TICKS, tick(at + timedelta(days=31, seconds=1)))  # the other partitions' ticks
    resolved = intake.on(ALERTS_OPS)[1:]
    assert [(r.alert_id, r.event_type) for r in resolved] == [(raised.alert_id, "pn.alert.resolved")]
    await send_many(intake, 5, at + timedelta(days=40), prefix="u")  # a new window may raise again
    assert [a.event_type for a in intake.on(ALERTS_OPS)] == ["pn.alert.raised", "pn.alert.resolved", "pn.alert.raised"]


async def test_no_spike_when_the_unit_usually_has_this_many(intake):
    await intake.send(CARE_UNITS, care_unit())
    start = datetime(2022, 7, 1, tzinfo=UTC)
    for month in range(11):  # two a month over the previous year: average ≈ 2 per 30 days
        await send_many(intake, 2, start + timedelta(days=30 * month), prefix=f"h{month}-")
    await send_many(intake, 5, datetime(2023, 6, 20, tzinfo=UTC), prefix="now")
    assert intake.on(ALERTS_OPS) == []
