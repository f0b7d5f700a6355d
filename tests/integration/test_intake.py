"""Intake as its own process on the real broker: batch with duplicates and invalid input, unknown
care unit, HTTP, diary notifications, spike alerts, and a log without personnummer."""

from __future__ import annotations

import asyncio
import json
import random
import urllib.error
import urllib.request
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from shared.contract.events import make_event
from shared.contract.topics import (
    ALERTS_OPS,
    CARE_UNITS,
    CASES_OPENED,
    COMPLAINTS_REJECTED,
    COMPLAINTS_SUBMITTED,
    DEADLETTER,
    DIARY_ENTRIES,
    NOTIFICATIONS,
)
from shared.kafka.io import events_of, produce, read_all, wait_for
from shared.platform.supervisor import Stack
from shared.service.settings import PnSettings
from shared.web.auth import new_token

from ..conftest import ROOT
from ..unit.intake.factories import care_unit, complaint, diary_entry, personnummer

pytestmark = pytest.mark.broker

RUN = uuid.uuid4().hex[:10]
UNIT = f"SE2321000180-{RUN}"
SPIKE_UNIT = f"SE2321000180-S{RUN}"
USED_PERSONNUMMER: list[str] = []  # every one this module sends; none may reach the service log
SUBMITTER_TOKEN, SUBMITTER = new_token("test-submitter", "submitter")
OFFICER_TOKEN, OFFICER = new_token("test-officer", "officer")


@pytest.fixture(scope="module")
def settings(broker) -> PnSettings:
    return PnSettings(kafka_bootstrap=broker.bootstrap)


@pytest.fixture(scope="module")
def stack(broker, settings, tmp_path_factory):
    asyncio.run(produce(settings, CARE_UNITS, [event(care_unit(UNIT, "Region Dalarna")),
                                               event(care_unit(SPIKE_UNIT, "Region Dalarna"))]))
    # DEBUG: the per-case lines (`case_opened`) are in the log the privacy check below reads
    env = {"PN_TOKENS": f"{SUBMITTER.line()};{OFFICER.line()}", "PN_INTAKE_TICK_S": "1",
           "PN_RULES_DIR": str(ROOT / "rules"), "PN_LOG_LEVEL": "DEBUG"}
    stack = Stack(["intake"], work_dir=tmp_path_factory.mktemp("intake"), bootstrap=broker.bootstrap, env=env)
    stack.start(timeout=90)
    yield stack
    stack.stop()


def event(data: Any, *, id: str | None = None, time: datetime | None = None):
    return make_event(data, source="/test/intake", time=time or datetime.now(UTC), id=id or str(uuid.uuid4()))


def submitted(i: int, tag: str, **overrides: Any):
    pnr = personnummer(i)
    USED_PERSONNUMMER.append(pnr)
    time = overrides.pop("time", None)
    fields = {"external_ref": f"{tag}-{i}", "care_unit_hsa_id": UNIT,
              "patient": {"personnummer": pnr, "name": "Test Testsson"},
              "channel": "1177" if i % 2 else "email", **overrides}
    return event(complaint(**fields), id=f"{tag}-c{i}", time=time)


def mine(records, tag: str, type_: str | None = None) -> list[Any]:
    return [e for e in events_of(records) if tag in e.model_dump_json() and (type_ is None or e.type == type_)]


def http(stack: Stack, method: str, path: str, body: bytes | None = None, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(f"http://127.0.0.1:{stack.processes['intake'].web_port}{path}",
                                     data=body, method=method)
    request.add_header("Content-Type", "application/json")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read() or b"null")


