"""The store keys are stored state: their strings must never change (tables, changelogs, the record)."""

from __future__ import annotations

from datetime import date

from services.billing import keys
from services.billing.handlers import day_key

from .factories import care_day


def test_care_days_keys_keep_their_strings_and_parse_back():
    k = keys.day(date(2024, 3, 1), "P-1|odd")
    assert k == "d|2024-03-01|P-1|odd" and k.startswith(keys.DAYS)
    assert (keys.day_date(k), keys.day_period(k)) == ("2024-03-01", "2024-03")
    assert keys.cancel("D-1") == "x|D-1" and keys.cancelled_day_id(keys.cancel("D-1|x")) == "D-1|x"
    assert keys.cancel("D-1").startswith(keys.CANCELS)
    assert keys.alerted("D-1") == "a|D-1" and keys.alerted("D-1").startswith(keys.ALERTS)


def test_invoices_keys_keep_their_strings_and_parse_back():
    assert keys.CLOSED == "closed"
    k = keys.issued("2024-03", "21")
    assert k == "issued|2024-03|21" and k.startswith(keys.ISSUED) and keys.issued_period(k) == "2024-03"


def test_the_handlers_day_key_is_the_keys_one():
    day = care_day("21", "2024-03-05", patient="P-9")
    assert day_key(day) == keys.day(day.care_date, day.patient_ref) == "d|2024-03-05|P-9"
