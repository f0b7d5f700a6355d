"""Test data for the diary: opened cases, letters both ways, care units."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from shared.contract.events import CareUnitUpserted, CaseOpened, LetterCreated, LetterReceived

UNIT = "SE2321000180-1001"
SECRET = "Anna Anderssons journal 19600101-1234"
"""A subject that must never reach the public register."""


def case_opened(case_id: str = "PN-2023-00001", **overrides: Any) -> CaseOpened:
    fields: dict[str, Any] = {
        "case_id": case_id, "complaint_event_id": f"ev-{case_id}", "channel": "1177", "region": "20",
        "care_unit_hsa_id": UNIT, "care_unit_status": "resolved", "care_provider": "Region Dalarna",
        "categories": [{"code": "kommunikation.bemotande", "source": "rules"}],
        "opened_at": datetime(2023, 6, 1, 12, tzinfo=UTC)}
    return CaseOpened.model_validate({**fields, **overrides})


def letter_out(letter_id: str = "L1", case_id: str = "PN-2023-00001", *, recipient: str = UNIT,
               confidential: bool = True, subject: str = SECRET) -> LetterCreated:
    return LetterCreated(letter_id=letter_id, case_id=case_id, recipient_hsa_id=recipient, subject=subject,
                         document_uri=f"doc://{letter_id}", contains_patient_data=confidential, created_by="handl1")


def letter_in(letter_id: str = "R1", case_id: str = "PN-2023-00001", *, confidential: bool = True,
              subject: str = SECRET) -> LetterReceived:
    return LetterReceived(letter_id=letter_id, case_id=case_id, sender_hsa_id=UNIT, subject=subject,
                          document_uri=f"doc://{letter_id}", contains_patient_data=confidential,
                          received_on=datetime(2023, 6, 1).date())


def care_unit(hsa_id: str = UNIT) -> CareUnitUpserted:
    return CareUnitUpserted(hsa_id=hsa_id, name="Vårdcentral Falun", care_provider="Region Dalarna", region="20",
                            registry_address="Region Dalarna, Registratur, 791 29 Falun")
