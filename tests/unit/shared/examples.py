"""One valid `data` example per event type in EVENTS.md, shared by the contract tests."""

from shared.contract.examples import EXAMPLES

__all__ = ["EXAMPLES", "WRONG"]

# One field per type whose wrong value must be rejected, with the value to put there.
WRONG: dict[str, tuple[str, object]] = {
    "pn.complaint.submitted": ("channel", "fax"),
    "pn.care_unit.upserted": ("hsa_id", "1234"),
    "pn.letter.created": ("contains_patient_data", "maybe"),
    "pn.letter.received": ("received_on", "2023-02-30"),
    "pn.support.assigned": ("legal_basis", "LVU"),
    "pn.support.care_ended": ("care_ended_on", "yesterday"),
    "pn.support.ended": ("ended_on", None),
    "pn.advice.contact_registered": ("subject_area", "a patient's name"),
    "pn.support.visit_reported": ("kind", "coffee"),
    "pn.care.day_recorded": ("home_region", "Gävleborg"),
    "pn.care.day_cancelled": ("care_day_id", ""),
    "pn.budget.set": ("monthly", ["1.00"] * 11),
    "pn.ledger.posted": ("amount", "12.345"),
    "pn.period.close_requested": ("period", "2023-13"),
    "pn.case.opened": ("care_unit_status", "maybe"),
    "pn.complaint.rejected": ("reason", None),
    "pn.notification.requested": ("template", "spam"),
    "pn.diary.registered": ("diary_number", "2023-1"),
    "pn.letter.dispatched": ("dispatched_at", "soon"),
    "pn.fee.calculated": ("total", "NaN"),
    "pn.fee.rejected": ("reason", "because"),
    "pn.fee.payout": ("period", "2023"),
    "pn.invoice.issued": ("home_region", "X"),
    "pn.budget.status": ("year", "last year"),
    "pn.alert.raised": ("severity", "panic"),
    "pn.alert.resolved": ("severity", "panic"),
    "pn.event.rejected": ("offset", "seven"),
    "pn.tick": ("at", "now"),
    "pn.invoice.drafted": ("period", "2023-7"),
    "pn.audit.case_read": ("role", "admin"),
}
