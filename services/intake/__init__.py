"""Intake: complaints (synpunkter och klagomål) in, cases (ärenden) out — validated, de-duplicated,
categorised, routed to the care unit and acknowledged to the submitter. See docs/intake.md."""
