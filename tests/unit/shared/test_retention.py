"""Issue 24 item 1: a retention class for every topic, in the catalog and the AsyncAPI document;
budget status keyed per cost centre and period."""

from __future__ import annotations

import pytest
import yaml

from shared.contract.events import EVENT_TYPES, decode
from shared.contract.schema import asyncapi
from shared.contract.topics import BUDGET_STATUS, CATALOG, DAY_MS, Retention, topic
from shared.service.settings import PnSettings

from .examples import EXAMPLES

RECORD = ("pn.cases.opened", "pn.complaints.rejected", "pn.diary.entries", "pn.letters.dispatched",
          "pn.fees.calculated", "pn.fees.rejected", "pn.fees.payouts", "pn.billing.invoices",
          "pn.budget.status", "pn.alerts.budget", "pn.alerts.ops", "pn.audit.reads")
PERSONAL = ("pn.complaints.submitted", "pn.letters.outgoing", "pn.letters.incoming", "pn.notifications",
            "pn.intake.accepted", "pn.diary.queue", "pn.deadletter")


@pytest.mark.parametrize("name", RECORD)
def test_the_record_is_kept(name):
    t = topic(name)
    assert t.retention is Retention.RECORD
    assert t.topic_configs["retention.ms"] == "-1"


@pytest.mark.parametrize("name", PERSONAL)
def test_personal_data_is_kept_for_the_replay_window_only(name):
    t = topic(name)
    assert t.retention is Retention.PERSONAL
    assert t.configs_for(30)["retention.ms"] == str(30 * DAY_MS)
    assert t.configs_for(7)["retention.ms"] == str(7 * DAY_MS)


def test_the_replay_window_is_a_setting_with_a_default():
    assert PnSettings().replay_window_days == 30
    assert PnSettings(replay_window_days=14).replay_window_days == 14
    with pytest.raises(ValueError):
        PnSettings(replay_window_days=0)


def test_ticks_are_short_and_every_topic_has_a_reason():
    assert int(topic("pn.ticks").topic_configs["retention.ms"]) <= DAY_MS
    for t in CATALOG:
        assert t.reason, t.name
        assert t.compacted == (t.topic_configs["cleanup.policy"] == "compact")


def test_budget_status_is_keyed_per_cost_centre_and_period():
    """Compaction keeps the latest status of every month, so a past period can be rebuilt."""
    ev = decode(_envelope("pn.budget.status"), *BUDGET_STATUS.event_types)
    assert BUDGET_STATUS.key_for(ev) == "6103|2023-12"
    assert BUDGET_STATUS.compacted


def _envelope(event_type: str) -> str:
    import json

    return json.dumps({"specversion": "1.0", "id": "e1", "source": "urn:t", "type": event_type,
                       "time": "2023-05-01T00:00:00Z", "data": EXAMPLES[event_type]})


def test_the_asyncapi_document_shows_every_topics_configuration_and_key():
    doc = asyncapi()
    assert set(doc["channels"]) == {t.name.replace(".", "_").replace("-", "_") for t in CATALOG}
    for t in CATALOG:
        ch = doc["channels"][t.name.replace(".", "_").replace("-", "_")]
        assert "x-key" not in ch
        kafka = ch["bindings"]["kafka"]
        assert kafka["partitions"] == t.partitions
        assert kafka["topicConfiguration"]["cleanup.policy"] == [t.topic_configs["cleanup.policy"]]
        assert kafka["topicConfiguration"]["retention.ms"] == int(t.topic_configs["retention.ms"])
        assert t.reason in ch["description"]
    for mid, msg in doc["components"]["messages"].items():
        assert msg["bindings"]["kafka"]["key"]["type"] == "string", mid
        assert msg["description"] and msg["examples"], mid
        ex = msg["examples"][0]
        cls = EVENT_TYPES[msg["name"]]
        cls.model_validate(ex["payload"]["data"])  # the example is valid


def test_the_committed_asyncapi_document_is_current():
    from pathlib import Path

    committed = yaml.safe_load((Path(__file__).resolve().parents[3] / "docs/contract/asyncapi.yaml").read_text())
    assert committed == yaml.safe_load(yaml.safe_dump(asyncapi(), sort_keys=False, allow_unicode=True)), \
        "regenerate: pn schema --out docs/contract"


def test_the_hsa_pattern_is_in_the_schema():
    from shared.contract.schema import event_schemas

    prop = event_schemas()["pn.care_unit.upserted"]["$defs"]
    assert any("pattern" in v.get("properties", {}).get("hsa_id", {}) for v in prop.values())
