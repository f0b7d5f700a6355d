"""`pn topics` reconciles (issue 24 item 2): the plan of what would change, without a broker."""

from __future__ import annotations

from shared.contract.topics import BUDGET_STATUS, CATALOG, TICKS, topic
from shared.kafka.admin import Existing, IncrementalAlterConfigsRequest, plan, shrink_error


def as_catalog(days: int = 30) -> dict[str, Existing]:
    return {t.name: Existing(t.partitions, t.configs_for(days)) for t in CATALOG}


def test_a_broker_as_the_catalog_needs_nothing():
    assert plan(CATALOG, as_catalog(), 30).empty


def test_missing_topics_are_created():
    have = as_catalog()
    del have["pn.audit.reads"]
    p = plan(CATALOG, have, 30)
    assert [t.name for t in p.create] == ["pn.audit.reads"] and not p.changes
    assert p.lines(30) == ["create pn.audit.reads: 4 partitions, cleanup.policy=delete retention.ms=-1"]


def test_a_wrong_retention_is_a_difference():
    """Kafka's default retention (7 days) on the record: what the compose deployment had."""
    have = as_catalog()
    have[BUDGET_STATUS.name] = Existing(4, {"cleanup.policy": "compact", "retention.ms": "604800000"})
    have["pn.diary.entries"] = Existing(4, {"cleanup.policy": "delete"})
    p = plan(CATALOG, have, 30)
    assert sorted(p.lines(30)) == ["config pn.budget.status: retention.ms 604800000 -> -1",
                                   "config pn.diary.entries: retention.ms (unset) -> -1"]


def test_a_shorter_replay_window_changes_the_personal_topics_only():
    p = plan(CATALOG, as_catalog(30), 7)
    changed = {c.topic for c in p.changes}
    assert changed == {t.name for t in CATALOG if t.retention.value in ("personal", "internal")}
    assert all(c.wanted == str(7 * 86_400_000) for c in p.changes)


def test_configs_the_catalog_does_not_own_are_left_alone():
    have = as_catalog()
    have["pn.cases.opened"] = Existing(4, {**have["pn.cases.opened"].configs, "segment.ms": "1000"})
    assert plan(CATALOG, have, 30).empty


def test_fewer_partitions_than_the_broker_has_is_refused_more_is_a_growth():
    have = as_catalog()
    have[TICKS.name] = Existing(8, have[TICKS.name].configs)
    have["pn.cases.opened"] = Existing(2, have["pn.cases.opened"].configs)
    p = plan(CATALOG, have, 30)
    assert p.shrink == {"pn.ticks": (8, 4)} and p.grow == {"pn.cases.opened": (2, 4)}
    assert "cannot remove partitions" in shrink_error(p) and "pn.ticks has 8 partitions" in shrink_error(p)
    assert any("REFUSED" in line for line in p.lines(30))


def test_the_alter_request_sets_only_the_changed_keys():
    req = IncrementalAlterConfigsRequest({"pn.budget.status": {"retention.ms": "-1"}})
    struct = req.prepare({44: (0, 1)})
    assert struct.API_VERSION == 0
    assert struct.resources == [(2, "pn.budget.status", [("retention.ms", 0, "-1")])]
    assert topic("pn.budget.status").configs_for(30)["retention.ms"] == "-1"
