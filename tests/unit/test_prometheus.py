"""deploy/prometheus/ (issue 26): the alert rules pass their promtool unit tests, and every metric
the rules and the Grafana dashboard name is one shared/service/metrics.py exports (a renamed metric would
otherwise leave an alert that can never fire and a panel that stays empty).

promtool comes from the Debian package `prometheus`, installed by `make test` (Makefile `tools`).
Without it the promtool tests skip on a developer's machine and fail in CI (CI=true)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from prometheus_client.metrics_core import Metric

from shared.service.metrics import Metrics

ROOT = Path(__file__).resolve().parents[2]
PROM = ROOT / "deploy/prometheus"
PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                "bool", "offset", "inf", "nan"}
SCRAPE_METRICS = {"up"}  # Prometheus' own, per target


def _promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("promtool missing in CI: `make test` installs it (Debian package prometheus)")
        pytest.skip("promtool not installed (`make tools` installs the Debian package prometheus)")
    return path


def test_the_alert_rules_are_valid_and_pass_their_unit_tests():
    promtool = _promtool()
    check = subprocess.run([promtool, "check", "rules", "rules.yml"], cwd=PROM, capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    run = subprocess.run([promtool, "test", "rules", "rules.test.yml"], cwd=PROM, capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_every_alert_has_a_unit_test_and_a_runbook_section():
    rules = [r for g in yaml.safe_load((PROM / "rules.yml").read_text())["groups"] for r in g["rules"]]
    tested = {t["alertname"] for case in yaml.safe_load((PROM / "rules.test.yml").read_text())["tests"]
              for t in case.get("alert_rule_test", [])}
    runbook = (ROOT / "docs/runbook.md").read_text().lower()
    for rule in rules:
        assert rule["alert"] in tested, f"{rule['alert']} has no promtool test"
        anchor = rule["annotations"]["runbook"].split("#", 1)[1]
        assert re.search(rf"^#+ .*{anchor}", runbook, re.M), f"docs/runbook.md has no heading for {anchor}"


def exported_metric_names() -> set[str]:
    """Sample names the registry of a service exports (families without samples yet included); a
    counter only as `<name>_total` (its family name is not a series: `pn_events_in` never matches)."""
    names: set[str] = set()
    for family in Metrics("intake").registry.collect():
        family: Metric
        if family.type != "counter":
            names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.update({f"{family.name}_total", f"{family.name}_created"})
        elif family.type == "histogram":
            names.update(f"{family.name}{suffix}" for suffix in ("_bucket", "_sum", "_count", "_created"))
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names of a PromQL expression: identifiers that are not functions, keywords,
    label names (inside {} or by/on/ignoring/without (...)) or strings."""
    expr = re.sub(r'"[^"]*"', "", expr)
    expr = re.sub(r"\{[^}]*\}", "", expr)
    expr = re.sub(r"\[[^\]]*\]", "", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", expr)
    found = set()
    for match in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        word, rest = match.group(0), expr[match.end():].lstrip()
        if rest.startswith("(") or word.lower() in PROMQL_WORDS:
            continue
        found.add(word)
    return found


def test_the_metric_name_parser_finds_metrics_not_functions_or_labels():
    assert metric_names('sum by (service, le) (rate(pn_x_bucket{a="b"}[5m])) / ignoring (service) up > 0.9') == {
        "pn_x_bucket", "up"}


def _rule_exprs() -> list[str]:
    groups = yaml.safe_load((PROM / "rules.yml").read_text())["groups"]
    return [r["expr"] for g in groups for r in g["rules"]]


def _dashboard_exprs() -> list[str]:
    dash = json.loads((PROM / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


@pytest.mark.parametrize("source", ["rules", "dashboard"])
def test_every_metric_named_is_exported_by_shared_metrics(source):
    exprs = _rule_exprs() if source == "rules" else _dashboard_exprs()
    named = set().union(*(metric_names(e) for e in exprs))
    assert named, "no metric found: the parser is broken"
    assert named - exported_metric_names() - SCRAPE_METRICS == set()


def dashboard_and_rule_metrics() -> set[str]:
    return set().union(*(metric_names(e) for e in _rule_exprs() + _dashboard_exprs()))


def test_the_dashboard_shows_throughput_lag_dead_letters_p99_and_rss():
    named = set().union(*(metric_names(e) for e in _dashboard_exprs()))
    assert {"pn_events_in_total", "pn_consumer_lag", "pn_events_deadlettered_total",
            "pn_processing_seconds_bucket", "process_resident_memory_bytes"} <= named
    assert any("histogram_quantile(0.99" in e for e in _dashboard_exprs())


def test_memory_limit_is_read_from_the_cgroup_and_infinite_without_one(tmp_path):
    from shared.service.metrics import memory_limit_bytes

    v2, v1 = tmp_path / "memory.max", tmp_path / "memory.limit_in_bytes"
    assert memory_limit_bytes((v2, v1)) == float("inf")
    v1.write_text("9223372036854771712\n")
    assert memory_limit_bytes((v2, v1)) == float("inf")
    v2.write_text("536870912\n")
    assert memory_limit_bytes((v2, v1)) == 536870912.0
    v2.write_text("max\n")
    assert memory_limit_bytes((v2, v1)) == float("inf")
