"""Settings → Kafka client arguments, one mapping for aiokafka (CLI, bench) and faust
(services: `shared.runtime.app.faust_credentials` builds on `security_kwargs`).

A wrong or incomplete security configuration raises `KafkaConfigError` naming the setting, so a
service stops at start-up with a message instead of failing at its first connection.
"""

from __future__ import annotations

import os
import ssl
from pathlib import Path
from typing import Any

import click

from shared.service.settings import PnSettings


class KafkaConfigError(click.ClickException, ValueError):
    """A wrong or incomplete Kafka client setting. Every `pn` command (run, topics, publish, tail...)
    ends with `Error: <message>` and exit status 1 instead of a traceback."""


def _require_file(setting: str, path: Path | None) -> Path:
    if path is None:
        raise KafkaConfigError(f"PN_{setting.upper()} is required for this security protocol")
    if not Path(path).is_file() or not os.access(path, os.R_OK):
        raise KafkaConfigError(f"PN_{setting.upper()}={path} is not a readable file")
    return Path(path)


def ssl_context(settings: PnSettings) -> ssl.SSLContext:
    """A verifying TLS context (CA required, host names checked), with the client certificate
    when one is configured. Unreadable or mismatched files raise `KafkaConfigError`."""
    cafile = _require_file("kafka_ssl_cafile", settings.kafka_ssl_cafile)
    try:
        context = ssl.create_default_context(cafile=str(cafile))
    except (ssl.SSLError, OSError, ValueError) as exc:
        raise KafkaConfigError(f"PN_KAFKA_SSL_CAFILE={cafile} holds no usable CA certificate "
                               f"(PEM expected): {_reason(exc)}") from None
    cert, key = settings.kafka_ssl_certfile, settings.kafka_ssl_keyfile
    if (cert is None) != (key is None):
        missing = "PN_KAFKA_SSL_KEYFILE" if key is None else "PN_KAFKA_SSL_CERTFILE"
        raise KafkaConfigError(f"{missing} is required: PN_KAFKA_SSL_CERTFILE and PN_KAFKA_SSL_KEYFILE go together")
    if cert is not None and key is not None:
        certfile = _require_file("kafka_ssl_certfile", cert)
        keyfile = _require_file("kafka_ssl_keyfile", key)
        try:
            context.load_cert_chain(str(certfile), str(keyfile))
        except (ssl.SSLError, OSError, ValueError) as exc:
            raise KafkaConfigError(f"PN_KAFKA_SSL_CERTFILE={certfile} and PN_KAFKA_SSL_KEYFILE={keyfile} are not "
                                   f"a matching PEM certificate and unencrypted key: {_reason(exc)}") from None
    return context


def _reason(exc: BaseException) -> str:
    return getattr(exc, "reason", None) or getattr(exc, "strerror", None) or type(exc).__name__


def sasl_password(settings: PnSettings) -> str:
    if settings.kafka_sasl_password is not None and settings.kafka_sasl_password_file is not None:
        raise KafkaConfigError("set PN_KAFKA_SASL_PASSWORD or PN_KAFKA_SASL_PASSWORD_FILE, not both")
    if settings.kafka_sasl_password_file is not None:
        path = _require_file("kafka_sasl_password_file", settings.kafka_sasl_password_file)
        try:
            password = path.read_text().strip()
        except (OSError, UnicodeDecodeError) as exc:
            raise KafkaConfigError(f"PN_KAFKA_SASL_PASSWORD_FILE={path} cannot be read: {_reason(exc)}") from None
    elif settings.kafka_sasl_password is not None:
        password = settings.kafka_sasl_password.get_secret_value()
    else:
        raise KafkaConfigError("PN_KAFKA_SASL_PASSWORD or PN_KAFKA_SASL_PASSWORD_FILE is required for SASL_SSL")
    if not password:
        source = "PN_KAFKA_SASL_PASSWORD_FILE" if settings.kafka_sasl_password_file is not None else "PN_KAFKA_SASL_PASSWORD"
        raise KafkaConfigError(f"{source}: the SASL password is empty")
    return password


def security_kwargs(settings: PnSettings) -> dict[str, Any]:
    """aiokafka keyword arguments for the configured security protocol."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return {"security_protocol": "PLAINTEXT"}
    if protocol == "SSL":
        return {"security_protocol": "SSL", "ssl_context": ssl_context(settings)}
    if protocol == "SASL_SSL":
        if not settings.kafka_sasl_username:
            raise KafkaConfigError("PN_KAFKA_SASL_USERNAME is required for SASL_SSL")
        return {
            "security_protocol": "SASL_SSL",
            "ssl_context": ssl_context(settings),
            "sasl_mechanism": settings.kafka_sasl_mechanism,
            "sasl_plain_username": settings.kafka_sasl_username,
            "sasl_plain_password": sasl_password(settings),
        }
    raise KafkaConfigError(f"PN_KAFKA_SECURITY_PROTOCOL={protocol} is not supported")


def bootstrap_servers(settings: PnSettings) -> list[str]:
    servers = [s.strip() for s in settings.kafka_bootstrap.split(",") if s.strip()]
    if not servers:
        raise KafkaConfigError("PN_KAFKA_BOOTSTRAP is empty")
    return servers


def producer_kwargs(settings: PnSettings) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap_servers(settings),
        "enable_idempotence": bool(settings.enable_idempotence),
        "acks": "all",
        "linger_ms": int(settings.producer_linger_s * 1000),
        "compression_type": compression_type(settings),
        "max_batch_size": 262_144,
        "max_request_size": 4_194_304,
        **security_kwargs(settings),
    }


def consumer_kwargs(settings: PnSettings, group_id: str | None = None) -> dict[str, Any]:
    return {
        "bootstrap_servers": bootstrap_servers(settings),
        "group_id": group_id,
        "session_timeout_ms": int((settings.session_timeout_s or 6) * 1000),
        "heartbeat_interval_ms": max(500, int((settings.session_timeout_s or 6) * 1000 / 6)),
        "auto_offset_reset": "earliest",
        "enable_auto_commit": False,
        # records of an upstream's aborted Kafka transaction never take effect (and records of an
        # open one wait for its commit); records written outside transactions are not affected
        "isolation_level": "read_committed",
        **security_kwargs(settings),
    }


def compression_type(settings: PnSettings) -> str | None:
    """Our producers' compression.type (None: uncompressed), as aiokafka and faust take it."""
    return None if settings.compression == "none" else settings.compression


def admin_kwargs(settings: PnSettings) -> dict[str, Any]:
    return {"bootstrap_servers": bootstrap_servers(settings), **security_kwargs(settings)}
