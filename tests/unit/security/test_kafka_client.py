"""Settings → Kafka client arguments for each security protocol; every wrong or missing field
stops with a `KafkaConfigError` that names the PN_ setting (issue 11).

The dev broker has no usable TLS or SCRAM, so the client side is tested here, without a broker.
Certificates are made with the `openssl` CLI (a throwaway CA and client cert per session).
"""

from __future__ import annotations

import os
import shutil
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
from pydantic import ValidationError

from shared.kafka.client import (
    KafkaConfigError,
    admin_kwargs,
    consumer_kwargs,
    producer_kwargs,
    security_kwargs,
)
from shared.runtime.app import faust_credentials
from shared.service.settings import PnSettings

ROOT = Path(__file__).resolve().parents[3]
PASSWORD = "s3cret-scram-password-for-tests"


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A throwaway CA, a client cert+key signed by it, a second key that does not match."""
    if shutil.which("openssl") is None:
        pytest.skip("the openssl CLI is needed to make test certificates")
    d = tmp_path_factory.mktemp("pki")

    def run(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=test-ca",
        "-keyout", str(d / "ca.key"), "-out", str(d / "ca.crt"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=pn-test",
        "-keyout", str(d / "client.key"), "-out", str(d / "client.csr"))
    run("x509", "-req", "-in", str(d / "client.csr"), "-CA", str(d / "ca.crt"), "-CAkey", str(d / "ca.key"),
        "-CAcreateserial", "-days", "2", "-out", str(d / "client.crt"))
    run("genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", str(d / "other.key"))
    (d / "garbage.pem").write_text("this is not a certificate\n")
    (d / "password").write_text(PASSWORD + "\n")
    (d / "empty-password").write_text("\n")
    return {
        "ca": d / "ca.crt", "cert": d / "client.crt", "key": d / "client.key", "other_key": d / "other.key",
        "garbage": d / "garbage.pem", "password": d / "password", "empty": d / "empty-password", "dir": d}


def s(**kw) -> PnSettings:
    return PnSettings(_env_file=None, **kw)


def expect(setting: str, **kw) -> KafkaConfigError:
    with pytest.raises(KafkaConfigError) as info:
        security_kwargs(s(**kw))
    assert setting in str(info.value), f"{setting} not named in: {info.value}"
    return info.value


# -- PLAINTEXT ---------------------------------------------------------------------------------
def test_plaintext_is_the_default_and_adds_no_tls_or_sasl():
    kw = security_kwargs(s())
    assert kw == {"security_protocol": "PLAINTEXT"}
    assert faust_credentials(s()) is None
    prod = producer_kwargs(s(kafka_bootstrap="a:9092, b:9092"))
    assert prod["bootstrap_servers"] == ["a:9092", "b:9092"] and prod["security_protocol"] == "PLAINTEXT"


def test_empty_bootstrap_names_the_setting():
    with pytest.raises(KafkaConfigError, match="PN_KAFKA_BOOTSTRAP"):
        producer_kwargs(s(kafka_bootstrap=" , "))


# -- SSL ---------------------------------------------------------------------------------------
def test_ssl_with_ca_only_verifies_the_broker(pki):
    kw = security_kwargs(s(kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"]))
    ctx = kw["ssl_context"]
    assert kw["security_protocol"] == "SSL" and isinstance(ctx, ssl.SSLContext)
    assert ctx.verify_mode == ssl.CERT_REQUIRED and ctx.check_hostname is True
    assert any(c["subject"] == ((("commonName", "test-ca"),),) for c in ctx.get_ca_certs())


def test_ssl_with_client_cert_and_key(pki):
    settings = s(kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"], kafka_ssl_certfile=pki["cert"],
                 kafka_ssl_keyfile=pki["key"])
    for kwargs in (producer_kwargs(settings), consumer_kwargs(settings, "g"), admin_kwargs(settings)):
        assert kwargs["security_protocol"] == "SSL" and isinstance(kwargs["ssl_context"], ssl.SSLContext)
    import faust

    creds = faust_credentials(settings)
    assert isinstance(creds, faust.SSLCredentials) and isinstance(creds.context, ssl.SSLContext)


def test_ssl_settings_from_the_environment(pki, monkeypatch):
    monkeypatch.setenv("PN_KAFKA_SECURITY_PROTOCOL", "SSL")
    monkeypatch.setenv("PN_KAFKA_SSL_CAFILE", str(pki["ca"]))
    monkeypatch.setenv("PN_KAFKA_SSL_CERTFILE", str(pki["cert"]))
    monkeypatch.setenv("PN_KAFKA_SSL_KEYFILE", str(pki["key"]))
    assert security_kwargs(PnSettings())["security_protocol"] == "SSL"


def test_ssl_without_ca_names_the_cafile_setting():
    expect("PN_KAFKA_SSL_CAFILE", kafka_security_protocol="SSL")


def test_ssl_ca_path_that_does_not_exist(tmp_path):
    err = expect("PN_KAFKA_SSL_CAFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path / "nope.crt")
    assert "nope.crt" in str(err)


def test_ssl_ca_path_that_is_a_directory(tmp_path):
    expect("PN_KAFKA_SSL_CAFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=tmp_path)


def test_ssl_ca_file_that_is_not_a_certificate(pki):
    expect("PN_KAFKA_SSL_CAFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["garbage"])


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0, reason="root reads any file")
def test_ssl_ca_file_that_is_not_readable(pki, tmp_path):
    f = tmp_path / "ca.crt"
    f.write_bytes(pki["ca"].read_bytes())
    f.chmod(0)
    expect("PN_KAFKA_SSL_CAFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=f)


def test_ssl_cert_without_key_names_the_keyfile(pki):
    expect("PN_KAFKA_SSL_KEYFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"],
           kafka_ssl_certfile=pki["cert"])


def test_ssl_key_without_cert_names_the_certfile(pki):
    expect("PN_KAFKA_SSL_CERTFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"],
           kafka_ssl_keyfile=pki["key"])


def test_ssl_missing_cert_file(pki, tmp_path):
    expect("PN_KAFKA_SSL_CERTFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"],
           kafka_ssl_certfile=tmp_path / "missing.crt", kafka_ssl_keyfile=pki["key"])


def test_ssl_missing_key_file(pki, tmp_path):
    expect("PN_KAFKA_SSL_KEYFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"],
           kafka_ssl_certfile=pki["cert"], kafka_ssl_keyfile=tmp_path / "missing.key")


def test_ssl_key_that_does_not_match_the_cert(pki):
    err = expect("PN_KAFKA_SSL_KEYFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"],
                 kafka_ssl_certfile=pki["cert"], kafka_ssl_keyfile=pki["other_key"])
    assert "PN_KAFKA_SSL_CERTFILE" in str(err)


def test_ssl_cert_file_that_is_not_a_certificate(pki):
    expect("PN_KAFKA_SSL_CERTFILE", kafka_security_protocol="SSL", kafka_ssl_cafile=pki["ca"],
           kafka_ssl_certfile=pki["garbage"], kafka_ssl_keyfile=pki["key"])


# -- SASL_SSL + SCRAM-SHA-512 --------------------------------------------------------------------
def test_sasl_ssl_scram_with_password_from_the_environment(pki, monkeypatch):
    monkeypatch.setenv("PN_KAFKA_SECURITY_PROTOCOL", "SASL_SSL")
    monkeypatch.setenv("PN_KAFKA_SSL_CAFILE", str(pki["ca"]))
    monkeypatch.setenv("PN_KAFKA_SASL_USERNAME", "pn-fees")
    monkeypatch.setenv("PN_KAFKA_SASL_PASSWORD", PASSWORD)
    settings = PnSettings()
    kw = security_kwargs(settings)
    assert kw["security_protocol"] == "SASL_SSL" and kw["sasl_mechanism"] == "SCRAM-SHA-512"
    assert kw["sasl_plain_username"] == "pn-fees" and kw["sasl_plain_password"] == PASSWORD
    assert isinstance(kw["ssl_context"], ssl.SSLContext) and kw["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert PASSWORD not in repr(settings) and PASSWORD not in str(settings.model_dump())


def test_sasl_ssl_scram_with_password_from_a_file(pki):
    settings = s(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"], kafka_sasl_username="pn-fees",
                 kafka_sasl_password_file=pki["password"])
    kw = security_kwargs(settings)
    assert kw["sasl_plain_password"] == PASSWORD  # trailing newline stripped
    import faust

    creds = faust_credentials(settings)
    assert isinstance(creds, faust.SASLCredentials)
    assert creds.mechanism.value == "SCRAM-SHA-512" and creds.username == "pn-fees" and creds.password == PASSWORD
    assert isinstance(creds.ssl_context, ssl.SSLContext)


def test_sasl_ssl_aiokafka_accepts_the_arguments(pki):
    """The mapping's keywords are ones aiokafka's clients take (a typo would only show at a real start)."""
    import asyncio

    from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
    from aiokafka.admin import AIOKafkaAdminClient

    settings = s(kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"], kafka_sasl_username="u",
                 kafka_sasl_password=PASSWORD, profile="prod")

    async def build() -> None:
        AIOKafkaProducer(**producer_kwargs(settings))
        AIOKafkaConsumer(**consumer_kwargs(settings, "pn-fees"))
        AIOKafkaAdminClient(**admin_kwargs(settings))

    asyncio.run(build())


def test_sasl_without_username(pki):
    expect("PN_KAFKA_SASL_USERNAME", kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"],
           kafka_sasl_password=PASSWORD)


def test_sasl_without_password(pki):
    err = expect("PN_KAFKA_SASL_PASSWORD", kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"],
                 kafka_sasl_username="pn-fees")
    assert "PN_KAFKA_SASL_PASSWORD_FILE" in str(err)


def test_sasl_with_both_password_and_file(pki):
    err = expect("PN_KAFKA_SASL_PASSWORD_FILE", kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"],
                 kafka_sasl_username="pn-fees", kafka_sasl_password=PASSWORD, kafka_sasl_password_file=pki["password"])
    assert PASSWORD not in str(err)


def test_sasl_password_file_missing(pki, tmp_path):
    expect("PN_KAFKA_SASL_PASSWORD_FILE", kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"],
           kafka_sasl_username="pn-fees", kafka_sasl_password_file=tmp_path / "nope")


def test_sasl_password_file_empty(pki):
    expect("PN_KAFKA_SASL_PASSWORD_FILE", kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"],
           kafka_sasl_username="pn-fees", kafka_sasl_password_file=pki["empty"])


def test_sasl_password_empty(pki):
    expect("PN_KAFKA_SASL_PASSWORD", kafka_security_protocol="SASL_SSL", kafka_ssl_cafile=pki["ca"],
           kafka_sasl_username="pn-fees", kafka_sasl_password="")


def test_sasl_without_ca(pki):
    expect("PN_KAFKA_SSL_CAFILE", kafka_security_protocol="SASL_SSL", kafka_sasl_username="pn-fees",
           kafka_sasl_password=PASSWORD)


@pytest.mark.parametrize("field,value", [("kafka_security_protocol", "SASL_PLAINTEXT"),
                                         ("kafka_security_protocol", "ssl"),
                                         ("kafka_sasl_mechanism", "PLAIN")])
def test_unsupported_protocol_or_mechanism_is_refused_when_settings_load(field, value, monkeypatch):
    monkeypatch.setenv(f"PN_{field.upper()}", value)
    with pytest.raises(ValidationError) as info:
        PnSettings()
    assert info.value.errors()[0]["loc"] == (field,)


def test_pn_run_stops_at_start_with_a_message_naming_the_setting(tmp_path):
    """`pn run` turns the error into an exit message before it connects anywhere."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PN_")}
    env.update({"PN_KAFKA_SECURITY_PROTOCOL": "SASL_SSL", "PN_KAFKA_SSL_CAFILE": str(tmp_path / "ca.crt"),
                "PN_KAFKA_SASL_USERNAME": "pn-billing", "PN_KAFKA_SASL_PASSWORD": PASSWORD,
                "PN_DATA_DIR": str(tmp_path / "data"), "PN_RULES_DIR": str(ROOT / "rules"),
                "PN_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    out = subprocess.run([sys.executable, "-m", "shared.cli", "run", "billing"], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "PN_KAFKA_SSL_CAFILE" in out.stderr, out.stderr[-2000:]
    assert "Traceback" not in out.stderr
    assert PASSWORD not in out.stdout + out.stderr


@pytest.mark.parametrize("args", [["topics"], ["tail", "pn.alerts.ops", "--timeout", "1"]])
def test_other_pn_commands_stop_with_the_message_too(args, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PN_")}
    env.update({"PN_KAFKA_SECURITY_PROTOCOL": "SSL", "PN_KAFKA_BOOTSTRAP": "127.0.0.1:1"})
    out = subprocess.run([sys.executable, "-m", "shared.cli", *args], env=env, cwd=ROOT,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 1
    assert "PN_KAFKA_SSL_CAFILE" in out.stderr and "Traceback" not in out.stderr, out.stderr[-2000:]
