"""HSA-id shape: `SE` + organisation number (10 digits, optionally `16`-prefixed) + `-` + local part.

Only the shape is checked here; whether a unit exists is the reference directory's business.
"""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, Field

HSA_PATTERN = r"^SE(16)?\d{10}-[A-Za-z0-9]{1,17}$"
_HSA = re.compile(HSA_PATTERN)


def check_hsa_id(value: str) -> str:
    if len(value) > 31 or not _HSA.match(value):
        raise ValueError("not an HSA-id (SE + 10-digit organisation number + '-' + local part)")
    return value


HsaId = Annotated[str, AfterValidator(check_hsa_id),
                  Field(json_schema_extra={"pattern": HSA_PATTERN, "maxLength": 31})]
"""The pattern is also in the JSON Schema (docs/contract/schemas) for producers that validate."""
