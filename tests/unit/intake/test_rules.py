"""The categories file: the shipped one loads; a bad one stops the service naming the line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.intake.rules import load_category_rules
from shared.service.rules import RulesFileError

ROOT = Path(__file__).resolve().parents[3]
GOOD = """\
version: "t1"
fallback: other
categories:
  - code: kommunikation.bemotande
    label: Bemötande
    keywords: [bemöt]
  - code: other
    label: Övrigt
spike: {window_days: 30, baseline_days: 365, min_count: 5, ratio: 3}
"""


def load(tmp_path: Path, text: str):
    path = tmp_path / "complaint_categories.yaml"
    path.write_text(text, encoding="utf-8")
    return load_category_rules(path)


def test_the_shipped_file_loads():
    rules = load_category_rules(ROOT / "rules" / "complaint_categories.yaml")
    assert rules.fallback == "ovrigt" and rules.spike.min_count == 5 and rules.spike.ratio == 3


def test_a_minimal_file(tmp_path):
    assert load(tmp_path, GOOD).matching("BEMÖTT illa") == ["kommunikation.bemotande"]


@pytest.mark.parametrize(("broken", "line", "field"), [
    (GOOD.replace("keywords: [bemöt]", "keywords: [b]"), 6, "categories.0.keywords.0"),
    (GOOD.replace("code: other", "code: Other Stuff"), 7, "categories.1.code"),
    (GOOD.replace("label: Övrigt", "label: Övrigt\n    colour: red"), 9, "categories.1.colour"),
    (GOOD.replace("fallback: other", "fallback: missing"), 2, "fallback"),
    (GOOD.replace("ratio: 3", "ratio: 2.5"), 9, "spike.ratio"),
    (GOOD.replace("code: other", "code: kommunikation.bemotande"), 4, "categories"),
    (GOOD.replace("keywords: [bemöt]", "keywords: [bemöt]\n    yields_to: [vard.nonsense]"), 4, "categories"),
])
def test_a_bad_file_names_line_and_field(tmp_path, broken, line, field):
    with pytest.raises(RulesFileError) as err:
        load(tmp_path, broken)
    assert f"complaint_categories.yaml:{line}: {field}:" in str(err.value)


def test_not_yaml_names_the_line(tmp_path):
    with pytest.raises(RulesFileError, match=r"complaint_categories.yaml:line 2: not valid YAML"):
        load(tmp_path, "version: x\ncategories: : :\n")


def test_a_stem_that_is_a_prefix_of_another_categorys_stem_still_matches(tmp_path):
    text = GOOD.replace("  - code: other", """  - code: organisation.tillganglighet
    label: Tillgänglighet
    keywords: [vänt]
  - code: organisation.vantetid
    label: Väntetid
    keywords: [väntetid]
  - code: other""")
    rules = load(tmp_path, text)
    assert rules.matching("Väntetiden var lång") == ["organisation.tillganglighet", "organisation.vantetid"]
    assert rules.matching("Jag VÄNTADE") == ["organisation.tillganglighet"]
    assert rules.matching("") == []


# the shipped stems, pieces of them, and separators: texts where stems share prefixes, overlap and
# sit inside words
SHIPPED = load_category_rules(ROOT / "rules" / "complaint_categories.yaml")
pieces = st.sampled_from([*SHIPPED.codes_by_stem, "bem", "vänt", "in", "des", "ÖT", "BEMÖTT", "-", "e"])
texts = st.lists(st.one_of(pieces, st.sampled_from([" ", ", ", ".", "", "x", "ö"])), max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(texts)
def test_the_trie_pattern_matches_as_the_flat_longest_first_alternation(text):
    stems = sorted(SHIPPED.codes_by_stem, key=len, reverse=True)
    flat = re.compile(r"\b(?:" + "|".join(map(re.escape, stems)) + ")")
    found = {code for m in flat.finditer(text.casefold()) for code in SHIPPED.codes_by_stem[m.group(0)]}
    assert SHIPPED.matching(text) == [code for code in SHIPPED.codes
                                      if code in found and not SHIPPED.yields.get(code, set()) & found]