async def test_batch_with_duplicates_and_invalid_input_gives_one_case_each_and_loses_nothing(stack, settings):
    tag = f"b{RUN}"
    valid = [submitted(i, tag) for i in range(180)]
    invalid = ([submitted(180 + i, tag, description="  ") for i in range(3)]
               + [submitted(183 + i, tag, patient={"personnummer": "196102020003"}) for i in range(3)]
               + [submitted(186 + i, tag, attachments=[{"filename": "x.pdf", "media_type": "application/pdf",
                                                        "size_bytes": 30 * 1024 * 1024, "sha256": "a" * 64,
                                                        "uri": "s3://x"}]) for i in range(2)]
               + [submitted(188 + i, tag, attachments=[{"filename": "x.exe", "media_type": "application/x-msdownload",
                                                        "size_bytes": 10, "sha256": "a" * 64,
                                                        "uri": "s3://x"}]) for i in range(2)])
    same_id = valid[:10] + invalid[:5]  # re-sent with the same event id
    same_ref = [event(valid[10 + i].data, id=f"{tag}-again{i}") for i in range(5)]  # same channel + external_ref
    batch = valid + invalid + same_id + same_ref
    random.Random(7).shuffle(batch)
    malformed = [f"not json {tag}".encode(), valid[0].model_dump_json().replace('"channel"', '"chanel"')
                 .replace(f"{tag}-c0", f"{tag}-malformed").encode()]
    await produce(settings, COMPLAINTS_SUBMITTED, batch)
    await produce(settings, COMPLAINTS_SUBMITTED, malformed, keys=[b"x", b"y"])

    def done(records):
        return (len(mine(records, tag, "pn.case.opened")) >= 180 and len(mine(records, tag, "pn.complaint.rejected")) >= 10
                and len(mine(records, tag, "pn.event.rejected")) >= 2)

    await wait_for(settings, [CASES_OPENED, COMPLAINTS_REJECTED, DEADLETTER], done, timeout=60)
    await asyncio.sleep(1.5)  # anything extra would show up now
    records = await read_all(settings, [CASES_OPENED, COMPLAINTS_REJECTED, DEADLETTER, NOTIFICATIONS])
    cases = [e.data for e in mine(records, tag, "pn.case.opened")]
    complaint_ids = {c.complaint_event_id for c in cases}
    # Which of two events with one external_ref opens the case depends on arrival order.
    refs_opened = {c.complaint_event_id if "again" not in c.complaint_event_id
                   else valid[10 + int(c.complaint_event_id.split("again")[1])].id for c in cases}
    assert len(cases) == 180 and len(complaint_ids) == 180 and refs_opened == {v.id for v in valid}
    assert len({c.case_id for c in cases}) == 180
    assert all(c.care_unit_status == "resolved" and c.care_provider == "Region Dalarna" for c in cases)
    rejected = {e.data.complaint_event_id: e.data.reason for e in mine(records, tag, "pn.complaint.rejected")}
    assert len(mine(records, tag, "pn.complaint.rejected")) == 10
    assert rejected == {**{f"{tag}-c{180 + i}": "empty_description" for i in range(3)},
                        **{f"{tag}-c{183 + i}": "invalid_personnummer" for i in range(3)},
                        **{f"{tag}-c{186 + i}": "attachment_too_large" for i in range(2)},
                        **{f"{tag}-c{188 + i}": "attachment_type_not_allowed" for i in range(2)}}
    dead = mine(records, tag, "pn.event.rejected")
    assert len(dead) == 2 and all(d.data.source_topic == COMPLAINTS_SUBMITTED.name for d in dead)
    receipts = [e.data for e in events_of(records) if e.type == "pn.notification.requested"
                and e.data.case_id in {c.case_id for c in cases}]
    assert len(receipts) == 180 and {r.channel for r in receipts} == {"1177_inbox", "email"}
    # 0 lost: every distinct message is a case, a rejection or a dead letter
    assert len(cases) + len(rejected) + len(dead) == len({e.id for e in valid + invalid}) + len(malformed)


async def test_unknown_care_unit_opens_a_case_and_raises_an_ops_alert_and_letters_notify(stack, settings):
    tag = f"u{RUN}"
    await produce(settings, COMPLAINTS_SUBMITTED, [submitted(500, tag, care_unit_hsa_id="SE2321000180-NOSUCH")])
    records = await wait_for(settings, [CASES_OPENED], lambda rs: mine(rs, tag), timeout=30)
    [case] = [e.data for e in mine(records, tag)]
    assert case.care_unit_status == "unresolved" and case.care_provider is None
    alerts = await wait_for(settings, [ALERTS_OPS], lambda rs: mine(rs, case.case_id), timeout=30)
    [alert] = [e.data for e in mine(alerts, case.case_id)]
    assert (alert.rule_id, alert.subject) == ("intake.unknown_care_unit", case.case_id)

    number = random.Random(RUN).randrange(10_000, 99_999)
    await produce(settings, DIARY_ENTRIES, [event(diary_entry(case.case_id, "out", number=number)),
                                            event(diary_entry(case.case_id, "in", number=number + 1))])

    def both(rs):
        return {e.data.template for e in mine(rs, case.case_id)} >= {"sent_to_provider", "provider_replied"}

    notes = await wait_for(settings, [NOTIFICATIONS], both, timeout=30)
    assert sorted(e.data.template for e in mine(notes, case.case_id)) == ["provider_replied", "receipt", "sent_to_provider"]


