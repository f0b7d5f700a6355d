"""Hypothesis strategies for the bad-input fuzzer (tests/reliability/test_fuzz.py).

Each strategy yields a `Bad(kind, topic, value)`: random bytes, JSON that is not an object, deep
JSON, wrong envelopes, payloads with wrong types or invalid dates, unknown event types, known
types on the wrong topic, and (separately, few and large) values of ~1 MiB. Examples are drawn
deterministically by `examples()` (a `@given` run with `derandomize=True`, no database), so the
same code gives the same messages on every machine and in CI.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from shared.contract.topics import (
    CARE_DAYS,
    CARE_UNITS,
    CASES_OPENED,
    COMMANDS,
    COMPLAINTS_SUBMITTED,
    DIARY_ENTRIES,
    FINANCE_BUDGETS,
    FINANCE_POSTINGS,
    LETTERS_INCOMING,
    LETTERS_OUTGOING,
    SUPPORT_ASSIGNMENTS,
    SUPPORT_VISITS,
    TICKS,
    Topic,
)

_SERVICES = Path(__file__).resolve().parents[2] / "services"
HAS_FEES = (_SERVICES / "fees" / "handlers.py").exists()  # fees and budget landed while this fuzzer
HAS_BUDGET = (_SERVICES / "budget" / "handlers.py").exists()  # was written: included when present

# the public input topics of the services this fuzzer starts, and who consumes each
CONSUMERS: dict[str, tuple[str, ...]] = {
    COMPLAINTS_SUBMITTED.name: ("intake",),
    CARE_UNITS.name: ("intake", "diary"),
    DIARY_ENTRIES.name: ("intake", "diary"),
    TICKS.name: ("intake",),
    CASES_OPENED.name: ("diary",),
    LETTERS_INCOMING.name: ("diary",),
    LETTERS_OUTGOING.name: ("diary",),
    CARE_DAYS.name: ("billing",),
    COMMANDS.name: ("billing",),
}
TOPICS: list[Topic] = [COMPLAINTS_SUBMITTED, CARE_UNITS, DIARY_ENTRIES, TICKS, CASES_OPENED, LETTERS_INCOMING,
                       LETTERS_OUTGOING, CARE_DAYS, COMMANDS]
if HAS_FEES:
    CONSUMERS.update({SUPPORT_ASSIGNMENTS.name: ("fees",), SUPPORT_VISITS.name: ("fees",),
                      TICKS.name: ("intake", "fees"), COMMANDS.name: ("billing", "fees")})
    TOPICS += [SUPPORT_ASSIGNMENTS, SUPPORT_VISITS]
if HAS_BUDGET:
    CONSUMERS.update({FINANCE_BUDGETS.name: ("budget",), FINANCE_POSTINGS.name: ("budget",),
                      TICKS.name: (*CONSUMERS[TICKS.name], "budget")})
    TOPICS += [FINANCE_BUDGETS, FINANCE_POSTINGS]


@dataclass(frozen=True)
class Bad:
    kind: str
    topic: Topic
    value: bytes


def _valid_data(topic: Topic) -> dict[str, Any]:
    """A valid payload of the topic's main type (the base that mutations break)."""
    if topic is COMPLAINTS_SUBMITTED:
        return {"channel": "1177", "region": "20", "submitter": {"role": "patient"},
                "description": "Jag fick ingen information."}
    if topic is CARE_UNITS:
        return {"hsa_id": "SE2321000180-9999", "name": "Vårdcentral", "care_provider": "Region Dalarna",
                "region": "20", "registry_address": "Registratur"}
    if topic is DIARY_ENTRIES:
        return {"diary_number": "PN 2023/1", "registered_at": "2023-06-01T12:00:00+00:00", "direction": "in",
                "document_kind": "letter", "case_id": "PN-2023-99999", "counterpart": "x", "subject": "x",
                "confidential": True, "confidentiality_ref": "25 kap. 1 § OSL"}
    if topic is TICKS:
        return {"service": "intake", "at": "2023-06-01T12:00:00+00:00"}
    if topic is CASES_OPENED:
        return {"case_id": "PN-2023-99999", "complaint_event_id": "x", "channel": "1177", "region": "20",
                "care_unit_status": "none", "categories": [], "opened_at": "2023-06-01T12:00:00+00:00"}
    if topic is LETTERS_INCOMING:
        return {"letter_id": "R1", "case_id": "PN-2023-99999", "sender_hsa_id": "SE2321000180-1", "subject": "x",
                "document_uri": "doc://x", "contains_patient_data": True, "received_on": "2023-06-01"}
    if topic is LETTERS_OUTGOING:
        return {"letter_id": "L1", "case_id": "PN-2023-99999", "recipient_hsa_id": "SE2321000180-1",
                "subject": "x", "document_uri": "doc://x", "contains_patient_data": True, "created_by": "h"}
    if topic is CARE_DAYS:
        return {"care_day_id": "D1", "stay_id": "S1", "patient_ref": "P1", "home_region": "21", "care_region": "20",
                "care_date": "2023-06-01", "form": "inpatient", "legal_basis": "LPT",
                "care_unit_hsa_id": "SE2321000180-1"}
    if topic is COMMANDS:
        return {"service": "billing", "period": "2023-06"}
    if topic is FINANCE_BUDGETS:
        return {"year": 2023, "cost_centre": "6101", "account_group": "personnel", "monthly": ["-1000.00"] * 12}
    if topic is FINANCE_POSTINGS:
        return {"posting_id": "P1", "period": "2023-06", "cost_centre": "6101", "account_group": "other",
                "amount": "-120.00", "text": "x"}
    if topic is SUPPORT_ASSIGNMENTS:
        return {"assignment_id": "A1", "support_person_id": "SP1", "patient_ref": "P1", "legal_basis": "LPT",
                "start_date": "2023-06-01"}
    if topic is SUPPORT_VISITS:
        return {"visit_id": "V1", "assignment_id": "A1", "support_person_id": "SP1", "date": "2023-06-01",
                "kind": "hearing", "travel_km": "12.0", "lost_income": "800.00", "lost_income_certified": True,
                "submitted_on": "2023-06-02"}
    raise AssertionError(topic.name)


