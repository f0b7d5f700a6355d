"""The schedule's price cache gives exactly what the uncached domain computes, per visit."""

from __future__ import annotations

import itertools
from datetime import date

from services.fees.domain import facts, lines_for, split
from services.fees.rules import FeeSchedule

from .factories import visit
from .harness import schedule


def uncached(v, first):
    version = schedule().version_for(v.date)
    matched = schedule().matching(version, facts(v, first))
    lines = lines_for(v, version.rules, matched)
    return matched, lines, split(lines)


def test_cached_prices_equal_the_domain_for_every_kind_week_km_and_income():
    kinds, kms, incomes = ("visit", "phone", "hearing"), (None, "0", "8", "8.0", "12.5"), (None, "800.00", "9999.00")
    cases = [visit(f"v{i}", day, kind=kind, km=km, lost=lost, certified=cert)
             for i, (day, kind, km, lost, cert) in enumerate(itertools.product(
                 (date(2022, 12, 31), date(2023, 1, 1)), kinds, kms, incomes, (False, True)))]
    for _ in range(2):  # the second round is answered from the cache
        for v, first in itertools.product(cases, (True, False)):
            price = schedule().price(schedule().version_for(v.date), v, first)
            matched, lines, (taxable, tax_free) = uncached(v, first)
            assert price.rule_ids == tuple(matched)
            assert [line.model_dump_json() for line in price.lines] == [line.model_dump_json() for line in lines]
            assert (price.taxable, price.tax_free, price.total) == (taxable, tax_free, taxable + tax_free)
            assert str(price.total) == str(taxable + tax_free)
            assert price.first_in_week == facts(v, first)["first_in_week"]


def test_8_and_8_point_0_km_are_different_quantities():
    version = schedule().version_for(date(2023, 3, 1))
    eight = schedule().price(version, visit(km="8"), False).lines[0]
    eight_0 = schedule().price(version, visit(km="8.0"), False).lines[0]
    assert (str(eight.quantity), str(eight_0.quantity)) == ("8", "8.0")


def test_the_cache_is_bounded():
    small = FeeSchedule(schedule().versions, schedule().engine, prices_kept=5)
    version = small.version_for(date(2023, 3, 1))
    for km in range(20):
        assert small.price(version, visit(km=str(km + 1)), False).lines[-1].quantity == km + 1
        assert len(small._prices) <= 5  # noqa: SLF001
