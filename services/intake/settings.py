"""Intake-only settings (PN_ prefix): attachment limits, the spike clock, and latency defaults."""

from __future__ import annotations

from pydantic import Field

from shared.service.settings import PnSettings

DEFAULT_MEDIA_TYPES = (
    "application/pdf", "image/jpeg", "image/png", "image/heic", "text/plain",
    "application/msword", "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
)


class Settings(PnSettings):
    intake_max_attachment_bytes: int = Field(20 * 1024 * 1024, ge=0, description="larger attachments are rejected")
    intake_attachment_types: tuple[str, ...] = Field(DEFAULT_MEDIA_TYPES, description="allowed media types (JSON list)")
    intake_tick_s: float = Field(60.0, gt=0, description="how often open spike alerts are re-checked")
    # Intake answers citizens, and a complaint reaches its case through two hops, each waiting up
    # to a producer linger: a shorter one than the platform's took ~3 ms off p50 and p99 at 100
    # complaints/s for a few per cent more CPU in a burst (bench/RESULTS.md, third round).
    # PN_PRODUCER_LINGER_S still overrides it.
    producer_linger_s: float = 0.002
