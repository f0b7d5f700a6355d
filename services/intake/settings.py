"""Intake-only settings (PN_ prefix): attachment limits and the spike clock."""

from __future__ import annotations

from pydantic import Field

from shared.settings import PnSettings

DEFAULT_MEDIA_TYPES = (
    "application/pdf", "image/jpeg", "image/png", "image/heic", "text/plain",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)


class Settings(PnSettings):
    intake_max_attachment_bytes: int = Field(20 * 1024 * 1024, ge=0, description="larger attachments are rejected")
    intake_attachment_types: tuple[str, ...] = Field(DEFAULT_MEDIA_TYPES, description="allowed media types (JSON list)")
    intake_tick_s: float = Field(60.0, gt=0, description="how often open spike alerts are re-checked")
