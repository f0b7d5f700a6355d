"""Test data for intake: complaints, care units, diary entries, valid personnummer."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contract.events import Attachment, CareUnitUpserted, ComplaintSubmitted, DiaryRegistered
from shared.kernel.personnummer import luhn_ok

UNIT = "SE2321000180-1001"


def personnummer(i: int, year: int = 1960) -> str:
    """A checksum-valid 12-digit personnummer, different for each i < 10,000."""
    birth = f"{year + i % 40:04d}{1 + i % 12:02d}{1 + i % 28:02d}"
    serial = f"{(i // 40) % 1000:03d}"
    check = next(c for c in "0123456789" if luhn_ok(birth[2:] + serial + c))
    return birth + serial + check


def attachment(**overrides: Any) -> Attachment:
    fields = {"filename": "bild.jpg", "media_type": "image/jpeg", "size_bytes": 1000, "sha256": "a" * 64,
              "uri": "s3://bucket/x"}
    return Attachment(**{**fields, **overrides})


def complaint(**overrides: Any) -> ComplaintSubmitted:
    fields: dict[str, Any] = {
        "channel": "1177", "external_ref": "ref-1", "region": "20",
        "patient": {"personnummer": personnummer(1), "name": "Anna Andersson"},
        "submitter": {"role": "patient", "email": "anna@example.se"},
        "care_unit_hsa_id": UNIT, "description": "Läkaren var otrevlig och jag fick ingen information.",
    }
    return ComplaintSubmitted.model_validate({**fields, **overrides})


def care_unit(hsa_id: str = UNIT, provider: str = "Region Dalarna") -> CareUnitUpserted:
    return CareUnitUpserted(hsa_id=hsa_id, name="Vårdcentral Falun", care_provider=provider, region="20",
                            registry_address="Region Dalarna, Registratur, 791 29 Falun")


def diary_entry(case_id: str, direction: str, kind: str = "letter", number: int = 1) -> DiaryRegistered:
    return DiaryRegistered(diary_number=f"PN 2023/{number}", registered_at=datetime(2023, 6, 2, tzinfo=UTC),
                           direction=direction, document_kind=kind, case_id=case_id, counterpart="Vårdcentral",
                           subject="Skrivelse", confidential=True, confidentiality_ref="25 kap. 1 § OSL")
