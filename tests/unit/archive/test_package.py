"""`pn archive` (issue 24 item 3): the package from records, without a broker."""

from __future__ import annotations

import json
import random

import pytest

from shared.apps.archive import MANIFEST, ArchiveError, package, verify, write
from shared.contract.events import encode, make_event
from shared.contract.topics import BY_NAME
from shared.kafka.io import Record

from ..shared.examples import EXAMPLES

TOPIC_OF = {"pn.diary.registered": "pn.diary.entries", "pn.case.opened": "pn.cases.opened",
            "pn.fee.calculated": "pn.fees.calculated", "pn.fee.rejected": "pn.fees.rejected",
            "pn.fee.payout": "pn.fees.payouts", "pn.invoice.issued": "pn.billing.invoices",
            "pn.budget.status": "pn.budget.status", "pn.alert.raised": "pn.alerts.budget",
            "pn.audit.case_read": "pn.audit.reads"}


def event(event_type: str, time: str, id: str, **data) -> bytes:
    from datetime import datetime

    cls = BY_NAME[TOPIC_OF[event_type]].event_types
    model = next(c for c in cls if c.event_type == event_type).model_validate({**EXAMPLES[event_type], **data})
    return encode(make_event(model, source="urn:test", time=datetime.fromisoformat(time), id=id))


def records(shuffle: int | None = None) -> list[Record]:
    evs = [("pn.diary.registered", "2023-01-02T10:00:01+01:00", "d1", {}),
           ("pn.diary.registered", "2024-01-02T10:00:01+01:00", "d2",
            {"diary_number": "PN 2024/1", "registered_at": "2024-01-02T10:00:01+01:00"}),
           ("pn.diary.registered", "2023-12-31T23:30:00+01:00", "d3",  # 2023 in Sweden, 2023-12-31T22:30Z
            {"diary_number": "PN 2023/9", "registered_at": "2023-12-31T23:30:00+01:00"}),
           ("pn.case.opened", "2023-01-02T10:00:00+01:00", "c1", {}),
           ("pn.case.opened", "2023-01-02T10:00:00+01:00", "c1", {}),  # a redelivery: one line
           ("pn.fee.calculated", "2023-01-12T10:00:00+01:00", "f1", {"visit_date": "2023-01-10"}),
           ("pn.fee.rejected", "2023-02-12T10:00:00+01:00", "f2", {}),
           ("pn.fee.payout", "2023-02-01T10:00:00+01:00", "p1", {}),
           ("pn.invoice.issued", "2023-08-01T10:00:00+02:00", "i1", {}),
           ("pn.budget.status", "2023-03-10T10:00:00+01:00", "b1", {"period": "2023-03"}),
           ("pn.budget.status", "2023-03-20T10:00:00+01:00", "b2", {"period": "2023-03"}),  # replaces b1
           ("pn.budget.status", "2023-04-20T10:00:00+02:00", "b3", {"period": "2023-04"}),
           ("pn.alert.raised", "2023-05-01T02:00:00+02:00", "a1", {}),
           ("pn.audit.case_read", "2023-05-01T02:00:00+02:00", "r1", {})]
    out, offsets = [], {}
    for type_, time, id_, data in evs:
        topic = TOPIC_OF[type_]
        payload = event(type_, time, id_, **data)
        # one key stays in one partition (budget statuses of a cost centre and month); the rest spread
        spread = shuffle is not None and type_ != "pn.budget.status"
        partition = random.Random(f"{shuffle}{id_}").randrange(4) if spread else 0
        off = offsets.get((topic, partition), 0)
        offsets[(topic, partition)] = off + 1
        out.append(Record(topic, partition, off, None, payload, 0))
    return out


def test_one_file_per_record_type_with_a_manifest_and_the_schemas():
    files = package(records(), 2023)
    manifest = json.loads(files[MANIFEST])
    counts = {e["path"]: e["count"] for e in manifest["files"]}
    assert counts == {"diary.jsonl": 2, "cases.jsonl": 1, "fee-decisions.jsonl": 2, "fee-payouts.jsonl": 1,
                      "invoices.jsonl": 1, "budget-statuses.jsonl": 2, "alerts.jsonl": 1, "audit-reads.jsonl": 1}
    diary = next(e for e in manifest["files"] if e["path"] == "diary.jsonl")
    assert (diary["first"], diary["last"]) == ("2023-01-02", "2023-12-31")
    budget = [json.loads(line)["id"] for line in files["budget-statuses.jsonl"].splitlines()]
    assert budget == ["b2", "b3"]  # the last of each cost centre and month, as compaction keeps
    assert "schemas/pn.diary.registered.json" in files
    assert manifest["offsets"]["pn.diary.entries"]["0"] == {"first": 0, "last": 2, "delete_before": 1}


def test_the_same_log_gives_the_same_bytes_whatever_the_partitioning():
    a, b = package(records(), 2023), package(records(shuffle=7), 2023)
    assert {k: v for k, v in a.items() if k != MANIFEST} == {k: v for k, v in b.items() if k != MANIFEST}
    assert package(records(), 2023) == a


def test_a_year_with_no_record_is_an_error():
    with pytest.raises(ArchiveError, match="no record for 2019"):
        package(records(), 2019)


def test_verify_names_the_first_file_that_differs(tmp_path):
    write(package(records(), 2023), tmp_path)
    assert verify(tmp_path)["year"] == 2023
    path = tmp_path / "invoices.jsonl"
    path.write_bytes(path.read_bytes().replace(b'"21"', b'"22"'))
    (tmp_path / "schemas/pn.fee.payout.json").write_text("{}")
    with pytest.raises(ArchiveError, match=r"^invoices.jsonl: sha256"):
        verify(tmp_path)
    path.write_bytes(path.read_bytes() + b"{}\n")
    with pytest.raises(ArchiveError, match=r"^invoices.jsonl: 2 lines, the manifest says 1"):
        verify(tmp_path)
    path.unlink()
    with pytest.raises(ArchiveError, match=r"^invoices.jsonl: missing"):
        verify(tmp_path)


def test_the_archive_cli_writes_verifies_and_refuses(tmp_path, monkeypatch):
    from click.testing import CliRunner

    import shared.kafka.io
    from shared.cli import main

    async def fake_read_all(settings, topics, **kw):  # the broker path is tests/integration/test_record_rebuild.py
        return records()

    monkeypatch.setattr(shared.kafka.io, "read_all", fake_read_all)
    runner = CliRunner()
    done = runner.invoke(main, ["archive", "--year", "2023", "--out", str(tmp_path / "p")])
    assert done.exit_code == 0, done.output
    assert "11 records" in done.output
    assert runner.invoke(main, ["archive", "verify", str(tmp_path / "p")]).exit_code == 0
    empty = runner.invoke(main, ["archive", "--year", "2019", "--out", str(tmp_path / "q")])
    assert empty.exit_code == 1 and "no record for 2019" in empty.output and not (tmp_path / "q").exists()
    (tmp_path / "p/cases.jsonl").write_text("")
    bad = runner.invoke(main, ["archive", "verify", str(tmp_path / "p")])
    assert bad.exit_code == 1 and "cases.jsonl: 0 lines" in bad.output

