"""Issue 22: the same event id with other content is refused with a reason code on
`pn.complaints.rejected` (`event_id_reused`); with the same content it is a duplicate."""

from __future__ import annotations

from shared.contract.topics import (
    CARE_UNITS,
    CASES_OPENED,
    COMPLAINTS_REJECTED,
    COMPLAINTS_SUBMITTED,
    DEADLETTER,
)

from .factories import care_unit, complaint
from .test_handlers import Intake


async def test_a_complaint_under_a_used_event_id_is_rejected_with_a_reason_and_opens_no_case():
    intake = Intake()
    await intake.send(CARE_UNITS, care_unit())
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="ref-1"), id="c1")
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="ref-2", description="Ett annat klagomål."), id="c1")
    await intake.send(COMPLAINTS_SUBMITTED, complaint(external_ref="ref-1"), id="c1")  # the first again
    assert [c.complaint_event_id for c in intake.on(CASES_OPENED)] == ["c1"]
    [refused] = intake.on(COMPLAINTS_REJECTED)
    assert (refused.reason, refused.complaint_event_id) == ("event_id_reused", "c1")
    assert "Ett annat" not in refused.detail  # the refusal names the id, never the content
    assert intake.on(DEADLETTER) == []
