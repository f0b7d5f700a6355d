"""Privacy: after the fuzz run (tests/reliability/fuzz_run.py), the services' logs contain none of
the personnummer or complaint texts that were sent (valid, rejected and HTTP complaints)."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.broker


def test_logs_hold_no_personnummer_or_complaint_text(fuzz_run):
    assert fuzz_run.log_paths, "the stack wrote no logs"
    assert len(fuzz_run.secrets) >= 2 * 150
    leaks = []
    for path in fuzz_run.log_paths:
        text = path.read_text("utf-8", "replace")
        assert text.strip(), f"{path.name} is empty"
        leaks += [(path.name, s[:20]) for s in fuzz_run.secrets if s in text]
    assert not leaks, f"{len(leaks)} personal data leaks in the logs, e.g. {leaks[:3]}"


def test_logs_hold_no_text_from_the_bad_messages(fuzz_run):
    """Long printable runs from the bad messages (hypothesis text) are not echoed to the logs."""
    probes = {s.value[:400].decode("utf-8", "ignore") for s in fuzz_run.bad if s.kind.startswith("huge")}
    probes = {p for p in probes if len(p) >= 200}
    logs = "".join(p.read_text("utf-8", "replace") for p in fuzz_run.log_paths)
    assert not [p[:20] for p in probes if p in logs]
