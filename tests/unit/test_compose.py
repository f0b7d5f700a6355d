"""docker-compose.yml, docker-compose.secure.yml and deploy/Dockerfile (issue 8 compose bullet,
issue 11 containers). No Docker engine runs here: `docker compose config -q` validates the files
when the client with its compose plugin is present; the rest reads the files themselves. The
entrypoint runs as a plain process in tests/integration/test_security_entrypoint.py."""

from __future__ import annotations

import re
import shlex
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest
import yaml

from shared.platform.acl import user
from shared.platform.registry import names, specs
from shared.service.settings import PnSettings

SERVICES = names()

ROOT = Path(__file__).resolve().parents[2]
BASE = ROOT / "docker-compose.yml"
SECURE = ROOT / "docker-compose.secure.yml"
THREE = ROOT / "docker-compose.three-brokers.yml"
DOCKERFILE = ROOT / "deploy/Dockerfile"


class _Loader(yaml.SafeLoader):
    pass


_Loader.add_multi_constructor("!", lambda loader, suffix, node: None)  # compose tags (!reset, !override)


def load(path: Path) -> dict:
    return yaml.load(path.read_text(), Loader=_Loader)


def dockerfile() -> dict[str, list[str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out: dict[str, list[str]] = {}
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.setdefault(word.upper(), []).append(rest.strip())
    return out


def exec_form(value: str) -> list[str]:
    import json

    return json.loads(value) if value.startswith("[") else shlex.split(value)


def dockerfile_env() -> dict[str, str]:
    env = {}
    for rest in dockerfile()["ENV"]:
        for item in shlex.split(rest):
            k, _, v = item.partition("=")
            env[k] = v
    return env


def compose_cli() -> list[str] | None:
    if shutil.which("docker"):
        ok = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=30)
        if ok.returncode == 0:
            return ["docker", "compose"]
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    return None


@pytest.mark.parametrize("files", [[BASE], [BASE, SECURE], [BASE, THREE]], ids=["default", "secure", "three-brokers"])
def test_docker_compose_config_validates(files, tmp_path):
    cli = compose_cli()
    if cli is None:
        pytest.skip("no `docker compose` plugin or docker-compose binary here (docker client: "
                    f"{shutil.which('docker') or 'absent'}); the YAML is checked by the other tests")
    args = [a for f in files for a in ("-f", str(f))]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
    out = subprocess.run([*cli, "--project-directory", str(ROOT), *args, "config", "-q"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr


def test_every_service_is_its_own_container_from_the_one_image():
    services = load(BASE)["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc["build"] == {"context": ".", "dockerfile": "deploy/Dockerfile"}
        assert svc["image"].startswith("patientnamnd:")
        assert svc["command"] == [name]
        assert svc["read_only"] is True and "/tmp" in svc["tmpfs"]
        assert svc["restart"] == "unless-stopped"
        assert set(svc["depends_on"]) == {"topic-init"}  # so `up --no-deps <svc>` restarts it alone


def test_the_compose_command_is_the_image_entrypoint_pn_run_service_in_the_prod_profile():
    df = dockerfile()
    entrypoint = exec_form(df["ENTRYPOINT"][-1])
    assert entrypoint == ["pn", "run"]
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert scripts["pn"] == "shared.cli:main"
    services = load(BASE)["services"]
    for name in SERVICES:
        svc = services[name]
        assert svc.get("entrypoint", entrypoint) == entrypoint
        assert [*entrypoint, *svc["command"]] == ["pn", "run", name]
        env = {**dockerfile_env(), **svc["environment"]}
        assert env["PN_PROFILE"] == "prod" and env["PN_WEB_HOST"] == "0.0.0.0"
        assert env["PN_DATA_DIR"] == "/var/lib/pn" and env["PN_WEB_PORT"] == "8080"
        assert svc["volumes"] == [f"{name}-data:{env['PN_DATA_DIR']}"]
        assert any(p.endswith(":8080") for p in svc["ports"])
        assert all(k.startswith("PN_") for k in svc["environment"])  # configuration only through PN_ env


def test_the_compose_environment_is_valid_settings():
    services = load(BASE)["services"]
    for name in SERVICES:
        raw = {k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in services[name]["environment"].items()}
        fields = {k.removeprefix("PN_").lower(): v for k, v in raw.items()}
        s = PnSettings(**fields)
        assert s.profile == "prod" and s.enable_idempotence is True and s.log_format == "json"
        assert specs()[name].web_port(s) == 8080


def test_the_image_runs_as_a_non_root_user_with_a_health_check_on_the_web_port():
    df = dockerfile()
    assert all(f.startswith("python:3.11.") and "-slim" in f for f in df["FROM"])  # pinned: tests/unit/test_image.py
    runtime_stage = DOCKERFILE.read_text().rsplit("\nFROM ", 1)[1]
    assert "build-essential" not in runtime_stage and "gcc" not in runtime_stage  # no compiler
    installed = [line for line in runtime_stage.splitlines() if "apt-get install" in line]
    assert all(set(line.split("--no-install-recommends", 1)[1].split()) - {"\\"} <= {
        "libpango-1.0-0", "libpangoft2-1.0-0", "fonts-dejavu-core"} for line in installed)  # the PDF's Pango only
    user_ = df["USER"][-1].split(":")[0]
    assert user_ not in ("root", "0") and (not user_.isdigit() or int(user_) >= 1000)
    health = df["HEALTHCHECK"][-1]
    assert "/health" in health and "PN_WEB_PORT" in health
    env = dockerfile_env()
    assert env["PN_PROFILE"] == "prod" and env["PN_WEB_HOST"] == "0.0.0.0" and env["PN_DATA_DIR"] == "/var/lib/pn"
    assert any("/var/lib/pn" in v for v in df["VOLUME"])
    assert any("chown" in r and "/var/lib/pn" in r for r in df["RUN"])  # a new named volume is writable by it
    copied = " ".join(df["COPY"])
    assert "secrets" not in copied and ".env" not in copied and "tests" not in copied


def test_dockerignore_keeps_secrets_out_of_the_build_context():
    ignore = (ROOT / ".dockerignore").read_text().split()
    for entry in ("deploy/secrets", "**/*.pem", "**/*.key", ".venv"):
        assert entry in ignore


def test_kafka_is_apache_kafka_in_kraft_mode_with_one_broker():
    kafka = load(BASE)["services"]["kafka"]
    assert re.sub(r"^\$\{\w+:-(.*)\}$", r"\1", kafka["image"]).startswith("apache/kafka:")
    mount = [v for v in kafka["volumes"] if "/mnt/shared/config/server.properties" in v][0]
    props = dict(line.split("=", 1) for line in (ROOT / mount.split(":")[0]).read_text().splitlines()
                 if line and not line.startswith("#"))
    assert props["process.roles"] == "broker,controller" and props["controller.quorum.voters"] == "1@kafka:9093"
    assert "healthcheck" in kafka and any("kafka-data:" in v for v in kafka["volumes"])


def test_topic_init_creates_the_catalog_with_the_replication_factor():
    services = load(BASE)["services"]
    init = services["topic-init"]
    assert init["entrypoint"] == ["pn", "topics"] and init["restart"] == "no"
    assert init["environment"]["PN_REPLICATION_FACTOR"].startswith("${PN_REPLICATION_FACTOR")
    assert init["depends_on"]["kafka"]["condition"] == "service_healthy"
    for name in SERVICES:
        assert services[name]["depends_on"]["topic-init"]["condition"] == "service_completed_successfully"


def test_secure_override_gives_each_service_its_own_scram_user_and_password_file():
    secure = load(SECURE)
    for name in SERVICES:
        svc = secure["services"][name]
        env = svc["environment"]
        assert env["PN_KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["PN_KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512"
        assert env["PN_KAFKA_SASL_USERNAME"] == user(name)
        assert env["PN_KAFKA_SASL_PASSWORD_FILE"] == f"/run/secrets/{user(name)}.password"
        assert "PN_KAFKA_SASL_PASSWORD" not in env  # never a password in the compose file
        assert set(svc["secrets"]) == {"ca.crt", f"{user(name)}.password"}  # only its own secret
    for spec in secure["secrets"].values():
        assert spec["file"].startswith("./deploy/secrets/")
    assert secure["services"]["acl-init"]["entrypoint"][-1] == "/opt/pn/acl-init.sh"
    assert secure["services"]["topic-init"]["environment"]["PN_KAFKA_SECURITY_PROTOCOL"] == "SSL"


def test_secure_broker_config_enforces_acls_and_scram():
    props = dict(line.split("=", 1) for line in (ROOT / "deploy/kafka/secure/server.properties").read_text().splitlines()
                 if line and not line.startswith("#"))
    assert props["allow.everyone.if.no.acl.found"] == "false"
    assert props["sasl.enabled.mechanisms"] == "SCRAM-SHA-512"
    assert "PLAINTEXT" not in props["listener.security.protocol.map"].replace("SASL_SSL", "")
    assert props["listener.name.admin.ssl.client.auth"] == "required"
    assert set(props["super.users"].split(";")) == {"User:kafka", "User:pn-admin"}


def test_gen_certs_script_writes_only_to_the_ignored_secrets_directory():
    script = (ROOT / "deploy/scripts/gen-certs.sh").read_text()
    assert "OUT=secrets" in script and "openssl" in script
    subprocess.run(["bash", "-n", str(ROOT / "deploy/scripts/gen-certs.sh")], check=True, timeout=30)


def test_three_brokers_override_forms_one_quorum_and_services_bootstrap_from_all():
    three = load(THREE)["services"]
    voters = {three[b]["environment"]["KAFKA_CONTROLLER_QUORUM_VOTERS"] for b in ("kafka", "kafka-2", "kafka-3")}
    assert voters == {"1@kafka:9093,2@kafka-2:9093,3@kafka-3:9093"}
    assert len({three[b]["environment"]["CLUSTER_ID"] for b in ("kafka", "kafka-2", "kafka-3")}) == 1
    for name in ["topic-init", *SERVICES]:
        assert three[name]["environment"]["PN_KAFKA_BOOTSTRAP"] == "kafka:9092,kafka-2:9092,kafka-3:9092"


def _props(path: Path) -> dict[str, str]:
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if line and not line.startswith("#"))


@pytest.mark.parametrize("path", ["deploy/kafka/server.properties", "deploy/kafka/secure/server.properties"])
def test_broker_defaults_are_safe_for_the_record(path):
    """Issue 24: topics only from the catalog, no unclean leader, no topic deletion, offsets that
    outlive the replay window."""
    props = _props(ROOT / path)
    assert props["auto.create.topics.enable"] == "false"
    assert props["unclean.leader.election.enable"] == "false"
    assert props["delete.topic.enable"] == "false"
    assert int(props["offsets.retention.minutes"]) >= PnSettings().replay_window_days * 24 * 60
    assert BASE.read_text().count("./deploy/kafka/server.properties:/mnt/shared/config/server.properties") == 1


def test_three_brokers_replicate_and_need_two_in_sync():
    env = load(THREE)["x-quorum"]
    assert env["KAFKA_DEFAULT_REPLICATION_FACTOR"] == "3" and env["KAFKA_MIN_INSYNC_REPLICAS"] == "2"
    assert env["KAFKA_UNCLEAN_LEADER_ELECTION_ENABLE"] == "false"
    for peer in ("kafka-2", "kafka-3"):
        assert any("deploy/kafka/server.properties" in v for v in load(THREE)["services"][peer]["volumes"])


def test_a_second_worker_of_a_service_has_its_own_volume_and_address_in_one_group():
    """Issue 27: compose shows two workers of budget (profile `scale`): the same command, so the
    same consumer group; a volume of its own (RocksDB locks its directory); every worker advertises
    the address its peers reach its views at (shared/runtime/views.py)."""
    services = load(BASE)["services"]
    first, second = services["budget"], services["budget-2"]
    assert second["command"] == first["command"] == ["budget"] and second["profiles"] == ["scale"]
    assert second["volumes"] == ["budget-2-data:/var/lib/pn"] != first["volumes"]
    assert "budget-2-data" in load(BASE)["volumes"]
    assert set(second["ports"]).isdisjoint(first["ports"])
    for name in [*SERVICES, "budget-2"]:
        assert services[name]["environment"]["PN_WEB_ADVERTISED_URL"] == f"http://{name}:8080"
