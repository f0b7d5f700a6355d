"""Pure figures, the Jämtland seed's split, and each default rule just below / at / above its threshold."""

from decimal import Decimal as D

import pytest

from services.budget.domain import Figures, centre_figures, group_figures, months_elapsed, total_of
from services.budget.rules import load_budget_rules
from shared.apps.demo.seed_jamtland import (
    JAMTLAND_2023,
    ROWS,
    SEED_DEVIATION_TKR,
    jamtland_2023,
    monthly,
)
from shared.kernel.money import round_ore
from shared.service.rules import RulesFileError

from .harness import RULES


def tkr(x: D) -> int:
    return int(round_ore(x / 1000).quantize(D(1), rounding="ROUND_HALF_UP"))


def test_group_figures_after_four_months():
    f = group_figures([D("-75000")] * 12, D("-425000"), 4)
    assert f == Figures(D("-300000.00"), D("-425000.00"), D("-125000.00"), D("-900000.00"),
                        D("-1275000.00"), D("-1025000.00"))


def test_run_rate_is_exact_and_rounded_to_ore():
    f = group_figures([D("100")] * 12, D("100.01"), 7)
    assert f.forecast_run_rate == D("171.45")  # 100.01 / 7 * 12 = 171.4457...
    assert isinstance(f.forecast_run_rate, D)


def test_group_without_budget_or_postings_and_months_bounds():
    f = group_figures(None, D("-50"), 12)
    assert f.budget_ytd == 0 and f.deviation == D("-50.00") and f.forecast_budget_rest == D("-50.00")
    with pytest.raises(ValueError):
        group_figures(None, D(0), 0)
    assert months_elapsed(["2023-03", "2023-11", "2023-01"]) == 11
    assert months_elapsed([]) is None


def test_centre_total_is_the_sum_of_its_groups():
    groups, total = centre_figures({"revenue": [D(10)] * 12}, {"revenue": D(25), "other": D(-7)}, 3)
    assert set(groups) == {"revenue", "other"}
    assert total == total_of(groups.values())
    assert total.deviation == D("-12.00")  # (25 − 30) + (−7 − 0)


def test_monthly_split_sums_exactly():
    for annual in (D("-2217000"), D("349400"), D("-10000"), D("1")):
        parts = monthly(annual)
        assert len(parts) == 12 and sum(parts) == annual


def test_jamtland_seed_rounds_to_every_figure_of_the_table():
    budgets, postings = jamtland_2023(2091)
    assert len(budgets) == len(JAMTLAND_2023) and all(b.year == 2091 for b in budgets)
    actual = {k: sum((p.amount for p in postings if (p.cost_centre, p.account_group) == k), D(0)) for k in JAMTLAND_2023}
    plan = {(b.cost_centre, b.account_group): sum(b.monthly) for b in budgets}
    dev = {k: actual[k] - plan[k] for k in JAMTLAND_2023}
    by_cc = {cc: sum(v for k, v in dev.items() if k[0] == cc) for cc in ("6101", "6102", "6103")}
    assert {cc: tkr(v) for cc, v in by_cc.items()} | {"total": tkr(sum(by_cc.values()))} == SEED_DEVIATION_TKR
    assert tkr(sum(dev.values())) == 336
    assert tkr(sum(actual.values())) == -3164 and tkr(sum(plan.values())) == -3500
    # the seed's rows: revenue, personnel (incl. the arvoden), services, other
    row = {r.seed_row: r for r in ROWS}
    rows = {"revenue": [r for r in ROWS if r.group == "revenue"],
            "personnel": [r for r in ROWS if r.group in ("personnel", "fees")],
            "services": [row["Verksamhetsanknutna tjänster"]],
            "other": [r for r in ROWS if r.seed_row == "Övriga kostnader"]}
    seed = {"revenue": (349, 400, -51), "personnel": (-3279, -3557, 279), "services": (0, -10, 10),
            "other": (-235, -333, 98)}
    for name, (outcome, budget, deviation) in seed.items():
        o, b = sum(r.outcome for r in rows[name]), sum(r.budget for r in rows[name])
        assert (tkr(o), tkr(b), tkr(o - b)) == (outcome, budget, deviation), name
    # the text's deviations per cost centre and row, fixed (not back-solved from anything computed)
    assert [(r.cost_centre, r.group, tkr(r.deviation)) for r in ROWS] == [
        ("6101", "personnel", 0), ("6101", "other", 16), ("6102", "revenue", -51), ("6102", "personnel", 224),
        ("6102", "other", 77), ("6102", "other", 10), ("6103", "fees", 55), ("6103", "other", 5)]
    assert {p.period for p in postings} == {f"2091-{m:02d}" for m in range(1, 13)}
    assert len({p.posting_id for p in postings}) == len(postings)
    _, finance = jamtland_2023(2091, finance_only=True)
    assert {(p.cost_centre, p.account_group) for p in finance} == {
        ("6101", "personnel"), ("6101", "other"), ("6102", "revenue"), ("6102", "personnel"), ("6102", "other"),
        ("6103", "other")}  # the arvoden are the fees service's postings


