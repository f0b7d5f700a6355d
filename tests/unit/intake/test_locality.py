"""Issue 27 item 1: every store read of an intake handler is local to the partition of its input, so
intake is correct with several workers (docs/intake.md "Scale out")."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from services.intake.app import build_deps, wire
from services.intake.settings import Settings
from services.intake.spec import SPEC
from shared.contract.events import Tick, make_event
from shared.contract.topics import (
    ALERTS_OPS,
    CARE_UNITS,
    CASES_OPENED,
    COMPLAINTS_SUBMITTED,
    DIARY_ENTRIES,
    NOTIFICATIONS,
    TICKS,
)
from shared.service.testing import message

from ..locality import LocalityRuntime
from .factories import care_unit, complaint, diary_entry
from .test_handlers import RULES


async def test_no_handler_reads_a_store_of_another_partition_count():
    """Before issue 27, stage 2 read the 4-partition directory and resolved alerts, and the diary
    and tick handlers (4 partitions) read the 1-partition cases: empty on a worker that does not
    hold them. Only earlier versions' directory is read, as a fallback (legacy)."""
    config = Settings()
    runtime = LocalityRuntime(SPEC, config)
    wire(runtime, config, build_deps(runtime, config, rules=RULES))

    async def send(topic, payload, **kwargs):
        await runtime.processor_for(topic).process(message(topic, payload, **kwargs))
        await runtime.pump(one_by_one=True)

    at = datetime(2023, 5, 20, 10, tzinfo=UTC)
    await send(CARE_UNITS, care_unit())
    for i in range(6):
        await send(COMPLAINTS_SUBMITTED, complaint(external_ref=f"r{i}", description="Otrevligt bemötande"),
                   id=f"c{i}", time=at)
    case_id = runtime.sent.on(CASES_OPENED)[0].data.case_id
    await send(DIARY_ENTRIES, diary_entry(case_id, "out", number=7))
    await send(TICKS, make_event(Tick(service="intake", at=at + timedelta(days=40)), source="/pn/intake",
                                 time=at + timedelta(days=40)))
    assert [c.data.care_unit_status for c in runtime.sent.on(CASES_OPENED)] == ["resolved"] * 6
    assert [n.data.template for n in runtime.sent.on(NOTIFICATIONS)][-1] == "sent_to_provider"
    assert [a.type for a in runtime.sent.on(ALERTS_OPS)] == ["pn.alert.raised", "pn.alert.resolved"]
    assert runtime.remote_reads == []


async def test_a_unit_is_known_to_stage_2_from_its_own_partition_in_log_order():
    """The directory reaches stage 2 on its one partition: a complaint queued before its unit opens
    an unresolved case, one queued after it a resolved one, however the workers are laid out."""
    config = Settings()
    runtime = LocalityRuntime(SPEC, config)
    wire(runtime, config, build_deps(runtime, config, rules=RULES))
    stage1 = runtime.processor_for(COMPLAINTS_SUBMITTED)
    await stage1.process(message(COMPLAINTS_SUBMITTED, complaint(external_ref="a"), id="a"))
    await stage1.process(message(CARE_UNITS, care_unit()))
    await stage1.process(message(COMPLAINTS_SUBMITTED, complaint(external_ref="b"), id="b"))
    await runtime.pump()
    assert [c.data.care_unit_status for c in runtime.sent.on(CASES_OPENED)] == ["unresolved", "resolved"]
    assert runtime.tables["care-units"] == {}  # no longer written: stage 2 keeps `unit|` in `cases`
    assert runtime.remote_reads == []


async def test_a_directory_of_an_earlier_version_is_still_read():
    config = Settings()
    runtime = LocalityRuntime(SPEC, config, tables={"care-units": {"SE2321000180-1001": {
        "name": "Vårdcentral Falun", "care_provider": "Region Dalarna", "region": "20"}}})
    wire(runtime, config, build_deps(runtime, config, rules=RULES))
    await runtime.deliver(COMPLAINTS_SUBMITTED, complaint(external_ref="a"), id="a")
    await runtime.pump()
    [case] = runtime.sent.on(CASES_OPENED)
    assert (case.data.care_unit_status, case.data.care_provider) == ("resolved", "Region Dalarna")


def test_the_case_view_is_asked_of_the_worker_that_holds_the_cases():
    config = Settings()
    runtime = LocalityRuntime(SPEC, config)
    wire(runtime, config, build_deps(runtime, config, rules=RULES))
    assert runtime.spreads[("GET", "/cases/{case_id}")][0] == "any"  # 404 here: the others are asked
    assert runtime.spreads[("POST", "/complaints")][0] == "local"


async def test_which_spike_alert_is_raised_does_not_depend_on_how_the_partitions_interleaved():
    """The same day's complaints from four partitions reach stage 2 in any interleaving: the alert
    (its id, its event id and its figures) is the same; only which case tipped it differs."""
    from .test_handlers import Intake, send_many

    at = datetime(2023, 5, 20, 8, tzinfo=UTC)
    alerts = []
    for order in (range(6), reversed(range(6))):
        intake = Intake()
        await intake.send(CARE_UNITS, care_unit())
        for i in order:
            await send_many(intake, 1, at + timedelta(minutes=i), prefix=f"p{i}-")
        [raised] = intake.publisher.on(ALERTS_OPS)
        alerts.append((raised.id, raised.data.alert_id, raised.data.facts))
    assert alerts[0] == alerts[1]
    assert alerts[0][1] == "intake.complaint_spike:SE2321000180-1001:kommunikation.bemotande:2023-05-20"
