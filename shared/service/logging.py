"""structlog configuration: JSON lines in production, console in dev, personal data redacted.

The redactor drops fields whose names say they hold personal data or free text and replaces
personnummer-shaped strings anywhere in a log line, so a careless log call cannot leak them.
Nothing is configured at import: `configure(settings)` is called once by `pn`.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from shared.kernel.personnummer import PERSONNUMMER_PATTERN

DROPPED_FIELDS = frozenset(
    {"name", "description", "personnummer", "patient", "subject_text", "text", "email", "phone",
     "authorization", "token", "password", "raw", "body"}
)
REDACTED = "[redacted]"


def _scrub(value: Any) -> Any:
    if isinstance(value, str):
        return PERSONNUMMER_PATTERN.sub(REDACTED, value)
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
    """Applies the same masking to stdlib records (faust, aiokafka, aiohttp access logs)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format string must not kill logging
            return True
        masked = PERSONNUMMER_PATTERN.sub(REDACTED, message)
        if "Bearer " in masked or "authorization" in masked.lower():
            masked = "[redacted: credentials]"
        if masked != message:
            record.msg, record.args = masked, ()
        return True


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
        processors=[*shared, structlog.processors.format_exc_info, redact_exception, renderer],
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
    fix_levels(level)


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