# -- rules at their thresholds ------------------------------------------------------------------
RULESET = load_budget_rules(RULES)
BY_ID = {r.id: r for r in RULESET.rules}


def holds(rule_id: str, fig: Figures, months: int = 6) -> bool:
    return RULESET.holds(BY_ID[rule_id], fig, months)[0]


def fig(budget_ytd: str, actual_ytd: str, annual: str = "0", run_rate: str = "0") -> Figures:
    b, a = D(budget_ytd), D(actual_ytd)
    return Figures(b, a, a - b, D(annual), D(run_rate), a)


@pytest.mark.parametrize(("actual", "expected"), [("-125000.01", True), ("-125000.00", False), ("-124999.99", False)])
def test_ytd_deficit_at_the_25000_floor(actual, expected):
    # budget_ytd −100,000: 5 % is 5,000, so the floor 25,000 applies; deviation −25,000 is "at"
    assert holds("budget.ytd_deficit", fig("-100000", actual)) is expected


@pytest.mark.parametrize(("actual", "expected"), [("-2100000.01", True), ("-2100000.00", False), ("-2099999.99", False)])
def test_ytd_deficit_at_five_percent(actual, expected):
    # budget_ytd −2,000,000: 5 % is 100,000 > 25,000
    assert holds("budget.ytd_deficit", fig("-2000000", actual)) is expected


@pytest.mark.parametrize(("run_rate", "expected"), [("-1000000.01", True), ("-1000000.00", False), ("-999999.99", False)])
def test_forecast_deficit_at_100000(run_rate, expected):
    assert holds("budget.forecast_deficit", fig("0", "0", annual="-900000", run_rate=run_rate)) is expected


@pytest.mark.parametrize(("run_rate", "expected"), [("-4000000.01", True), ("-4000000.00", False), ("-3999999.99", False)])
def test_total_forecast_deficit_at_500000(run_rate, expected):
    assert holds("budget.total_forecast_deficit", fig("0", "0", annual="-3500000", run_rate=run_rate)) is expected


@pytest.mark.parametrize(("actual", "expected"), [("179999.99", True), ("180000.00", False), ("180000.01", False)])
def test_revenue_shortfall_at_90_percent(actual, expected):
    assert holds("budget.revenue_shortfall", fig("200000", actual)) is expected


def test_revenue_shortfall_needs_a_revenue_budget():
    assert holds("budget.revenue_shortfall", fig("0", "-5")) is False


def test_rule_scopes_and_severities():
    assert {r.id: (r.scope, r.severity) for r in RULESET.rules} == {
        "budget.ytd_deficit": ("cost_centre", "warning"),
        "budget.forecast_deficit": ("cost_centre", "warning"),
        "budget.total_forecast_deficit": ("total", "critical"),
        "budget.revenue_shortfall": ("account_group", "info"),
    }


