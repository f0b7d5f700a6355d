"""The registrator's views over the registry store: public view, year order, CSV."""

from __future__ import annotations

import csv
import io

from services.diary.web import case_entries, export_csv, public_view, year_entries
from shared.service.state import Store


def _registry() -> Store:
    registry = Store("registry")
    for n, key, confidential in ((1, "complaint:C1", True), (2, "out-letter:L1", False)):
        registry[f"number|2023|{n}"] = key
        registry[f"doc|{key}"] = {
            "diary_number": f"PN 2023/{n}", "registered_at": "2023-06-01T12:00:00Z", "direction": "in",
            "document_kind": "letter", "case_id": "C1", "counterpart": "Region Dalarna",
            "subject": "Klagomål avseende vård" if confidential else "Begäran", "confidential": confidential,
            **({"confidentiality_ref": "25 kap. 1 § OSL"} if confidential else {}),
            "original_subject": "hemligt"}
    registry["case|C1"] = ["out-letter:L1"]
    return registry


def test_public_view_never_carries_the_original_subject():
    assert "original_subject" not in public_view(_registry()["doc|complaint:C1"])


def test_export_is_the_year_in_number_order_as_csv():
    rows = list(csv.reader(io.StringIO(export_csv(year_entries(_registry(), 2023)).decode())))
    assert rows[0][0] == "diarienummer"
    assert [(r[0], r[6], r[7], r[8]) for r in rows[1:]] == [
        ("PN 2023/1", "Klagomål avseende vård", "ja", "25 kap. 1 § OSL"), ("PN 2023/2", "Begäran", "nej", "")]
    assert year_entries(_registry(), 2024) == []


def test_the_year_ends_at_its_highest_number_and_an_old_seq_key_is_only_a_hint():
    registry = _registry()
    registry["seq|2023"] = 1  # written by earlier versions, behind the numbers since
    assert [e["diary_number"] for e in year_entries(registry, 2023)] == ["PN 2023/1", "PN 2023/2"]
    registry["number|2023|3"] = "in-letter:R9"  # a crash kept the number, not yet the entry
    assert [e["diary_number"] for e in year_entries(registry, 2023)] == ["PN 2023/1", "PN 2023/2"]


def test_a_case_lists_its_complaint_and_its_letters_once_in_number_order():
    registry = _registry()
    assert [e["diary_number"] for e in case_entries(registry, "C1")] == ["PN 2023/1", "PN 2023/2"]
    registry["case|C1"] = ["out-letter:L1", "complaint:C1"]  # an earlier version's list names the complaint
    assert [e["diary_number"] for e in case_entries(registry, "C1")] == ["PN 2023/1", "PN 2023/2"]
    assert case_entries(registry, "C2") == []
