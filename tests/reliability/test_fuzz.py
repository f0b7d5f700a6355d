"""Bad input: ≥ 2,000 malformed or adversarial messages mixed with valid ones on every public input
topic of intake, diary and billing, and bad bodies on intake's `POST /complaints`.

Runs on its own embedded broker with the three services as processes (tests/reliability/fuzz_run.py;
messages from the hypothesis strategies in fuzz_messages.py, drawn derandomized so every run sends
the same ones). Every bad message must be in `pn.deadletter` with a reason, from every service that
consumes its topic (or, for a checksum-invalid personnummer, in `pn.complaints.rejected` with a
reason code); every valid one must have its effect; no service may die or restart.
"""

from __future__ import annotations

from collections import Counter

import pytest

from shared.contract.topics import CASES_OPENED, COMPLAINTS_REJECTED, DEADLETTER, DIARY_ENTRIES

from .fuzz_messages import CONSUMERS, HAS_BUDGET, HAS_FEES
from .fuzz_poison import problems
from .fuzz_run import BILLING_CHANGELOG, N_BAD, SERVICES, data_of, key_of

pytestmark = pytest.mark.broker


def _data(records, topic):
    return [data_of(r.value) for r in records[topic]]


def test_enough_bad_messages_of_every_kind(fuzz_run):
    kinds = Counter(s.kind.split(".")[0] for s in fuzz_run.bad)
    assert len(fuzz_run.bad) >= N_BAD
    for kind in ("random_bytes", "json_not_object", "truncated_json", "deep_json", "wrong_envelope", "wrong_type",
                 "invalid_date", "unknown_type", "huge_string", *(["invalid_amount"] if HAS_FEES or HAS_BUDGET else [])):
        assert kinds[kind] > 0, kinds
    assert {s.topic for s in fuzz_run.bad} == set(CONSUMERS)


def test_every_bad_message_is_dead_lettered_with_a_reason(fuzz_run):
    dead = {}
    for d in _data(fuzz_run.records, DEADLETTER.name):
        if "service" not in d:
            continue
        dead[(d["service"], d["source_topic"], d["partition"], d["offset"])] = d
    missing = []
    for sent in fuzz_run.bad:
        for service in CONSUMERS[sent.topic]:
            letter = dead.get((service, sent.topic, sent.partition, sent.offset))
            if letter is None:
                missing.append((sent.kind, service, sent.topic, sent.offset))
                continue
            assert letter["errors"] and all(e["msg"] for e in letter["errors"]), letter["errors"]
    assert not missing, f"{len(missing)} bad messages without a dead letter, e.g. {missing[:5]}"


def test_business_rejections_carry_a_reason(fuzz_run):
    refused = {d.get("complaint_event_id"): d for d in _data(fuzz_run.records, COMPLAINTS_REJECTED.name)}
    for event_id in fuzz_run.rejected_expected:
        assert event_id in refused, event_id
        assert refused[event_id]["reason"] == "invalid_personnummer"


def test_every_valid_message_has_its_effect(fuzz_run):
    opened = {d.get("complaint_event_id") for d in _data(fuzz_run.records, CASES_OPENED.name)}
    assert fuzz_run.valid_complaints <= opened, fuzz_run.valid_complaints - opened
    entries = {(d.get("case_id"), d.get("direction"), d.get("document_kind")) for d in _data(fuzz_run.records, DIARY_ENTRIES.name)}
    assert fuzz_run.valid_documents <= entries, fuzz_run.valid_documents - entries
    stored = {key_of(r.key) for r in fuzz_run.records[BILLING_CHANGELOG]}
    assert fuzz_run.valid_days <= stored, fuzz_run.valid_days - stored


def test_http_refuses_bad_bodies_with_a_reason_and_accepts_valid_ones(fuzz_run):
    assert len(fuzz_run.http_bad) >= 50
    for kind, status, body in fuzz_run.http_bad:
        assert 400 <= status < 500 and status not in (401, 403), (kind, status)
        assert isinstance(body, dict) and body.get("error"), (kind, body)
    assert len(fuzz_run.http_valid) == 20 and set(fuzz_run.http_valid.values()) == {202}


def test_no_service_died_or_restarted(fuzz_run):
    assert all(fuzz_run.alive_after.values()), fuzz_run.alive_after
    assert fuzz_run.pids_after == fuzz_run.pids_before


def test_no_agent_crashed(fuzz_run):
    """A crashed agent is restarted inside a live process (same pid; shared/runtime/app.py logs
    `agent_crashed`): a crash is a failure even when every process is alive."""
    crashes = [(p.name, line[:160]) for p in fuzz_run.log_paths
               for line in p.read_text("utf-8", "replace").splitlines()
               if "Crashed reason=" in line or "agent_crashed" in line]
    assert not crashes, crashes[:3]


@pytest.mark.parametrize("service", SERVICES)
def test_a_poison_record_on_each_input_topic_is_dead_lettered_and_the_records_behind_it_take_effect(fuzz_run, service):
    """Issue 22, per service, on every input topic it consumes: an oversized poison record (1.2 MB
    of random bytes) ends on pn.deadletter truncated with its sha256 and size; the valid record
    behind it on the same partition takes effect exactly once; the same event id sent again with
    other content is refused with reason `event_id_reused` and takes no effect."""
    assert fuzz_run.poison is not None
    found = problems(fuzz_run.poison, fuzz_run.records, data_of, key_of)
    assert not found.get(service), found.get(service)
    topics = {r.topic for r in fuzz_run.poison.of("oversized") if service in CONSUMERS[r.topic]}
    assert topics == {t for t, consumers in CONSUMERS.items() if service in consumers}


def test_counts_lost_and_duplicated(fuzz_run):
    """The figures docs/security.md reports: every valid message had its effect (none lost), none
    twice (none duplicated), every bad one was dead-lettered by each consumer of its topic."""
    opened = Counter(d.get("complaint_event_id") for d in _data(fuzz_run.records, CASES_OPENED.name))
    lost = len(fuzz_run.valid_complaints - set(opened))
    duplicated = sum(1 for e in fuzz_run.valid_complaints if opened[e] > 1)
    entries = Counter((d.get("case_id"), d.get("direction"), d.get("document_kind"))
                      for d in _data(fuzz_run.records, DIARY_ENTRIES.name))
    lost += len(fuzz_run.valid_documents - set(entries))
    duplicated += sum(1 for doc in fuzz_run.valid_documents if entries[doc] > 1)
    stored = {key_of(r.key) for r in fuzz_run.records[BILLING_CHANGELOG]}
    lost += len(fuzz_run.valid_days - stored)
    plan = fuzz_run.poison
    letters = [d for d in _data(fuzz_run.records, DEADLETTER.name) if "service" in d]
    print(f"\nFUZZ COUNTS: bad {len(fuzz_run.bad)}, issue-22 records {len(plan.records)} "
          f"(oversized {len(plan.of('oversized'))}, valid behind them {len(plan.of('valid'))}, "
          f"reused ids {len(plan.of('reused'))}), Kafka records in all {fuzz_run.kafka_sent}, "
          f"http {len(fuzz_run.http_bad) + len(fuzz_run.http_valid)}, dead letters {len(letters)}, "
          f"lost {lost}, duplicated {duplicated}, seconds {fuzz_run.seconds:.0f}")
    assert lost == 0 and duplicated == 0