def _type_of(topic: Topic) -> str:
    return topic.event_types[0].event_type


def _envelope(topic: Topic, data: Any, **over: Any) -> dict[str, Any]:
    return {"specversion": "1.0", "id": over.pop("id", "fuzz"), "source": "/fuzz", "type": _type_of(topic),
            "time": "2023-06-01T12:00:00+00:00", "data": data, **over}


# dates and amounts that look plausible but are not
INVALID_DATES = st.sampled_from(["2023-02-30", "2023-13-01", "2023-00-10", "20230601", "2023-6-1", "01/06/2023",
                                 "2023-06-01T25:00:00", "", "yesterday", "2023-06-31", "0000-00-00",
                                 "9999-12-31", "0001-01-01", "1899-06-01"])  # outside the contract's window
INVALID_TIMES = st.sampled_from(["2023-06-01", "2023-06-01T12:00:00", "2023-13-01T12:00:00+00:00",
                                 "2023-06-01T12:61:00Z", "not a time", "", "1685620800"])
INVALID_PERIODS = st.sampled_from(["2023-13", "2023-00", "23-06", "2023/06", "2023-6", "", "2023-06-01"])
WRONG_TYPED = st.one_of(st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=3), st.integers(),
                                                                                max_size=2),
                        st.booleans(), st.none(), st.floats(allow_nan=False))
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=40))
topics = st.sampled_from(TOPICS)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False).encode("utf-8", "surrogatepass")


@st.composite
def random_bytes(draw: Any) -> Bad:
    return Bad("random_bytes", draw(topics), draw(st.binary(min_size=0, max_size=300)))


