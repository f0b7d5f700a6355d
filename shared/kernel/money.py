"""Exact SEK amounts.

Amounts are `Decimal` with two decimals everywhere: on the wire they are strings (`"120.00"`),
on input JSON numbers are accepted too but parsed from their text, never through a float.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated, Any

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema

ORE = Decimal("0.01")
ZERO = Decimal("0.00")


def round_ore(value: Decimal) -> Decimal:
    """Round to öre, half up (the rounding a Swedish invoice uses)."""
    return value.quantize(ORE, rounding=ROUND_HALF_UP)


def to_money(value: Any) -> Decimal:
    """Parse an amount from a string, int or Decimal; reject floats' binary noise and NaN."""
    if isinstance(value, bool):
        raise ValueError("an amount cannot be a boolean")
    if isinstance(value, float):
        # JSON numbers reach us as floats only when a caller bypassed pydantic's JSON parser;
        # repr() gives the shortest text that round-trips, which is what the sender wrote.
        value = repr(value)
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        # its type and length only: the text may be anything a sender put there (a personnummer,
        # a token), and this message goes to dead-letter reasons and logs
        raise ValueError(f"not an amount: a {type(value).__name__} of {len(str(value))} characters") from None
    if not amount.is_finite():
        raise ValueError("an amount must be finite")
    if abs(amount) >= Decimal("1e12"):  # before any rounding: quantize fails beyond 28 digits
        raise ValueError("an amount must be below 1,000,000,000,000 kr")
    try:
        rounded = round_ore(amount)
    except InvalidOperation:
        raise ValueError("an amount has too many digits") from None
    if rounded != amount:
        raise ValueError("an amount has at most two decimals (öre)")
    return rounded


def money_str(value: Decimal) -> str:
    """The wire form: a string with exactly two decimals (half-up when the value has more)."""
    text = str(value)  # an amount of two decimals (every validated Money) is already its wire form
    if text[-3:-2] == "." and "E" not in text:
        return text
    return f"{round_ore(value):.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(to_money),
    PlainSerializer(money_str, return_type=str, when_used="always"),
    WithJsonSchema({"type": "string", "pattern": r"^-?\d+\.\d{2}$", "examples": ["120.00"]}),
]
"""Type for a SEK amount field in an event model."""


def to_ore(value: Decimal) -> int:
    """Integer öre, for rule engines that would otherwise see a float."""
    return int(round_ore(value) * 100)


TKR = Decimal(1000)


def to_tkr(value: Decimal) -> Decimal:
    """Whole tkr (thousands of kronor), half away from zero, as the seed's tables round: 50,500 kr
    is 51 tkr and −50,500 kr is −51 tkr (Decimal's ROUND_HALF_UP; never banker's rounding, which
    would give 50 and −50). Each figure is rounded on its own, so a table's rounded rows need not
    add up to its rounded total (the seed: personnel +279 and other +108 beside a total of +336,
    and the gross costs' 387 = 3,900 − 3,514 + a rounding)."""
    return (value / TKR).quantize(Decimal(1), rounding=ROUND_HALF_UP)