async def test_http_post_valid_invalid_oversize_and_get_case(stack, settings):
    data = submitted(600, f"h{RUN}").data.model_dump(mode="json", exclude_none=True)
    status, body = http(stack, "POST", "/complaints", json.dumps(data).encode(), SUBMITTER_TOKEN)
    assert status == 202 and body["id"]
    posted_id = body["id"]
    envelope = json.loads(submitted(601, f"h{RUN}").model_dump_json())
    status, body = http(stack, "POST", "/complaints", json.dumps(envelope).encode(), SUBMITTER_TOKEN)
    assert (status, body) == (202, {"id": envelope["id"]})

    invalid = {**data, "channel": "fax", "submitter": {}}
    status, body = http(stack, "POST", "/complaints", json.dumps(invalid).encode(), SUBMITTER_TOKEN)
    assert status == 422
    assert {tuple(e["loc"]) for e in body["errors"]} == {("channel",), ("submitter", "role")}
    assert data["patient"]["personnummer"] not in json.dumps(body) and "fax" not in json.dumps(body)
    assert http(stack, "POST", "/complaints", b"{not json", SUBMITTER_TOKEN)[0] == 422
    assert http(stack, "POST", "/complaints", b"[1, 2]", SUBMITTER_TOKEN)[0] == 422
    oversize = json.dumps({**data, "description": "x" * (1024 * 1024)}).encode()
    assert http(stack, "POST", "/complaints", oversize, SUBMITTER_TOKEN)[0] == 413
    assert http(stack, "POST", "/complaints", json.dumps(data).encode())[0] == 401
    assert http(stack, "POST", "/complaints", json.dumps(data).encode(), OFFICER_TOKEN)[0] == 403

    records = await wait_for(settings, [CASES_OPENED], lambda rs: len(
        [e for e in events_of(rs) if e.data.complaint_event_id in (posted_id, envelope["id"])]) == 2, timeout=30)
    case = next(e.data for e in events_of(records) if e.data.complaint_event_id == posted_id)
    status, body = http(stack, "GET", f"/cases/{case.case_id}", token=OFFICER_TOKEN)
    assert status == 200 and body == case.model_dump(mode="json", exclude_none=True)
    assert http(stack, "GET", f"/cases/{case.case_id}", token=SUBMITTER_TOKEN)[0] == 403
    assert http(stack, "GET", "/cases/PN-1999-99999", token=OFFICER_TOKEN)[0] == 404


async def test_a_spike_is_raised_and_resolved_once_the_window_has_passed(stack, settings):
    tag = f"s{RUN}"
    thirty_days_ago = datetime.now(UTC) - timedelta(days=30)
    burst = [submitted(700 + i, tag, care_unit_hsa_id=SPIKE_UNIT, categories=["vard.diagnos"], time=thirty_days_ago)
             for i in range(5)]
    await produce(settings, COMPLAINTS_SUBMITTED, burst)

    def raised_and_resolved(rs):
        return {e.type for e in events_of(rs) if e.data.subject == SPIKE_UNIT} == {"pn.alert.raised", "pn.alert.resolved"}

    records = await wait_for(settings, [ALERTS_OPS], raised_and_resolved, timeout=30)
    alerts = [e for e in events_of(records) if e.data.subject == SPIKE_UNIT]
    assert [e.type for e in alerts] == ["pn.alert.raised", "pn.alert.resolved"]
    raised = alerts[0].data
    assert (raised.rule_id, raised.facts["category"], raised.facts["count"]) == ("intake.complaint_spike", "vard.diagnos", 5)
    assert alerts[1].data.alert_id == raised.alert_id


def test_the_service_log_holds_no_personnummer_from_the_test_data(stack):
    log = stack.processes["intake"].log_path.read_text(encoding="utf-8", errors="replace")
    assert "case_opened" in log and len(USED_PERSONNUMMER) > 180
    leaked = [p for p in set(USED_PERSONNUMMER) if p in log or f"{p[:8]}-{p[8:]}" in log]
    assert leaked == []


async def test_the_report_is_served_to_officers_only(stack, settings):
    tag = f"r{RUN}"
    await produce(settings, COMPLAINTS_SUBMITTED, [submitted(700 + i, tag) for i in range(6)])
    await wait_for(settings, [CASES_OPENED], lambda rs: len(mine(rs, tag, "pn.case.opened")) >= 6, timeout=30)
    year = str(datetime.now(UTC).year)
    status, body = http(stack, "GET", f"/reports/{year}?format=json", token=OFFICER_TOKEN)
    assert status == 200 and year in json.dumps(body["period"])
    assert http(stack, "GET", f"/reports/{year}?format=json", token=SUBMITTER_TOKEN)[0] == 403
    assert http(stack, "GET", "/reports/20x3?format=json", token=OFFICER_TOKEN)[0] == 400
    assert http(stack, "GET", "/reports/1999?format=json", token=OFFICER_TOKEN)[0] == 404
