"""The shared consumer wrapper without a broker: dead-letter, dedup, unit-of-work, determinism."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from shared.consumer import Message, Processor
from shared.events import AlertMessage, AlertRaised, LedgerPosted
from shared.state import Store
from shared.testing import FakePublisher, FixedClock, message
from shared.topics import ALERTS_OPS, DEADLETTER, FINANCE_POSTINGS


class Deps:
    def __init__(self) -> None:
        self.postings = Store("postings")
        self.emit = None


def on_posted(event, *, deps):
    if event.data.text == "boom":
        deps.postings["half-written"] = 1
        raise RuntimeError("handler failed on purpose")
    deps.postings[event.data.posting_id] = str(event.data.amount)
    alert = AlertRaised(alert_id=event.data.posting_id, rule_id="t", severity="info", subject="s",
                        message=AlertMessage(sv="a", en="a"), raised_at=datetime(2023, 1, 1, tzinfo=UTC))
    return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[event.data.posting_id])]


def make(publisher=None):
    deps = Deps()
    proc = Processor(service="t", handlers={"pn.ledger.posted": on_posted}, deps=deps,
                     publisher=publisher or FakePublisher(), clock=FixedClock(), stores=[deps.postings])
    deps.emit = proc.emit
    return proc, deps


def posting(pid: str, text: str = "x") -> LedgerPosted:
    return LedgerPosted(posting_id=pid, period="2023-01", cost_centre="6101", account_group="other",
                        amount="-1.00", text=text)


async def test_good_bad_and_duplicate_messages_in_one_batch():
    proc, deps = make()
    good = message(FINANCE_POSTINGS, posting("p1"), id="e1")
    dup = message(FINANCE_POSTINGS, posting("p1"), id="e1")
    not_json = Message(FINANCE_POSTINGS.name, 0, 99, None, b"\xff\xfe not json")
    await proc.process_batch([not_json, good, dup])
    pub = proc.publisher
    assert [e.data.alert_id for e in pub.on(ALERTS_OPS)] == ["p1"]
    [dead] = pub.on(DEADLETTER)
    assert dead.data.raw_encoding == "base64"
    assert base64.b64decode(dead.data.raw) == b"\xff\xfe not json"
    assert dead.data.errors[0].msg.startswith("not JSON")
    assert deps.postings.table == {"p1": "-1.00"}


async def test_handler_exception_dead_letters_and_rolls_back_its_writes():
    proc, deps = make()
    await proc.process_batch([message(FINANCE_POSTINGS, posting("p2", text="boom")),
                              message(FINANCE_POSTINGS, posting("p3"))])
    [dead] = proc.publisher.on(DEADLETTER)
    assert dead.data.errors[0].loc == ["handler", "pn.ledger.posted"]
    assert "half-written" not in deps.postings.table
    assert deps.postings.table == {"p3": "-1.00"}


async def test_state_is_not_committed_when_outputs_fail():
    proc, deps = make(FakePublisher(fail_with=ConnectionError("broker down")))
    with pytest.raises(ConnectionError):
        await proc.process_batch([message(FINANCE_POSTINGS, posting("p4"))])
    assert deps.postings.table == {}
    assert deps.postings.pending() == 0 and "p4" not in deps.postings  # rolled back: a replay recomputes


async def test_replay_after_crash_emits_the_same_ids():
    first, _ = make()
    second, _ = make()
    msg = message(FINANCE_POSTINGS, posting("p5"))
    await first.process(msg)
    await second.process(msg)
    assert first.publisher.on(ALERTS_OPS)[0].id == second.publisher.on(ALERTS_OPS)[0].id


async def test_unhandled_type_is_ignored_and_oversize_is_dead_lettered():
    proc, _ = make()
    big = Message(FINANCE_POSTINGS.name, 0, 1, None, b" " * 1_048_577)
    await proc.process_batch([big])
    [dead] = proc.publisher.on(DEADLETTER)
    assert "exceeds" in dead.data.errors[0].msg


def test_store_overlay_reads_own_writes_and_commits_in_order():
    store = Store("s", {"a": 1})
    store.begin((1, 0))
    store["a"] = 2
    store.begin((1, 1))
    store["c"] = 3
    assert store["a"] == 2 and store.get("c") == 3 and store.table == {"a": 1}
    assert sorted(store.keys()) == ["a", "c"]
    store.commit((1, 0))
    assert store.table == {"a": 2}
    store.rollback((1, 1))
    assert "c" not in store and store.table == {"a": 2}
    store.begin((2, 0))
    del store["a"]
    assert "a" not in store and store.table == {"a": 2}
    store.commit((2, 0))
    assert store.table == {}
