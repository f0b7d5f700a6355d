"""The HSA care-unit directory, published by the region's directory sync on a compacted topic."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from ..hsa import HsaId
from .envelope import EventData
from .types import CountyCode, Text


class CareUnitUpserted(EventData):
    event_type = "pn.care_unit.upserted"

    hsa_id: HsaId
    name: Text
    care_provider: Text
    region: CountyCode
    registry_address: Annotated[str, Field(min_length=1, max_length=500)]
