"""Every date-derived decision takes the Swedish date: the new year and both daylight-saving changes.

Decisions on a timestamp (case year and spike day in intake, diary year, report period) go through
Europe/Stockholm; the others are dates already in the contract (a visit's `date`, a care day's
`care_date`, a posting's `period`, a close's `period`), written by the upstream in Swedish time,
so no offset can move them (docs/domain.md, "Swedish time")."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from services.diary.domain import registration_year
from shared.apps.report.figures import local_date
from shared.kernel.swedish_time import swedish_date, swedish_year

CASES = [
    (datetime(2023, 12, 31, 22, 59, tzinfo=UTC), date(2023, 12, 31)),  # 23:59 CET
    (datetime(2023, 12, 31, 23, 30, tzinfo=UTC), date(2024, 1, 1)),  # 00:30 on New Year's Day
    (datetime(2024, 1, 1, 0, 30, tzinfo=timezone(timedelta(hours=1))), date(2024, 1, 1)),
    (datetime(2023, 3, 25, 22, 59, tzinfo=UTC), date(2023, 3, 25)),  # 23:59 CET before summer time
    (datetime(2023, 3, 26, 1, 30, tzinfo=UTC), date(2023, 3, 26)),  # 03:30 CEST, just after the jump
    (datetime(2023, 3, 26, 22, 0, tzinfo=UTC), date(2023, 3, 27)),  # 00:00 CEST
    (datetime(2023, 10, 29, 0, 30, tzinfo=UTC), date(2023, 10, 29)),  # 02:30 CEST, the first time
    (datetime(2023, 10, 29, 1, 30, tzinfo=UTC), date(2023, 10, 29)),  # 02:30 CET, the second time
    (datetime(2023, 10, 29, 22, 59, tzinfo=UTC), date(2023, 10, 29)),  # 23:59 CET
    (datetime(2023, 10, 29, 23, 0, tzinfo=UTC), date(2023, 10, 30)),  # 00:00 CET
    (datetime(2023, 12, 31, 23, 30), date(2024, 1, 1)),  # naive: taken as UTC
]


@pytest.mark.parametrize(("at", "day"), CASES)
def test_the_swedish_date_and_year_of_a_timestamp(at, day):
    assert swedish_date(at) == day and swedish_year(at) == day.year
    assert local_date(at) == day  # the report's periods
    if at.tzinfo is not None:
        assert registration_year(at, "Europe/Stockholm") == day.year  # the diary's year
