"""Every event model in EVENTS.md accepts its example and names the failing field otherwise."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from shared.contract.events import EVENT_TYPES, decode, encode, envelope_model
from shared.contract.topics import BY_NAME, CATALOG

from .examples import EXAMPLES, WRONG


def _envelope(event_type: str, data: dict) -> bytes:
    return json.dumps({"specversion": "1.0", "id": "e-1", "source": "/test", "type": event_type,
                       "time": "2023-01-01T12:00:00+01:00", "data": data}).encode()


def test_every_registered_type_has_an_example():
    assert set(EVENT_TYPES) == set(EXAMPLES) == set(WRONG)


@pytest.mark.parametrize("event_type", sorted(EXAMPLES))
def test_example_is_accepted_and_round_trips(event_type):
    event = decode(_envelope(event_type, EXAMPLES[event_type]))
    assert event.type == event_type
    again = decode(encode(event))
    assert again == event


@pytest.mark.parametrize("event_type", sorted(WRONG))
def test_wrong_value_is_rejected_naming_the_field(event_type):
    field, value = WRONG[event_type]
    data = {**EXAMPLES[event_type], field: value}
    with pytest.raises(ValidationError) as err:
        decode(_envelope(event_type, data))
    locs = [e["loc"] for e in err.value.errors()]
    assert any(field in loc for loc in locs), locs


@pytest.mark.parametrize("event_type", ["pn.case.opened", "pn.fee.payout"])
def test_missing_required_field_is_named(event_type):
    data = dict(EXAMPLES[event_type])
    missing = next(iter(data))
    del data[missing]
    with pytest.raises(ValidationError) as err:
        decode(_envelope(event_type, data))
    assert any(e["type"] == "missing" and missing in e["loc"] for e in err.value.errors())


def test_unknown_data_fields_are_ignored_for_forward_compatibility():
    data = {**EXAMPLES["pn.support.visit_reported"], "new_field_from_v2": 1}
    assert decode(_envelope("pn.support.visit_reported", data)).data.visit_id == "V1"


def test_unknown_type_and_bad_envelope_are_rejected():
    with pytest.raises(ValidationError):
        decode(_envelope("pn.nonsense", {}))
    bad = json.loads(_envelope("pn.tick", EXAMPLES["pn.tick"]))
    bad["specversion"] = "0.3"
    with pytest.raises(ValidationError) as err:
        decode(json.dumps(bad))
    assert any("specversion" in e["loc"] for e in err.value.errors())
    bad = json.loads(_envelope("pn.tick", EXAMPLES["pn.tick"]))
    bad["time"] = "2023-01-01T12:00:00"  # no offset
    with pytest.raises(ValidationError):
        decode(json.dumps(bad))


def test_topic_decoder_accepts_only_its_types():
    from shared.contract.events import decoder_for

    topic = BY_NAME["pn.care.days"]
    ok = decoder_for(topic.event_types).validate_json(_envelope("pn.care.day_cancelled", EXAMPLES["pn.care.day_cancelled"]))
    assert ok.data.care_day_id == "D1"
    with pytest.raises(ValidationError):
        decoder_for(topic.event_types).validate_json(_envelope("pn.tick", EXAMPLES["pn.tick"]))


def test_catalog_covers_every_type_and_is_unique():
    names = [t.name for t in CATALOG]
    assert len(names) == len(set(names))
    produced = {cls.event_type for t in CATALOG for cls in t.event_types}
    assert produced == set(EVENT_TYPES)
    assert BY_NAME["pn.reference.care-units"].compacted and BY_NAME["pn.budget.status"].compacted


def test_output_amounts_are_strings_with_two_decimals():
    event = decode(_envelope("pn.ledger.posted", EXAMPLES["pn.ledger.posted"]))
    assert json.loads(encode(event))["data"]["amount"] == "-420.00"


def test_json_schema_generation_for_every_type():
    for cls in EVENT_TYPES.values():
        schema = envelope_model(cls).model_json_schema(mode="serialization")
        assert schema["properties"]["type"]["const"] == cls.event_type


def test_committed_contract_docs_match_the_models(tmp_path):
    """docs/contract is generated (`make schema`); a model change without regenerating fails here."""
    from pathlib import Path

    from shared.contract.schema import write_schemas

    committed = Path(__file__).resolve().parents[3] / "docs" / "contract"
    for path in write_schemas(tmp_path):
        twin = committed / path.relative_to(tmp_path)
        assert twin.exists() and twin.read_text() == path.read_text(), f"regenerate docs/contract ({twin.name})"