BAD = """version: 1
rules:
  - id: budget.x
    scope: cost_centre
    condition: {margin: {lt: 0}}
    severity: warning
    message: {sv: "a", en: "b"}
"""


@pytest.mark.parametrize(("text", "needle"), [
    (BAD, ":5: rules.0.condition"),
    (BAD.replace("margin", "margin_ore").replace('"a"', '"{nope}"'), ":7: rules.0.message.sv"),
    (BAD.replace("margin", "margin_ore").replace("warning", "loud"), ":6: rules.0.severity"),
    (BAD.replace("margin", "margin_ore").replace("{lt: 0}", "{lt: 0.5}"), ":5: rules.0.condition"),
    (BAD.replace("margin", "margin_ore").replace("cost_centre", "account_group"), ":3: rules.0"),
])
def test_bad_rules_file_names_the_line(tmp_path, text, needle):
    path = tmp_path / "budget_alerts.yaml"
    path.write_text(text)
    with pytest.raises(RulesFileError) as err:
        load_budget_rules(path)
    assert needle in str(err.value), str(err.value)


# -- the per-posting path in integer öre equals the Decimal figures and facts ----------------------
def test_figures_in_ore_equal_the_decimal_figures_and_their_facts():
    import random

    from services.budget.domain import (
        FIELDS,
        NO_PLAN,
        fact_ore,
        facts,
        figures_of,
        group_figures_ore,
        kr,
        ore,
        plan_ore,
    )
    from shared.kernel.money import money_str

    rng = random.Random(7)
    for i in range(1500):
        months = 8 if i % 5 == 0 else rng.randint(1, 12)  # 8: the one month count where x/m×12 can tie
        plan = None if i % 7 == 0 else [money_str(D(rng.randint(-10**9, 10**9)) / 100) for _ in range(12)]
        actual = rng.choice([rng.randint(-10**12, 10**12), rng.randint(-999, 999), 0, 1, -1, 2 * rng.randint(-50, 50) + 1])
        expected = group_figures([D(m) for m in plan] if plan else None, D(actual) / 100, months)
        got = group_figures_ore(plan_ore(tuple(plan)) if plan else NO_PLAN, actual, months)
        assert got == tuple(ore(money_str(getattr(expected, name))) for name in FIELDS), (plan, actual, months)
        assert [kr(v) for v in got] == [money_str(getattr(expected, name)) for name in FIELDS]
        assert figures_of(got) == expected
        for rule in RULESET.rules:
            p = rule.params
            want = facts(expected, min_abs=p.min_abs, pct=p.pct, ratio_pct=p.ratio_pct, months=months)
            assert {n: fact_ore(n, got, months, min_abs=p.min_abs, pct=p.pct, ratio_pct=p.ratio_pct)
                    for n in want} == want
            # the rule sees only the facts it names, reduced to their class: same truth as all facts raw
            raw = rule.id in RULESET.engine.matching(rule.id, want)
            assert RULESET.holds_ore(rule, got, months) is raw
            assert RULESET.holds(rule, expected, months)[0] is raw


def test_rule_facts_are_reduced_to_the_literals_they_are_compared_with():
    from services.budget.rules import AlertRule, _Inputs

    rule = AlertRule.model_validate({
        "id": "t.r", "scope": "cost_centre", "severity": "info", "message": {"sv": "x", "en": "x"},
        "condition": {"margin_ore": {"gt": -5, "lte": 10}, "any": [{"months_elapsed": [3, 6]},
                                                                   {"deviation_ore": {"ne": 0}}]}})
    inputs = _Inputs.of(rule)
    assert inputs.names == ("deviation_ore", "margin_ore", "months_elapsed")
    assert [inputs.reduce("margin_ore", v) for v in (-100, -6, -5, -4, 0, 9, 10, 11, 10**12)] == \
        [-6, -6, -5, -4, -4, -4, 10, 11, 11]
    assert [inputs.reduce("months_elapsed", v) for v in (1, 3, 4, 5, 6, 12)] == [2, 3, 4, 4, 6, 7]


