"""The HSA care-unit directory, published by the region's directory sync on a compacted topic."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from shared.contract.events.envelope import EventData
from shared.contract.events.types import CountyCode, Text
from shared.kernel.hsa import HsaId


class CareUnitUpserted(EventData):
    event_type = "pn.care_unit.upserted"

    hsa_id: HsaId
    name: Text
    care_provider: Text
    region: CountyCode
    registry_address: Annotated[str, Field(min_length=1, max_length=500)]
