from __future__ import annotations

import io
import json

import pytest
from pydantic import BaseModel

from shared.service.logging import configure, get_logger
from shared.service.rules import DurableRules, RulesFileError, compile_condition, load_rules_file


def test_conditions_compile_to_durable_rules_expressions():
    assert compile_condition({"kind": ["visit", "phone"], "first": True}) == {
        "$and": [{"$or": [{"kind": "visit"}, {"kind": "phone"}]}, {"first": True}]}
    assert compile_condition({"km": {"gt": 0, "lte": 100}}) == {"$and": [{"$gt": {"km": 0}}, {"$lte": {"km": 100}}]}
    with pytest.raises(ValueError, match="integers"):
        compile_condition({"amount": {"gt": 1.5}})
    with pytest.raises(ValueError, match="unknown operator"):
        compile_condition({"amount": {"bigger": 1}})


def test_matching_returns_every_rule_that_holds_in_definition_order():
    rules = DurableRules()
    rules.add_ruleset("fees", [("weekly", {"kind": ["visit", "phone"], "first": True}), ("allowance", {"first": True}),
                               ("hearing", {"kind": "hearing"}), ("travel", {"km": {"gt": 0}})])
    assert rules.matching("fees", {"kind": "visit", "first": True, "km": 10}) == ("weekly", "allowance", "travel")
    assert rules.matching("fees", {"kind": "phone", "first": False, "km": 0}) == ()
    assert rules.matching("fees", {"kind": "hearing", "first": False, "km": 3}) == ("hearing", "travel")
    # the same name in a second host is a separate ruleset (durable-rules names are process-global)
    other = DurableRules()
    other.add_ruleset("fees", [("only", {"kind": "visit"})])
    assert other.matching("fees", {"kind": "visit"}) == ("only",)
    with pytest.raises(ValueError):
        other.add_ruleset("fees", [("x", {"a": 1})])


class Schedule(BaseModel):
    class Version(BaseModel):
        version: str
        weekly_fee: int

    versions: list[Version]


def test_bad_rules_file_names_the_line_and_field(tmp_path):
    path = tmp_path / "rules.yaml"
    path.write_text("versions:\n  - version: '2019'\n    weekly_fee: 350\n  - version: '2023'\n    weekly_fee: lots\n")
    with pytest.raises(RulesFileError) as err:
        load_rules_file(path, Schedule)
    assert f"{path}:5: versions.1.weekly_fee" in str(err.value)
    path.write_text("versions: [\n")
    with pytest.raises(RulesFileError, match="not valid YAML"):
        load_rules_file(path, Schedule)
    with pytest.raises(RulesFileError, match="cannot read"):
        load_rules_file(tmp_path / "missing.yaml", Schedule)


def test_logs_never_carry_personal_data():
    stream = io.StringIO()
    configure(service="t", level="INFO", fmt="json", stream=stream)
    get_logger().info("case_opened", case_id="PN-2023-00001", name="Tolvan", description="ont i magen",
                      detail="pnr 19121212-1212 i text", personnummer="191212121212",
                      nested={"email": "a@b.se", "ok": "20121212-1212"})
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    text = json.dumps(line)
    assert line["case_id"] == "PN-2023-00001"
    for secret in ("Tolvan", "ont i magen", "19121212-1212", "191212121212", "a@b.se", "20121212-1212"):
        assert secret not in text
    import logging

    logging.getLogger("aiokafka").warning("payload %s", "19121212-1212")
    assert "19121212-1212" not in stream.getvalue()


def test_root_logger_level_is_fixed_after_configure():
    import logging

    configure(service="t", level="INFO", fmt="json", stream=io.StringIO())
    logging.getLogger().setLevel(logging.DEBUG)  # what faust's worker does
    from shared.service.logging import fix_levels

    fix_levels("INFO")
    assert logging.getLogger().level == logging.INFO