# -- the handlers' decisions, pure --------------------------------------------------------------------
def test_only_the_namnds_own_cost_centres_count():
    from services.budget.domain import is_own_cost_centre

    assert is_own_cost_centre("6101", None) is True  # no list: every cost centre
    assert is_own_cost_centre("6101", frozenset({"6101", "6102"})) is True
    assert is_own_cost_centre("7300", frozenset({"6101", "6102"})) is False
    assert is_own_cost_centre("6101", frozenset()) is False


def test_a_posting_counts_in_its_periods_year_and_month():
    from services.budget.domain import Counted, counted_as, month_of

    assert counted_as("2091-12", "fees", "-10.00") == Counted(2091, "2091-12", "fees", "-10.00")
    assert month_of("2091-01") == 1 and month_of("2091-12") == 12


def test_posting_changes_new_same_again_changed_and_moved_across_years():
    from services.budget.domain import Counted, posting_changes

    now = Counted(2091, "2091-03", "fees", "-10.50")
    assert posting_changes(None, now) == ((2091, (("2091-03", "fees", -1050, 1),)),)
    assert posting_changes(now, now) == ()  # the same posting again: counted once
    same_year = Counted(2091, "2091-01", "other", "3.00")
    assert posting_changes(same_year, now) == (
        (2091, (("2091-01", "other", -300, -1), ("2091-03", "fees", -1050, 1))),)
    amount_only = Counted(2091, "2091-03", "fees", "-10.00")
    assert posting_changes(amount_only, now) == (
        (2091, (("2091-03", "fees", 1000, -1), ("2091-03", "fees", -1050, 1))),)
    last_year = Counted(2090, "2090-12", "fees", "-10.50")
    assert posting_changes(last_year, now) == (  # the old year first
        (2090, (("2090-12", "fees", 1050, -1),)), (2091, (("2091-03", "fees", -1050, 1),)))
    assert posting_changes(now, last_year)[0][0] == 2091  # and back: the old year is then 2091


def test_apply_changes_counts_and_drops_what_its_last_posting_left():
    from services.budget.domain import apply_changes

    empty = {"months": {}, "groups": {}}
    one = apply_changes(empty, [("2091-03", "fees", -1050, 1)])
    assert one == {"months": {"03": 1}, "groups": {"fees": [-1050, 1]}}
    assert empty == {"months": {}, "groups": {}}  # the input is not changed
    two = apply_changes(one, [("2091-04", "fees", -50, 1), ("2091-04", "other", 7, 1)])
    assert two == {"months": {"03": 1, "04": 2}, "groups": {"fees": [-1100, 2], "other": [7, 1]}}
    moved = apply_changes(two, [("2091-03", "fees", 1050, -1), ("2091-04", "other", -7, -1)])
    assert moved == {"months": {"04": 1}, "groups": {"fees": [-50, 1]}}
    # a group whose postings sum to 0 stays (it has postings); only its last posting leaving drops it
    assert apply_changes(empty, [("2091-01", "other", 0, 1)])["groups"] == {"other": [0, 1]}


def test_legacy_sums_from_the_older_buckets():
    from services.budget.domain import legacy_sums

    assert legacy_sums([]) == {"months": {}, "groups": {}}
    got = legacy_sums([("2091-01", "fees", {"p1": "-10.00", "p2": "-0.50"}), ("2091-03", "fees", {}),
                       ("2091-03", "other", {"p3": "2.00"}), ("2091-01", "other", {"p4": "1.00"})])
    assert got == {"months": {"01": 3, "03": 1}, "groups": {"fees": [-1050, 2], "other": [300, 2]}}


