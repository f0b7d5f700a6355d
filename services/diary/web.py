"""HTTP views for the registrator (role officer): one entry, a case's entries, the year as CSV.

Every view shows the public entry: a confidential document's subject stays masked here too; the
original subject never leaves the service's store. The CSV export neutralises cells a
spreadsheet would run as formulas (shared/csv_safe.py). A case read is audited only for a case
that has entries: an unknown case id answers 404 and publishes nothing.
"""

from __future__ import annotations

import io
import re
from typing import Any

from shared.csv_safe import writer as csv_writer
from shared.openapi import YEAR, ViewDoc
from shared.state import Store
from shared.web import BadRequest, WebRequest, WebResponse, year_param

from .domain import diary_number, last_number

PUBLIC_FIELDS = ("diary_number", "registered_at", "direction", "document_kind", "case_id", "counterpart",
                 "subject", "confidential", "confidentiality_ref")
CSV_HEADER = ("diarienummer", "registrerad", "riktning", "handlingstyp", "ärende", "motpart", "ärendemening",
              "sekretess", "sekretessgrund")


CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")  # shared.events.types.Id
CASE_ID_SCHEMA = {"type": "string", "pattern": CASE_ID.pattern}
ENTRY_SCHEMA = {"type": "object", "properties": {f: {} for f in PUBLIC_FIELDS}}


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {f: doc.get(f) for f in PUBLIC_FIELDS}


def year_entries(registry: Store, year: int) -> list[dict[str, Any]]:
    """The year's entries in number order (1..last)."""
    def holder(n: int) -> str | None:
        return registry.get(f"number|{year}|{n}")

    entries = []
    for n in range(1, last_number(registry.get(f"seq|{year}", 0), holder) + 1):
        key = holder(n)
        doc = registry.get(f"doc|{key}") if key is not None else None
        if doc is not None:  # a number whose entry a crash cut off is written again on replay
            entries.append(public_view(doc))
    return entries


def case_entries(registry: Store, case_id: str) -> list[dict[str, Any]]:
    """A case's entries in number order: its complaint (`doc|complaint:<case_id>`) and the letters
    listed under `case|<case_id>` (lists written by earlier versions also name the complaint)."""
    keys = dict.fromkeys([f"complaint:{case_id}", *registry.get(f"case|{case_id}", [])])
    docs = [doc for key in keys if (doc := registry.get(f"doc|{key}")) is not None]
    return [public_view(doc) for doc in sorted(docs, key=_number_order)]


def _number_order(doc: dict[str, Any]) -> tuple[int, int]:
    year, n = doc["diary_number"].rsplit(" ", 1)[-1].split("/")
    return int(year), int(n)


def export_csv(entries: list[dict[str, Any]]) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        writer.writerow([e["diary_number"], e["registered_at"], e["direction"], e["document_kind"], e["case_id"],
                         e["counterpart"], e["subject"], "ja" if e["confidential"] else "nej",
                         e.get("confidentiality_ref") or ""])
    return out.getvalue().encode("utf-8")


def register(runtime: Any, *, registry: Store, prefix: str) -> None:
    async def get_entry(req: WebRequest) -> Any:
        year, n = year_param(req.params["year"]), req.params["n"]
        key = registry.get(f"number|{year}|{n}") if n.isdigit() else None
        doc = registry.get(f"doc|{key}") if key is not None else None  # None: a crash cut it, a replay writes it
        if doc is None:
            return WebResponse(404, {"error": "not_found", "detail": f"no entry {diary_number(prefix, year, n)}"})
        return public_view(doc)

    async def get_case(req: WebRequest) -> Any:
        case_id = req.query.get("case_id")
        if not case_id:
            raise BadRequest(422, "case_id is required: /diary?case_id=...")
        if not CASE_ID.fullmatch(case_id):
            raise BadRequest(422, "case_id is not a case id", [{"loc": ["query", "case_id"], "msg": "not an id"}])
        entries = case_entries(registry, case_id)
        if not entries:
            return WebResponse(404, {"error": "not_found", "detail": "no diary entries for this case"})
        req.audit(case_id=case_id)  # a case that exists: the only id this read puts on the audit topic
        return {"case_id": case_id, "entries": entries}

    async def export(req: WebRequest) -> WebResponse:
        year = year_param(req.query.get("year"))
        return WebResponse(200, content=export_csv(year_entries(registry, year)),
                           content_type="text/csv; charset=utf-8",
                           headers={"Content-Disposition": f'attachment; filename="diarium-{year}.csv"'})

    runtime.route("GET", "/diary/export", export, role="officer", doc=ViewDoc(
        "The year's diary as CSV (UTF-8, formula cells neutralised)", query={"year": YEAR}, required=("year",),
        content={"text/csv": {"type": "string"}}))
    runtime.route("GET", "/diary/{year}/{n}", get_entry, role="officer", doc=ViewDoc(
        "One diary entry by its number", path={"year": YEAR, "n": {"type": "string", "pattern": "^[0-9]+$"}},
        content={"application/json": ENTRY_SCHEMA}, responses={404: "no such entry"}))
    runtime.route("GET", "/diary", get_case, role="officer", audit="case", doc=ViewDoc(
        "A case's diary entries in number order", query={"case_id": CASE_ID_SCHEMA}, required=("case_id",),
        content={"application/json": {"type": "object", "properties": {
            "case_id": {"type": "string"}, "entries": {"type": "array", "items": ENTRY_SCHEMA}}}},
        responses={404: "no entries for this case"}))
