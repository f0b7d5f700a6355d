"""The year's record as an archival package (`pn archive`, docs/archive.md).

`package(records, year)` is pure: the raw records of the record topics in, the package's files
(name → bytes) out. One JSON-lines file per record type, each line one CloudEvent as it was
published, canonical JSON (sorted keys, no spaces, UTF-8), lines sorted by the event's time and id;
the same event id twice (a redelivery) is one line. Budget statuses are the last of each cost
centre and month, what compaction keeps, so a compacted and an uncompacted log give the same file.
Nothing in the package depends on when or where it was made: the same log gives the same bytes.

`manifest.json` lists every file with its count, its first and last date (or month), its sha256,
and per topic partition the offsets of the year's records and `delete_before`, the offset up to
which the log may be thinned once the package is verified and delivered (docs/archive.md).
`verify(dir)` re-checks every count and digest and names the first file that differs.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shared.apps.report.figures import local_date
from shared.contract.events import decode
from shared.contract.topics import (
    ALERTS_BUDGET,
    ALERTS_OPS,
    AUDIT_READS,
    BILLING_INVOICES,
    BUDGET_STATUS,
    CASES_OPENED,
    DIARY_ENTRIES,
    FEES_CALCULATED,
    FEES_PAYOUTS,
    FEES_REJECTED,
    Topic,
)
from shared.kafka.io import Record

FORMAT = "patientnamnd-record-package"
FORMAT_VERSION = 1
MANIFEST = "manifest.json"


class ArchiveError(ValueError):
    """No record for the year, or a package that does not verify."""


@dataclass(frozen=True)
class RecordType:
    """One file of the package: which topics, and the date (or YYYY-MM month) an event belongs to."""

    file: str
    title: str
    topics: tuple[Topic, ...]
    when: Callable[[Any], str]  # an envelope -> "YYYY-MM-DD" or "YYYY-MM"
    latest_per: Callable[[Any], tuple] | None = None


def _day(at: Any) -> str:
    """A timestamp's Swedish calendar date; a date as it is."""
    return (local_date(at) if isinstance(at, datetime) else at).isoformat()


RECORD_TYPES: tuple[RecordType, ...] = (
    RecordType("diary.jsonl", "diary register (diarium)", (DIARY_ENTRIES,), lambda e: _day(e.data.registered_at)),
    RecordType("cases.jsonl", "cases opened", (CASES_OPENED,), lambda e: _day(e.data.opened_at)),
    RecordType("fee-decisions.jsonl", "fee decisions (fees and rejected visits)", (FEES_CALCULATED, FEES_REJECTED),
               lambda e: _day(getattr(e.data, "visit_date", None) or e.time)),
    RecordType("fee-payouts.jsonl", "fee payouts", (FEES_PAYOUTS,), lambda e: e.data.period),
    RecordType("invoices.jsonl", "invoices to home regions", (BILLING_INVOICES,), lambda e: e.data.period),
    RecordType("budget-statuses.jsonl", "budget status, the last of each cost centre and month", (BUDGET_STATUS,),
               lambda e: e.data.period, latest_per=lambda e: (e.data.cost_centre, e.data.period)),
    RecordType("alerts.jsonl", "alerts raised and resolved (budget and operations)", (ALERTS_BUDGET, ALERTS_OPS),
               lambda e: _day(getattr(e.data, "resolved_at", None) or e.data.raised_at)
               if e.type == "pn.alert.resolved" else _day(e.data.raised_at)),
    RecordType("audit-reads.jsonl", "audit trail of reads of case data", (AUDIT_READS,), lambda e: _day(e.data.at)),
)
TOPICS: tuple[Topic, ...] = tuple({t.name: t for rt in RECORD_TYPES for t in rt.topics}.values())


def canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, ensure_ascii=False, separators=(",", ":")).encode()


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def package(records: Iterable[Record], year: int) -> dict[str, bytes]:
    """The package's files for `year`. Raises ArchiveError when the year has no record."""
    from shared.contract.schema import event_schemas

    by_topic: dict[str, list[Record]] = {}
    for r in records:
        by_topic.setdefault(r.topic, []).append(r)
    files: dict[str, bytes] = {}
    entries, offsets, types_seen = [], {}, set()
    ranges: dict[tuple[str, int], dict[str, int]] = {}
    for rt in RECORD_TYPES:
        chosen: dict[Any, tuple[str, str, dict, Any]] = {}
        for topic in rt.topics:
            for r in sorted(by_topic.get(topic.name, ()), key=lambda r: (r.partition, r.offset)):
                if not r.value:
                    continue
                try:
                    ev = decode(r.value, *topic.event_types)
                except ValueError:
                    continue  # not one of the topic's types: the dead-letter path's business, not the record's
                when = rt.when(ev)
                part = ranges.setdefault((r.topic, r.partition), {})
                ev_year = int(when[:4])
                if ev_year > year:
                    part["later"] = min(part.get("later", r.offset), r.offset)
                if ev_year != year:
                    continue
                part["first"] = min(part.get("first", r.offset), r.offset)
                part["last"] = max(part.get("last", r.offset), r.offset)
                key = rt.latest_per(ev) if rt.latest_per else (ev.type, ev.id)
                if rt.latest_per is None and key in chosen:
                    continue  # a redelivery: the first is the record
                chosen[key] = (ev.time.astimezone(UTC).isoformat(), ev.id, json.loads(r.value), when)
                types_seen.add(ev.type)
        lines = sorted(chosen.values(), key=lambda c: (c[0], c[1]))
        body = b"".join(canonical(c[2]) + b"\n" for c in lines)
        files[rt.file] = body
        whens = sorted(c[3] for c in lines)
        entries.append({"path": rt.file, "record_type": rt.title, "topics": [t.name for t in rt.topics],
                        "event_types": sorted({t.event_type for topic in rt.topics for t in topic.event_types}),
                        "count": len(lines), "first": whens[0] if whens else None,
                        "last": whens[-1] if whens else None, "sha256": sha256(body)})
    if not any(e["count"] for e in entries):
        raise ArchiveError(f"no record for {year} on the record topics ({', '.join(t.name for t in TOPICS)})")
    schemas = event_schemas()
    schema_entries = []
    for t in sorted({t.event_type for topic in TOPICS for t in topic.event_types}):
        name = f"schemas/{t}.json"
        files[name] = (json.dumps(schemas[t], indent=2, ensure_ascii=False) + "\n").encode()
        schema_entries.append({"path": name, "event_type": t, "sha256": sha256(files[name])})
    for (topic_name, partition), part in sorted(ranges.items()):
        if "first" not in part:
            continue
        offsets.setdefault(topic_name, {})[str(partition)] = {
            "first": part["first"], "last": part["last"],
            "delete_before": min(part["last"] + 1, part.get("later", part["last"] + 1))}
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, "year": year,
                "calendar": "dates in Europe/Stockholm; budget statuses, payouts and invoices by their month",
                "files": entries, "schemas": schema_entries, "offsets": offsets}
    files[MANIFEST] = json.dumps(manifest, indent=2, ensure_ascii=False, sort_keys=False).encode() + b"\n"
    return files


def write(files: dict[str, bytes], out: Path) -> list[Path]:
    out = Path(out)
    written = []
    for name, data in sorted(files.items()):
        path = out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        written.append(path)
    return written


def verify(out: Path) -> dict[str, Any]:
    """Re-check every file's count and digest against the manifest; ArchiveError names the first
    file that differs (in the manifest's order: record files, then schemas)."""
    out = Path(out)
    try:
        manifest = json.loads((out / MANIFEST).read_text("utf-8"))
    except (OSError, ValueError) as exc:
        raise ArchiveError(f"{out / MANIFEST}: not a readable manifest ({type(exc).__name__})") from None
    if manifest.get("format") != FORMAT:
        raise ArchiveError(f"{out / MANIFEST}: not a {FORMAT}")
    for entry in manifest["files"] + manifest["schemas"]:
        path = out / entry["path"]
        try:
            data = path.read_bytes()
        except OSError:
            raise ArchiveError(f"{entry['path']}: missing") from None
        lines = data.count(b"\n")
        if "count" in entry and lines != entry["count"]:
            raise ArchiveError(f"{entry['path']}: {lines} lines, the manifest says {entry['count']}")
        if sha256(data) != entry["sha256"]:
            raise ArchiveError(f"{entry['path']}: sha256 {sha256(data)} differs from the manifest's {entry['sha256']}")
    return manifest
