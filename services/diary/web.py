"""HTTP views for the registrator (role officer): one entry, a case's entries, the year as CSV.

Every view shows the public entry: a confidential document's subject stays masked here too; the
original subject never leaves the service's store. The CSV export neutralises cells a
spreadsheet would run as formulas (shared/kernel/csv_safe.py). A case read is audited only for a case
that has entries: an unknown case id answers 404 and publishes nothing.
"""

from __future__ import annotations

import io
import re
from datetime import datetime
from typing import Any

from shared.kernel.csv_safe import writer as csv_writer
from shared.kernel.swedish_time import swedish_date
from shared.service.state import Store
from shared.web.gate import BadRequest, WebRequest, WebResponse, year_param
from shared.web.openapi import YEAR, ViewDoc

from . import keys
from .domain import diary_number, last_number, number_order

PUBLIC_FIELDS = ("diary_number", "registered_at", "direction", "document_kind", "case_id", "counterpart",
                 "subject", "confidential", "confidentiality_ref")
CSV_HEADER = ("diarienummer", "datum", "riktning", "avsändare/mottagare", "ärendemening", "handlingstyp",
              "ärende", "sekretess", "sekretessgrund", "registrerad")
"""What a registrar reads in a register, in that order: number, date (Swedish), direction, sender
or recipient, the (masked) heading, the kind of document; then the case, the secrecy marking and
the exact registration time."""
DIRECTIONS = {"in": "inkommande", "out": "utgående"}
KINDS = {"complaint": "klagomål", "letter": "skrivelse"}


CASE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:/-]{0,99}$")  # shared.contract.events.types.Id
CASE_ID_SCHEMA = {"type": "string", "pattern": CASE_ID.pattern}
ENTRY_SCHEMA = {"type": "object", "properties": {f: {} for f in PUBLIC_FIELDS}}


def public_view(doc: dict[str, Any]) -> dict[str, Any]:
    return {f: doc.get(f) for f in PUBLIC_FIELDS}


def year_entries(registry: Store, year: int) -> list[dict[str, Any]]:
    """The year's entries in number order (1..last)."""
    def holder(n: int) -> str | None:
        return registry.get(keys.number(year, n))

    entries = []
    for n in range(1, last_number(registry.get(keys.legacy_seq(year), 0), holder) + 1):
        key = holder(n)
        doc = registry.get(keys.doc(key)) if key is not None else None
        if doc is not None:  # a number whose entry a crash cut off is written again on replay
            entries.append(public_view(doc))
    return entries


def case_entries(registry: Store, case_id: str) -> list[dict[str, Any]]:
    """A case's entries in number order: its complaint (`keys.complaint`) and the letters listed
    under `keys.case_letters` (lists written by earlier versions also name the complaint)."""
    documents = dict.fromkeys([keys.complaint(case_id), *registry.get(keys.case_letters(case_id), [])])
    docs = [doc for key in documents if (doc := registry.get(keys.doc(key))) is not None]
    return [public_view(doc) for doc in sorted(docs, key=lambda doc: number_order(doc["diary_number"]))]


def counterpart_name(counterpart: str, directory: Store | None) -> str:
    """A letter's counterpart is a care unit's HSA-id: shown as the unit's name with the id when
    the directory knows it. A complaint's is already the masked sender ("Enskild")."""
    unit = directory.get(keys.care_unit(counterpart)) if directory is not None else None
    return f"{unit['name']} ({counterpart})" if unit and unit.get("name") else counterpart


def export_csv(entries: list[dict[str, Any]], directory: Store | None = None) -> bytes:
    out = io.StringIO()
    writer = csv_writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for e in entries:
        registered = datetime.fromisoformat(e["registered_at"].replace("Z", "+00:00"))
        writer.writerow([e["diary_number"], swedish_date(registered).isoformat(),
                         DIRECTIONS.get(e["direction"], e["direction"]), counterpart_name(e["counterpart"], directory),
                         e["subject"], KINDS.get(e["document_kind"], e["document_kind"]), e["case_id"],
                         "ja" if e["confidential"] else "nej", e.get("confidentiality_ref") or "",
                         e["registered_at"]])
    return out.getvalue().encode("utf-8")


def merge_case_entries(bodies: list[dict[str, Any]]) -> dict[str, Any]:
    """`GET /diary?case_id=` from every worker (`spread="all"`): the registry lives on the one worker
    that holds `pn.diary.queue`, the others answer with no entries; the union, in number order."""
    entries = {e["diary_number"]: e for body in bodies for e in body["entries"]}
    return {"case_id": bodies[0]["case_id"],
            "entries": sorted(entries.values(), key=lambda e: number_order(e["diary_number"]))}


def register(runtime: Any, *, registry: Store, prefix: str, directory: Store | None = None) -> None:
    async def get_entry(req: WebRequest) -> Any:
        year, n = year_param(req.params["year"]), req.params["n"]
        key = registry.get(keys.number(year, n)) if n.isdigit() else None
        doc = registry.get(keys.doc(key)) if key is not None else None  # None: a crash cut it, a replay writes it
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
        entries = year_entries(registry, year)
        if not entries:  # not on this worker (another holds the registry), or a year without entries
            return WebResponse(404, {"error": "not_found", "detail": f"no entries registered in {year}"})
        return WebResponse(200, content=export_csv(entries, directory),
                           content_type="text/csv; charset=utf-8",
                           headers={"Content-Disposition": f'attachment; filename="diarium-{year}.csv"'})

    # The registry is one partition, on the worker that numbers (docs/diary.md "Scale out"): a
    # lookup another worker does not hold is asked of the others; a case's entries are merged.
    runtime.route("GET", "/diary/export", export, role="officer", spread="any", doc=ViewDoc(
        "The year's diary as CSV (UTF-8, formula cells neutralised)", query={"year": YEAR}, required=("year",),
        content={"text/csv": {"type": "string"}}, responses={404: "no entries registered in that year"}))
    runtime.route("GET", "/diary/{year}/{n}", get_entry, role="officer", spread="any", doc=ViewDoc(
        "One diary entry by its number", path={"year": YEAR, "n": {"type": "string", "pattern": "^[0-9]+$"}},
        content={"application/json": ENTRY_SCHEMA}, responses={404: "no such entry"}))
    runtime.route("GET", "/diary", get_case, role="officer", audit="case", spread="all", merge=merge_case_entries,
                  doc=ViewDoc(
        "A case's diary entries in number order", query={"case_id": CASE_ID_SCHEMA}, required=("case_id",),
        content={"application/json": {"type": "object", "properties": {
            "case_id": {"type": "string"}, "entries": {"type": "array", "items": ENTRY_SCHEMA}}}},
        responses={404: "no entries for this case"}))
