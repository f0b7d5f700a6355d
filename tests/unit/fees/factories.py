"""Builders for fees tests: assignments, visits, and a seeded year of visits for 40 stödpersoner."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from shared.contract.events import (
    Envelope,
    PeriodCloseRequested,
    SupportAssigned,
    SupportCareEnded,
    SupportEnded,
    VisitReported,
)
from shared.service.testing import envelope


def assigned(assignment_id: str = "a1", sp: str = "sp1", start: date = date(2023, 1, 1)) -> SupportAssigned:
    return SupportAssigned(assignment_id=assignment_id, support_person_id=sp, patient_ref=f"p-{assignment_id}",
                           legal_basis="LPT", start_date=start)


def care_ended(assignment_id: str, on: date) -> SupportCareEnded:
    return SupportCareEnded(assignment_id=assignment_id, care_ended_on=on)


def ended(assignment_id: str, on: date) -> SupportEnded:
    return SupportEnded(assignment_id=assignment_id, ended_on=on, reason="avslutat")


def visit(visit_id: str = "v1", day: date = date(2023, 3, 1), *, assignment_id: str = "a1", sp: str = "sp1",
          kind: str = "visit", km: str | None = None, lost: str | None = None, certified: bool = False,
          submitted: date | None = None) -> VisitReported:
    return VisitReported(visit_id=visit_id, assignment_id=assignment_id, support_person_id=sp, date=day, kind=kind,
                         travel_km=Decimal(km) if km else None, lost_income=Decimal(lost) if lost else None,
                         lost_income_certified=certified, submitted_on=submitted or day)


def close(period: str) -> PeriodCloseRequested:
    return PeriodCloseRequested(service="fees", period=period)


@dataclass
class Year:
    """A year of input: assignments (with end dates), visits, conflicting re-sends, orphans."""

    assignments: list[Envelope] = field(default_factory=list)
    early_visits: list[Envelope] = field(default_factory=list)  # sent before their assignment
    visits: list[Envelope] = field(default_factory=list)
    conflicts: list[Envelope] = field(default_factory=list)  # same visit_id, other content
    redeliveries: list[Envelope] = field(default_factory=list)  # same content, new event id
    spans: dict[str, tuple[date, date | None, date | None]] = field(default_factory=dict)

    @property
    def all_visits(self) -> list[VisitReported]:
        return [e.data for e in self.early_visits + self.visits]


def year_of_visits(tag: str, year: int, *, people: int = 40, visits: int = 1365, orphans: int = 5,
                   conflicts: int = 10, seed: int = 1) -> Year:
    """`visits` visit ids for `people` stödpersoner (one assignment each); some outside the support
    period or reported too late, `orphans` with an assignment that never arrives."""
    rng, out = random.Random(seed), Year()
    first = date(year, 1, 1)
    for i in range(people):
        aid, sp = f"{tag}-a{i}", f"{tag}-sp{i}"
        start = first + timedelta(days=rng.choice([0, 0, 0, 20, 40]))
        care = first + timedelta(days=rng.randrange(250, 330)) if i % 4 == 0 else None
        end = first + timedelta(days=rng.randrange(300, 364)) if i % 5 == 1 else None
        out.spans[aid] = (start, care, end)
        out.assignments.append(envelope(assigned(aid, sp, start)))
        if care:
            out.assignments.append(envelope(care_ended(aid, care)))
        if end:
            out.assignments.append(envelope(ended(aid, end)))
    for n in range(visits):
        i = n % people if n >= orphans else people + n
        aid, sp = f"{tag}-a{i}", f"{tag}-sp{i % people}"
        day = first + timedelta(days=rng.randrange(0, 365))
        kind = rng.choices(["visit", "phone", "hearing"], [70, 20, 10])[0]
        late = rng.random() < 0.02
        v = visit(f"{tag}-v{n}", day, assignment_id=aid, sp=sp, kind=kind,
                  km=f"{rng.randrange(0, 800) / 10:.1f}" if rng.random() < 0.6 else None,
                  lost=f"{rng.randrange(500, 2500)}.50" if kind == "hearing" and rng.random() < 0.5 else None,
                  certified=rng.random() < 0.8, submitted=day + timedelta(days=200 if late else rng.randrange(0, 30)))
        (out.early_visits if i % 10 == 3 else out.visits).append(envelope(v))
    for e in rng.sample(out.visits, conflicts):
        other = e.data.model_copy(update={"travel_km": Decimal("999.0")})
        out.conflicts.append(envelope(other))
        out.redeliveries.append(envelope(e.data))
    return out