@st.composite
def not_an_object(draw: Any) -> Bad:
    value = draw(st.one_of(JSON_SCALARS, st.lists(JSON_SCALARS, max_size=5)))
    return Bad("json_not_object", draw(topics), _dumps(value))


@st.composite
def truncated_json(draw: Any) -> Bad:
    topic = draw(topics)
    raw = _dumps(_envelope(topic, _valid_data(topic)))
    return Bad("truncated_json", topic, raw[: draw(st.integers(1, len(raw) - 1))])


@st.composite
def deep_json(draw: Any) -> Bad:
    depth = draw(st.integers(300, 20_000))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"a":', "}")]))
    topic = draw(topics)
    inner = opener * depth + "1" + closer * depth
    wrap = draw(st.booleans())
    value = _dumps(_envelope(topic, {})).replace(b'"data": {}', b'"data": ' + inner.encode()) if wrap else inner.encode()
    return Bad("deep_json", topic, value)


@st.composite
def wrong_envelope(draw: Any) -> Bad:
    topic = draw(topics)
    env = _envelope(topic, _valid_data(topic))
    field = draw(st.sampled_from(["specversion", "id", "source", "type", "time", "data"]))
    how = draw(st.sampled_from(["drop", "wrong_type", "bad_value"]))
    if how == "drop":
        env.pop(field)
    elif how == "wrong_type":
        env[field] = draw(st.one_of(st.lists(st.integers(), max_size=2), st.dictionaries(
            st.text(max_size=2), st.integers(), max_size=1).filter(lambda d: field != "data"), st.booleans(), st.none()))
    else:
        env[field] = {"specversion": draw(st.sampled_from(["2.0", "0.3", "", "1"])), "id": "",
                      "source": "", "type": draw(st.sampled_from(["", "PN.COMPLAINT", "pn.complaint.submitted "])),
                      "time": draw(INVALID_TIMES), "data": draw(st.lists(st.integers(), max_size=2))}[field]
    return Bad(f"wrong_envelope.{field}.{how}", topic, _dumps(env))


@st.composite
def wrong_payload_type(draw: Any) -> Bad:
    topic = draw(topics)
    data = _valid_data(topic)
    field = draw(st.sampled_from(sorted(data)))
    data[field] = draw(WRONG_TYPED.filter(lambda v, f=field: not (v is None and f in ("legal_basis",))))
    return Bad(f"wrong_type.{field}", topic, _dumps(_envelope(topic, data, id=draw(st.uuids()).hex)))


@st.composite
def invalid_dates(draw: Any) -> Bad:
    choices = [(CARE_DAYS, "care_date", INVALID_DATES), (LETTERS_INCOMING, "received_on", INVALID_DATES),
               (CASES_OPENED, "opened_at", INVALID_TIMES), (DIARY_ENTRIES, "registered_at", INVALID_TIMES),
               (COMMANDS, "period", INVALID_PERIODS), (TICKS, "at", INVALID_TIMES)]
    topic, field, values = draw(st.sampled_from(choices))
    data = _valid_data(topic)
    data[field] = draw(values)
    return Bad(f"invalid_date.{field}", topic, _dumps(_envelope(topic, data, id=draw(st.uuids()).hex)))


@st.composite
def unknown_type(draw: Any) -> Bad:
    topic = draw(topics)
    known = [t.event_types[0].event_type for t in TOPICS if t is not topic and t.event_types[0] not in topic.event_types]
    kind = draw(st.sampled_from(["unknown", "other_topics"]))
    type_ = (draw(st.from_regex(r"\Apn\.[a-z]{1,12}\.[a-z_]{1,12}\Z")) if kind == "unknown"
             else draw(st.sampled_from(known)))
    if type_ in {c.event_type for c in topic.event_types}:
        type_ = "pn.unknown.event"
    env = _envelope(topic, _valid_data(topic), type=type_, id=draw(st.uuids()).hex)
    return Bad(f"unknown_type.{kind}", topic, _dumps(env))


