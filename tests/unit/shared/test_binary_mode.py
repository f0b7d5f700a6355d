"""CloudEvents binary content mode (shared/contract/events/binary_mode.py) through the wrapper, without a
broker: records made by the official CloudEvents SDK's Kafka binding in both modes."""

from __future__ import annotations

from datetime import UTC, datetime

from cloudevents.core.bindings import kafka
from cloudevents.core.v1.event import CloudEvent

from shared.contract.events.binary_mode import NotCloudEvent, is_binary, to_structured
from shared.contract.events.envelope import CONTENT_TYPE_HEADER
from shared.contract.topics import ALERTS_OPS, DEADLETTER, FINANCE_POSTINGS
from shared.service.processor import Message

from .test_processor import make

POSTING = {"posting_id": "p1", "period": "2023-01", "cost_centre": "6101", "account_group": "other",
           "amount": "-1.00", "text": "x"}


def cloudevent(data: dict, **attributes) -> CloudEvent:
    return CloudEvent(attributes={"type": "pn.ledger.posted", "source": "/erp", "id": "e1",
                                  "time": datetime(2023, 1, 2, tzinfo=UTC), "datacontenttype": "application/json",
                                  "subject": "6101", **attributes}, data=data)


def record(sdk_message, offset: int) -> Message:
    return Message(FINANCE_POSTINGS.name, 0, offset, b"6101", sdk_message.value, None,
                   list(sdk_message.headers.items()))


async def test_an_sdk_binary_event_and_the_same_event_structured_have_their_effect_once():
    proc, deps = make()
    event = cloudevent(POSTING, schemaversion=1)
    binary, structured = kafka.to_binary_event(event), kafka.to_structured_event(event)
    assert is_binary(list(binary.headers.items())) and not is_binary(list(structured.headers.items()))
    await proc.process_batch([record(binary, 0), record(structured, 1), record(binary, 2)])
    assert [e.data.alert_id for e in proc.publisher.on(ALERTS_OPS)] == ["p1"]
    assert proc.publisher.on(DEADLETTER) == []
    assert deps.postings.table == {"p1": "-1.00"}


async def test_an_invalid_binary_event_is_dead_lettered_with_its_value_and_ce_headers():
    proc, _ = make()
    bad = kafka.to_binary_event(cloudevent({**POSTING, "period": "2023-13"}))
    not_json = Message(FINANCE_POSTINGS.name, 0, 1, None, b"<posting/>", None,
                       [("ce_specversion", b"1.0"), ("ce_id", b"e2"), ("content-type", b"application/xml")])
    await proc.process_batch([record(bad, 0), not_json])
    first, second = proc.publisher.on(DEADLETTER)
    assert first.data.raw == bad.value.decode()
    assert first.data.raw_headers["ce_id"] == "e1" and first.data.raw_headers["content-type"] == "application/json"
    assert [e.loc for e in first.data.errors] == [["data", "period"]]  # as for the same event structured
    assert second.data.raw == "<posting/>" and second.data.errors[0].loc == ["headers"]
    assert "only JSON data" in second.data.errors[0].msg
    assert proc.publisher.on(ALERTS_OPS) == []


def test_binary_data_cannot_add_or_override_attributes():
    headers = [("ce_specversion", b"1.0"), ("ce_id", b"e1"), ("ce_type", b"pn.ledger.posted")]
    for value in (b'{"a": 1}, "id": "other"', b'{"a": 1}}', b""):
        try:
            to_structured(headers, value)
        except NotCloudEvent as exc:
            assert "not JSON" in str(exc)
        else:
            raise AssertionError(value)
    try:
        to_structured([*headers, ("ce_id", b"e2")], b"{}")
    except NotCloudEvent as exc:
        assert "twice" in str(exc)
    else:
        raise AssertionError("duplicate ce_id accepted")


def test_our_structured_records_and_legacy_records_without_headers_are_not_binary():
    assert not is_binary([CONTENT_TYPE_HEADER, ("ce_id", b"x")])
    assert not is_binary([]) and not is_binary(None)
    assert not is_binary([("pn-replay-of", b"x")])


def test_pn_tail_shows_a_binary_mode_record_as_its_structured_event(capsys):
    from types import SimpleNamespace

    from shared.cli.main import _print_record

    sdk = kafka.to_binary_event(cloudevent(POSTING))
    record = SimpleNamespace(topic=FINANCE_POSTINGS.name, partition=0, offset=3, value=sdk.value,
                             headers=list(sdk.headers.items()))
    _print_record(None, record, as_json=True)
    shown = capsys.readouterr().out
    assert '"id":"e1"' in shown and '"data":{"posting_id": "p1"' in shown
