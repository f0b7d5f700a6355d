"""Diary-only settings (PN_ prefix): the number prefix, the lag alert threshold, the registry's time zone."""

from __future__ import annotations

from pydantic import AwareDatetime, Field

from shared.service.settings import PnSettings


class Settings(PnSettings):
    diary_prefix: str = Field("PN", pattern=r"^\S+$", max_length=20, description="diarienummer prefix: '<prefix> <year>/<n>'")
    diary_registration_lag_seconds: float = Field(
        60.0, gt=0, description="arrival → registration longer than this raises diary.registration_lag")
    diary_timezone: str = Field("Europe/Stockholm", description="the registration year is the year in this zone")
    diary_clock_start: AwareDatetime | None = Field(
        None, description="tests and demos only: the diary's clock starts at this instant and runs on")
    diary_backfill: bool = Field(
        False, description="register documents at their own time (the case's opening, the letter's event "
        "time) instead of at arrival: for importing an old register or replaying a past year (pn demo)")
