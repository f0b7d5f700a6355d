"""structlog configuration: JSON lines in production, console in dev, personal data redacted.

The redactor drops fields whose names say they hold personal data or free text and replaces
personnummer-shaped strings (also percent-encoded, as in a logged request line) and bearer
tokens anywhere in a log line, so a careless log call cannot leak them. The same masking covers
the tracebacks: stdlib records' formatted exceptions (aiohttp logs a malformed request with the
raw header bytes in its exception) and structlog's `exception` field, masked after formatting.
Nothing is configured at import: `configure(settings)` is called once by `pn`.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

from shared.kernel.personnummer import PERSONNUMMER_PATTERN

DROPPED_FIELDS = frozenset(
    {"name", "description", "personnummer", "patient", "subject_text", "text", "email", "phone",
     "authorization", "token", "password", "raw", "body"}
)
REDACTED = "[redacted]"

# A personnummer whose separator a URL or a repr() wrote as %2D/%2B or `+`.
_ENCODED_PERSONNUMMER = re.compile(r"(?<![\dA-Fa-f%])(?:19|20)?\d{6}(?:%2[dDbB]|%20)?\d{4}(?!\d)")
# Our tokens (`pn_` + 43 url-safe characters) wherever they stand; and whatever follows
# `Bearer` (also across the escaped or real CR/LF an attacker puts between scheme and token).
_TOKEN = re.compile(r"pn_[A-Za-z0-9_-]{16,}")
_BEARER = re.compile(r"(?i)(bearer)((?:\s|\\[rnt]|%0[dDaA]|%20|:)*)[^\s'\"\\,;]{4,}")


def mask_text(text: str) -> str:
    """Every personnummer-shaped string and every bearer token in a text, masked."""
    text = PERSONNUMMER_PATTERN.sub(REDACTED, text)
    text = _ENCODED_PERSONNUMMER.sub(REDACTED, text)
    text = _TOKEN.sub(REDACTED, text)
    return _BEARER.sub(lambda m: f"{m.group(1)} {REDACTED}", text)


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: (REDACTED if _dropped(k) else _scrub(v)) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_scrub(v) for v in value]
    return value


def _dropped(key: str) -> bool:
    lowered = str(key).lower()
    return lowered in DROPPED_FIELDS or lowered.endswith(("_name", "_personnummer", "_token"))


def redact_personal_data(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: drop personal/free-text fields, mask personnummer-shaped strings."""
    return {k: (REDACTED if _dropped(k) and k != "event" else _scrub(v)) for k, v in event_dict.items()}


def redact_exception(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """After format_exc_info: a traceback quotes exception messages, which may hold a personnummer."""
    if isinstance(event_dict.get("exception"), str):
        event_dict["exception"] = PERSONNUMMER_PATTERN.sub(REDACTED, event_dict["exception"])
    return event_dict


class _RedactingFilter(logging.Filter):
    """Applies the same masking to stdlib records (faust, aiokafka, aiohttp access logs) and to
    their tracebacks: the exception is formatted here, masked, and kept as the record's text."""

    _formatter = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not kill logging
            message = str(record.msg)
        masked = mask_text(message)
        if "bearer" in masked.lower() or "authorization" in masked.lower():
            masked = "[redacted: credentials]"
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        if record.exc_info:
            try:
                text = self._formatter.formatException(record.exc_info)
            except Exception:
                text = "[traceback could not be formatted]"
            record.exc_text, record.exc_info = mask_text(text), None
        elif record.exc_text:
            record.exc_text = mask_text(record.exc_text)
        if record.stack_info:
            record.stack_info = mask_text(record.stack_info)
        return True


def install_record_masking() -> None:
    """Mask every stdlib log record where it is made, whichever handler later writes it: faust's
    worker (mode) replaces the root handlers at start with its own, without our filter, and
    aiohttp logs a malformed request's raw bytes (a token, a request line) in its traceback."""
    factory = logging.getLogRecordFactory()
    if getattr(factory, "pn_masking", False):
        return
    redact = _RedactingFilter()

    def masked_record(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = factory(*args, **kwargs)
        redact.filter(record)
        return record

    masked_record.pn_masking = True  # type: ignore[attr-defined]
    logging.setLogRecordFactory(masked_record)


def _orjson_dumps(obj: Any, **_: Any) -> str:
    """JSON lines via orjson: a third of the stdlib encoder's cost on every log line."""
    import orjson

    return orjson.dumps(obj, default=str).decode()


def configure(*, service: str, level: str = "INFO", fmt: str = "console", stream: Any = None) -> None:
    """Configure structlog and the stdlib root logger once per process."""
    stream = stream or sys.stderr
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_personal_data,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=stream.isatty() if hasattr(stream, "isatty") else False)
    )
    structlog.configure(
        # the redactor again after format_exc_info: a traceback is text that may hold anything
        processors=[*shared, structlog.processors.format_exc_info, redact_exception, redact_personal_data, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level)),
        logger_factory=structlog.PrintLoggerFactory(file=stream),
        cache_logger_on_first_use=True,
    )
    structlog.contextvars.bind_contextvars(service=service)
    root = logging.getLogger()
    handler = logging.StreamHandler(stream)
    handler.addFilter(_RedactingFilter())
    handler.setFormatter(_stdlib_formatter(fmt, renderer))
    root.handlers[:] = [handler]
    install_record_masking()
    fix_levels(level)


def _masked_traceback(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """A stdlib record's traceback as its `exception` field: the record factory
    (`install_record_masking`) has already formatted and masked it into `exc_text`."""
    record = event_dict.get("_record")
    text = getattr(record, "exc_text", None)
    if text and "exception" not in event_dict:
        event_dict["exception"] = text
    return event_dict


def _stdlib_formatter(fmt: str, renderer: Any) -> logging.Formatter:
    """faust's, aiokafka's and aiohttp's records: in JSON through structlog's ProcessorFormatter,
    with the same fields and redaction as our own lines, so every line of a prod worker parses
    as JSON (run_worker keeps the worker from replacing this handler)."""
    if fmt != "json":
        return logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[
            structlog.contextvars.merge_contextvars,
            structlog.stdlib.add_log_level,
            structlog.stdlib.add_logger_name,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            _masked_traceback,
            redact_personal_data,
        ],
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            structlog.processors.format_exc_info,
            redact_exception,
            renderer,
        ],
    )


def fix_levels(level: str = "INFO") -> None:
    """faust's worker sets the root logger to DEBUG; put it back (12-15 % CPU otherwise)."""
    logging.getLogger().setLevel(level)
    for noisy in ("aiokafka", "faust", "mode", "aiohttp.access", "kafka"):
        logging.getLogger(noisy).setLevel(max(logging.getLevelName(level), logging.WARNING))
    # "producer buffer full" is faust pacing table writes of a large batch, not a fault
    logging.getLogger("faust.transport.producer").setLevel(logging.ERROR)


def get_logger(**bindings: Any) -> Any:
    return structlog.get_logger().bind(**bindings)
