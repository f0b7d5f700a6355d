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
    assert [(r[0], r[4], r[7], r[8]) for r in rows[1:]] == [
        ("PN 2023/1", "Klagomål avseende vård", "ja", "25 kap. 1 § OSL"), ("PN 2023/2", "Begäran", "nej", "")]
    assert year_entries(_registry(), 2024) == []


def test_the_register_shows_what_a_registrar_expects():
    """Number, Swedish date, direction, sender or recipient, masked heading, document kind."""
    registry = Store("registry")
    entries = [("complaint:PN-2024-00001", "in", "complaint", "Enskild", "Klagomål avseende vård"),
               ("out-letter:L1", "out", "letter", "SE2321000180-1001", "Skrivelse till vårdgivare")]
    for n, (key, direction, kind, counterpart, subject) in enumerate(entries, start=1):
        registry[f"number|2024|{n}"] = key
        registry[f"doc|{key}"] = {
            "diary_number": f"PN 2024/{n}", "registered_at": "2023-12-31T23:30:00Z", "direction": direction,
            "document_kind": kind, "case_id": "PN-2024-00001", "counterpart": counterpart, "subject": subject,
            "confidential": True, "confidentiality_ref": "25 kap. 1 § OSL", "original_subject": "hemligt"}
    directory = Store("directory")
    directory["SE2321000180-1001"] = {"name": "Vårdcentral Falun", "registry_address": "x"}
    header, *rows = csv.reader(io.StringIO(export_csv(year_entries(registry, 2024), directory).decode()))
    assert header[:6] == ["diarienummer", "datum", "riktning", "avsändare/mottagare", "ärendemening", "handlingstyp"]
    assert [r[:6] for r in rows] == [
        ["PN 2024/1", "2024-01-01", "inkommande", "Enskild", "Klagomål avseende vård", "klagomål"],
        ["PN 2024/2", "2024-01-01", "utgående", "Vårdcentral Falun (SE2321000180-1001)", "Skrivelse till vårdgivare",
         "skrivelse"]]
    assert "hemligt" not in "".join(map(str, rows))


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


def test_with_several_workers_a_case_is_the_union_of_their_answers_in_number_order():
    from services.diary.web import merge_case_entries

    here = {"case_id": "C1", "entries": []}  # a worker without the registry
    there = {"case_id": "C1", "entries": case_entries(_registry(), "C1")[::-1]}
    merged = merge_case_entries([here, there, there])  # an entry reported twice counts once
    assert [e["diary_number"] for e in merged["entries"]] == ["PN 2023/1", "PN 2023/2"]


def test_the_registry_views_are_spread_over_the_workers():
    """The registry is on the one worker that numbers: lookups ask the others, a case is merged."""
    from services.diary.app import wire
    from services.diary.settings import Settings
    from services.diary.spec import SPEC
    from shared.service.testing import InMemoryRuntime

    runtime = InMemoryRuntime(SPEC, Settings())
    wire(runtime, Settings())
    spreads = {path: spread for (_, path), (spread, _) in runtime.spreads.items()}
    assert spreads == {"/diary/export": "any", "/diary/{year}/{n}": "any", "/diary": "all"}


async def test_an_export_of_a_year_without_entries_here_is_a_404_so_the_other_workers_are_asked():
    from services.diary.app import wire
    from services.diary.settings import Settings
    from services.diary.spec import SPEC
    from shared.service.testing import InMemoryRuntime
    from shared.web.auth import Caller
    from shared.web.gate import WebRequest

    runtime = InMemoryRuntime(SPEC, Settings())
    wire(runtime, Settings())
    handler = runtime.routes[("GET", "/diary/export")][0]
    response = await handler(WebRequest("GET", "/diary/export", {}, {"year": "2023"}, Caller("t", "officer")))
    assert response.status == 404