def test_centre_figures_in_ore_are_the_decimal_centre_figures():
    from services.budget.domain import FIELDS, centre_figures_ore, ore
    from shared.kernel.money import money_str

    assert centre_figures_ore(2091, {"months": {}, "groups": {}}, {"fees": ["-1.00"] * 12}) is None
    sums = {"months": {"01": 1, "03": 2}, "groups": {"other": [-700, 3]}}
    got = centre_figures_ore(2091, sums, {"revenue": ["10.00"] * 12})
    assert got is not None and (got.months, got.period) == (3, "2091-03")
    assert list(got.groups) == ["other", "revenue"] and got.budgeted == frozenset({"revenue"})
    groups, total = centre_figures({"revenue": [D(10)] * 12}, {"other": D("-7")}, 3)
    assert got.groups == {g: tuple(ore(money_str(getattr(f, n))) for n in FIELDS) for g, f in groups.items()}
    assert got.total == tuple(ore(money_str(getattr(total, n))) for n in FIELDS)
    budget_only = centre_figures_ore(2091, {"months": {"12": 1}, "groups": {}}, {"fees": ["-1.00"] * 12})
    assert budget_only is not None and budget_only.period == "2091-12" and budget_only.groups["fees"][1] == 0


def test_total_is_the_field_wise_sum_of_the_centres_and_their_latest_period():
    from services.budget.domain import kr, ore_of, total_figures

    def wire(*v: int) -> dict[str, str]:
        return dict(zip(("budget_ytd", "actual_ytd", "deviation", "annual_budget", "forecast_run_rate",
                         "forecast_budget_rest"), map(kr, v), strict=True))

    a = {"period": "2091-02", "account_groups": {"fees": wire(1, 2, 1, 12, 12, 12)}, "total": wire(1, 2, 1, 12, 12, 12)}
    b = {"period": "2091-05", "account_groups": {"fees": wire(-1, 0, 1, -1, 0, 0), "other": wire(0, -5, -5, 0, -12, -5)},
         "total": wire(-1, -5, -4, -1, -12, -5)}
    assert ore_of(wire(1, -2, 3, -4, 5, -6)) == (1, -2, 3, -4, 5, -6)
    period, groups, total = total_figures([a, b])
    assert period == "2091-05"
    assert groups == {"fees": (0, 2, 2, 11, 12, 12), "other": (0, -5, -5, 0, -12, -5)}
    assert total == (0, -3, -3, 11, 0, 7)
    assert total_figures([a]) == ("2091-02", {"fees": (1, 2, 1, 12, 12, 12)}, (1, 2, 1, 12, 12, 12))


def test_which_rule_is_evaluated_on_what_under_which_subject():
    from services.budget.domain import centre_alert_targets

    groups = {"revenue": (1,) * 6, "fees": (2,) * 6}
    total = (3,) * 6
    centre, group = RULESET.of_scope("cost_centre"), RULESET.of_scope("account_group")
    assert centre_alert_targets("6102", groups, total, frozenset(), centre, group) == []  # no budget yet
    got = centre_alert_targets("6102", groups, total, frozenset({"fees"}), centre, group)
    assert [(r.id, f, s) for r, f, s in got] == [(r.id, total, "6102") for r in centre]  # revenue: no budget
    got = centre_alert_targets("6102", groups, total, frozenset({"revenue", "fees"}), centre, group)
    assert [(r.id, f, s) for r, f, s in got][-1] == ("budget.revenue_shortfall", (1,) * 6, "6102/revenue")


def test_total_rules_need_an_annual_budget():
    from services.budget.domain import total_is_budgeted

    assert total_is_budgeted((0, 0, 0, -1, 0, 0)) is True
    assert total_is_budgeted((-5, -5, 0, 0, -60, -5)) is False  # postings but annual budget 0


def test_an_alert_is_raised_once_and_resolved_once():
    from services.budget.domain import alert_change, alert_facts, alert_id

    assert alert_change(True, False) == "raise"
    assert alert_change(False, True) == "resolve"
    assert alert_change(True, True) is None and alert_change(False, False) is None
    assert alert_id("budget.ytd_deficit", 2091, "6102/revenue") == "budget.ytd_deficit|2091|6102/revenue"
    assert alert_facts({"margin_ore": -1}, 2091, "2091-04") == {"margin_ore": -1, "year": 2091, "period": "2091-04"}
