from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel

from shared.kernel.hsa import check_hsa_id
from shared.kernel.money import Money, money_str, round_ore, to_money, to_ore
from shared.kernel.personnummer import PERSONNUMMER_PATTERN, is_samordningsnummer, normalise


class Amount(BaseModel):
    amount: Money


@given(st.decimals(min_value=Decimal("-999999999.99"), max_value=Decimal("999999999.99"), places=2))
def test_money_round_trips_exactly(value):
    dumped = Amount(amount=value).model_dump_json()
    assert Amount.model_validate_json(dumped).amount == value


def test_money_accepts_json_numbers_and_strings_without_float_noise():
    assert Amount.model_validate_json('{"amount": 0.1}').amount == Decimal("0.10")
    assert Amount.model_validate_json('{"amount": "1856040"}').amount == Decimal("1856040.00")
    assert Amount.model_validate_json('{"amount": 120}').model_dump() == {"amount": "120.00"}


@pytest.mark.parametrize("bad", ["NaN", "Infinity", "12.345", "abc", True, "1e13",
                                 "123456789012345678901234567890.12", "0.000000000000000000000000000001"])
def test_money_rejects_what_is_not_an_amount(bad):
    with pytest.raises(ValueError):
        to_money(bad)


def test_rounding_is_half_up_to_ore():
    assert round_ore(Decimal("2.345")) == Decimal("2.35")
    assert round_ore(Decimal("-2.345")) == Decimal("-2.35")
    assert money_str(Decimal("5")) == "5.00"
    assert to_ore(Decimal("120.00")) == 12000


@pytest.mark.parametrize("value", ["191212121212", "19121212-1212", "20121212+1212".replace("20", "19", 1)])
def test_valid_personnummer(value):
    assert normalise(value) == "191212121212"


def test_invalid_check_digit_and_date():
    with pytest.raises(ValueError, match="check digit"):
        normalise("191212121213")
    with pytest.raises(ValueError, match="birth date"):
        normalise("191302301212")
    with pytest.raises(ValueError, match="12 digits"):
        normalise("1212121212")


def test_samordningsnummer_adds_60_to_the_day():
    # 1912-12-72 → day 12 + 60; check digit computed for the coordination number
    from shared.kernel.personnummer import luhn_ok

    base = "121272121"
    digit = next(d for d in range(10) if luhn_ok(base + str(d)))
    number = "1912" + "1272" + "121" + str(digit)
    assert normalise(number) == number
    assert is_samordningsnummer(number)


def test_personnummer_pattern_finds_numbers_in_text():
    assert PERSONNUMMER_PATTERN.search("patient 19121212-1212 ringde")
    assert PERSONNUMMER_PATTERN.search("id 121212-1212.")
    assert not PERSONNUMMER_PATTERN.search("order 12345")


def test_hsa_id_shape():
    assert check_hsa_id("SE2321000180-1234")
    assert check_hsa_id("SE162321000180-ABC9")
    for bad in ("2321000180-1234", "SE232100018-1", "SE2321000180-", "SE2321000180-" + "x" * 30):
        with pytest.raises(ValueError):
            check_hsa_id(bad)


@given(st.decimals(allow_nan=False, allow_infinity=False, min_value=-10**11, max_value=10**11, places=None))
def test_the_wire_form_is_the_half_up_rounded_two_decimal_text(value):
    assert money_str(value) == f"{round_ore(value):.2f}"


@pytest.mark.parametrize(("kr", "tkr"), [
    ("50500", "51"), ("-50500", "-51"), ("49500", "50"), ("-49500", "-50"), ("50499.99", "50"),
    ("335900", "336"), ("259900", "260"), ("-3164100", "-3164"), ("0.00", "0"), ("-499.99", "0"),
])
def test_tkr_rounds_half_away_from_zero_as_the_seed_does(kr, tkr):
    from shared.kernel.money import to_tkr

    assert to_tkr(Decimal(kr)) == Decimal(tkr)
