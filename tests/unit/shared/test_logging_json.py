"""Issue 26: in the prod profile every log line is JSON, the libraries' included (faust, aiokafka,
mode's worker), with the same redaction as our own lines. Before: stdlib records were plain text
lines, and mode's worker replaced the root handler with a coloured console one."""

from __future__ import annotations

import io
import json
import logging

import structlog

from shared.service.logging import configure, get_logger
from shared.service.settings import PnSettings

PNR = "19121212-1212"


def _lines(stream: io.StringIO) -> list[dict]:
    return [json.loads(line) for line in stream.getvalue().splitlines() if line.strip()]


def test_the_prod_profile_defaults_to_json_logs():
    assert PnSettings(profile="prod").log_format == "json"


def test_library_records_are_json_lines_with_level_logger_service_and_redaction():
    stream = io.StringIO()
    configure(service="fees", level="INFO", fmt="json", stream=stream)
    try:
        logging.getLogger("aiokafka.consumer").warning("fetch from %s failed for %s", "kafka:9092", PNR)
        logging.getLogger("faust.transport").error("Bearer pn_secret rejected")
        try:
            raise ValueError(f"bad {PNR}")
        except ValueError:
            logging.getLogger("mode.worker").exception("Crashed reason=%r", "boom")
        get_logger().warning("ours", personnummer=PNR, case_id="PN-1")
        lines = _lines(stream)  # every line parses: none is plain text
        assert len(lines) == 4
        aiokafka, faust, mode, ours = lines
        assert aiokafka["logger"] == "aiokafka.consumer" and aiokafka["level"] == "warning"
        assert aiokafka["service"] == "fees" and "timestamp" in aiokafka
        assert "kafka:9092" in aiokafka["event"] and PNR not in aiokafka["event"]
        assert faust["event"] == "[redacted: credentials]"
        assert "Crashed reason=" in mode["event"] and "ValueError" in mode["exception"]
        assert ours["personnummer"] == "[redacted]" and ours["case_id"] == "PN-1"
        assert PNR not in stream.getvalue() and "pn_secret" not in stream.getvalue()
    finally:
        structlog.reset_defaults()
        logging.getLogger().handlers.clear()


def test_the_worker_keeps_our_log_handler(monkeypatch):
    """mode's Worker(override_logging=True) clears the root handlers for its coloured one."""
    import faust.worker

    from shared.runtime import app as streaming


    seen = {}

    class FakeWorker:
        def __init__(self, app, **kwargs):
            seen.update(kwargs)
            self.spinner = object()

        def execute_from_commandline(self):
            return None

    monkeypatch.setattr(faust.worker, "Worker", FakeWorker)
    monkeypatch.setattr(streaming.gc, "freeze", lambda: None)
    worker = {}
    monkeypatch.setattr(FakeWorker, "execute_from_commandline", lambda self: worker.setdefault("w", self))
    streaming.run_worker(object(), log_level="INFO")
    assert seen["override_logging"] is False
    assert worker["w"].spinner is None  # no terminal escapes between the JSON lines