@st.composite
def huge(draw: Any) -> Bad:
    """~1 MiB: a description over its 20,000 chars, or a value over the 1 MiB message limit."""
    size = draw(st.integers(900_000, 1_100_000))
    char = draw(st.sampled_from("xåé€"))
    topic = draw(st.sampled_from([COMPLAINTS_SUBMITTED, LETTERS_OUTGOING, CARE_DAYS]))
    data = _valid_data(topic)
    field = {"pn.complaints.submitted": "description", "pn.letters.outgoing": "subject"}.get(topic.name, "care_day_id")
    data[field] = char * (size // len(char.encode()))
    return Bad("huge_string", topic, _dumps(_envelope(topic, data, id=draw(st.uuids()).hex)))


INVALID_AMOUNTS = st.one_of(
    st.sampled_from(["12,50", "abc", "", "1e400", "NaN", "Infinity", "-800.00", "800.001", "SEK 800", "0x10"]),
    st.floats(max_value=-0.01), st.decimals(min_value=10**9, allow_nan=False, allow_infinity=False).map(str))


@st.composite
def invalid_amounts(draw: Any) -> Bad:
    """Amounts (SEK) and distances that are not amounts: visits (fees), postings and budgets (budget)."""
    choices = ([(SUPPORT_VISITS, "lost_income"), (SUPPORT_VISITS, "travel_km")] if HAS_FEES else []) + (
        [(FINANCE_POSTINGS, "amount"), (FINANCE_BUDGETS, "monthly")] if HAS_BUDGET else [])
    topic, field = draw(st.sampled_from(choices))
    data = _valid_data(topic)
    value = draw(INVALID_AMOUNTS)
    data[field] = [value] * 12 if field == "monthly" else value
    return Bad(f"invalid_amount.{field}", topic, _dumps(_envelope(topic, data, id=draw(st.uuids()).hex)))


_kinds = [random_bytes(), not_an_object(), truncated_json(), deep_json(), wrong_envelope(), wrong_payload_type(),
          invalid_dates(), unknown_type()]
BAD = st.one_of(*_kinds, *([invalid_amounts()] if HAS_FEES or HAS_BUDGET else []))


def examples(strategy: st.SearchStrategy[Any], n: int) -> list[Any]:
    """`n` examples of `strategy`, the same on every run (derandomized, no example database)."""
    out: list[Any] = []

    @settings(max_examples=n, derandomize=True, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(strategy)
    def collect(example: Any) -> None:
        out.append(example)

    collect()
    return out[:n]


def http_bodies() -> st.SearchStrategy[tuple[str, bytes]]:
    """Bad bodies for POST /complaints: not JSON, not an object, wrong types, too deep, too long."""
    base = _valid_data(COMPLAINTS_SUBMITTED)

    def with_field(field: str, strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[tuple[str, bytes]]:
        return strategy.map(lambda v: (f"http.wrong.{field}", _dumps({**base, field: v})))

    wrong: Callable[[str], st.SearchStrategy[tuple[str, bytes]]] = lambda f: with_field(f, WRONG_TYPED)  # noqa: E731
    return st.one_of(
        st.binary(max_size=200).filter(lambda b: not _is_json_object(b)).map(lambda b: ("http.bytes", b)),
        st.lists(JSON_SCALARS, max_size=4).map(lambda v: ("http.not_object", _dumps(v))),
        wrong("channel"), wrong("region"), wrong("submitter"), wrong("description"),
        with_field("patient", st.fixed_dictionaries({"personnummer": st.text(min_size=14, max_size=30)})),
        st.integers(40, 200).map(lambda d: ("http.deep", ("[" * d + "]" * d).encode())),
        st.just(("http.long_string", _dumps({**base, "description": "x" * 120_000}))),
    )


def _is_json_object(raw: bytes) -> bool:
    try:
        return isinstance(json.loads(raw), dict)
    except ValueError:
        return False
