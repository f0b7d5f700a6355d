"""Care-day factories for billing tests: single days, a year of out-of-region compulsory care,
and a barrier that proves every partition of `pn.care.days` has been processed up to it."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

from aiokafka.partitioner import murmur2

from shared.contract.events import (
    CareDayCancelled,
    CareDayRecorded,
    Envelope,
    PeriodCloseRequested,
    make_event,
)
from shared.contract.topics import CARE_DAYS

HSA = "SE2321000180-1234"
_ids = itertools.count(1)


def care_day(home: str = "21", on: str | date = "2024-03-01", basis: str | None = "LPT", form: str = "inpatient",
             *, care_region: str = "20", care_day_id: str | None = None, patient: str | None = None,
             stay: str | None = None) -> CareDayRecorded:
    n = next(_ids)
    return CareDayRecorded(care_day_id=care_day_id or f"D{n}", stay_id=stay or f"S{n}", patient_ref=patient or f"P{n}",
                           home_region=home, care_region=care_region, care_date=on, form=form, legal_basis=basis,
                           care_unit_hsa_id=HSA)


def event(data, id: str) -> Envelope:
    return make_event(data, source="/test/pas", time=datetime.now(UTC), id=id)


def partition_of(key: str, partitions: int = CARE_DAYS.partitions) -> int:
    """The partition the Kafka client's default partitioner picks for a key."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % partitions


def year_of_days(tag: str, year: int, billable: int, *, voluntary: int = 0, in_region: int = 0) -> list[Envelope]:
    """`billable` inpatient days of LPT/LRV care for Gävleborg ("21") and Uppsala ("03") spread over the
    year (one patient per stay, one day per patient and date), then voluntary and in-region days."""
    first, out = date(year, 1, 1), []
    days_in_year = (date(year + 1, 1, 1) - first).days

    def stay(kind: str, n: int, home: str, basis: str | None, form: str = "inpatient") -> None:
        s = f"{tag}-{kind}{n // days_in_year}"
        day = first + timedelta(days=n % days_in_year)
        out.append(event(CareDayRecorded(
            care_day_id=f"{s}-{day.isoformat()}", stay_id=s, patient_ref=f"pat-{s}", home_region=home,
            care_region="20", care_date=day, form=form, legal_basis=basis,
            care_unit_hsa_id=HSA), id=f"ev-{s}-{day.isoformat()}"))

    for n in range(billable):
        stay("B", n, "21" if (n // days_in_year) % 3 == 0 else "03", ("LPT", "LRV")[n % 2])
    for n in range(voluntary):
        stay("V", n, "21", None)
    for n in range(in_region):
        stay("R", n, "20", "LPT")
    return out


def duplicates(days: list[Envelope], count: int) -> tuple[list[Envelope], int]:
    """`count` duplicates of billable days: half the same care_day_id again (new event id), half the
    same patient and date under a new care_day_id on another stay. Returns them and how many
    should raise `billing.duplicate_care_day`."""
    out = []
    for i, original in enumerate(days[:count]):
        d = original.data
        if i % 2:
            out.append(event(d, id=f"{original.id}-again"))
        else:
            twin = d.model_copy(update={"care_day_id": f"{d.care_day_id}-twin", "stay_id": f"{d.stay_id}-twin{i}"})
            out.append(event(twin, id=f"{original.id}-twin"))
    return out, (count + 1) // 2


def barrier(tag: str) -> list[Envelope]:
    """An in-region day and its same-patient twin on every partition: when all their alerts are
    out, everything produced before them has been processed."""
    out = []
    for partition in range(CARE_DAYS.partitions):
        s = next(f"{tag}-bar{k}" for k in itertools.count() if partition_of(f"{tag}-bar{k}") == partition)
        for suffix in ("a", "b"):
            out.append(event(CareDayRecorded(
                care_day_id=f"{s}-{suffix}", stay_id=s, patient_ref=f"pat-{s}", home_region="20", care_region="20",
                care_date=date(2001, 1, 1), form="inpatient", legal_basis="LPT", care_unit_hsa_id=HSA),
                id=f"ev-{s}-{suffix}"))
    return out


def barrier_done(tag: str):
    """Predicate over ALERTS_OPS events: the barrier's alerts are all out."""
    def done(events: list[Envelope]) -> bool:
        return sum(1 for e in events if e.data.subject.startswith(f"{tag}-bar")) >= CARE_DAYS.partitions
    return done


def cancel(care_day_id: str, tag: str) -> Envelope:
    return event(CareDayCancelled(care_day_id=care_day_id, reason="felregistrerad"), id=f"{tag}-cancel-{care_day_id}")


def close(period: str, tag: str) -> Envelope:
    return event(PeriodCloseRequested(service="billing", period=period), id=f"{tag}-close-{period}")
