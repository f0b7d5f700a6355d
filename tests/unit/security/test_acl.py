"""Kafka ACLs derived from the topic catalog: every service can do what its code needs, and
nothing more (issue 11). The services' needs are read from their code (services/<name>/*.py):
the topics `runtime.consume(...)` gets, the topics they emit to, the views they audit."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import shared.contract.topics as topics_module
from shared.contract.topics import ALERTS_OPS, AUDIT_READS, CATALOG, DEADLETTER, TICKS, Topic
from shared.platform.acl import (
    acl_init_script,
    acls_for,
    allows,
    group,
    internal_prefix,
    outputs,
    user,
)
from shared.platform.registry import names, specs
from shared.service.settings import PnSettings

SERVICES = names()
INPUTS = {name: spec.inputs for name, spec in specs().items()}

ROOT = Path(__file__).resolve().parents[3]
TOPICS_BY_CONST = {name: t for name, t in vars(topics_module).items() if isinstance(t, Topic)}
EVERY_SERVICE_WRITES = {DEADLETTER.name, ALERTS_OPS.name, TICKS.name}
PRESENT = [s for s in SERVICES if (ROOT / "services" / s / "agents.py").exists()]


def _trees(service: str) -> list[ast.AST]:
    return [ast.parse(p.read_text()) for p in sorted((ROOT / "services" / service).glob("*.py"))]


def _topic_of(node: ast.AST) -> str | None:
    if isinstance(node, ast.Attribute) and node.attr == "name":
        node = node.value
    t = TOPICS_BY_CONST.get(node.id) if isinstance(node, ast.Name) else None
    return t.name if t is not None else None


def consumed(service: str) -> set[str]:
    found = set()
    for tree in _trees(service):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "consume":
                found |= {t for t in map(_topic_of, node.args) if t is not None}
    return found


def named(service: str) -> set[str]:
    """Every catalog topic the service's code imports from shared.contract.topics."""
    found = set()
    for tree in _trees(service):
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module == "shared.contract.topics":
                found |= {TOPICS_BY_CONST[a.name].name for a in node.names if a.name in TOPICS_BY_CONST}
    return found


def emitted(service: str) -> set[str]:
    """Topics passed first to `emit(...)` / `.send(...)` in the service's code."""
    found = set()
    for tree in _trees(service):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and node.args:
                fn = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
                if fn in ("emit", "send") and (t := _topic_of(node.args[0])) is not None:
                    found.add(t)
    return found


def audits(service: str) -> bool:
    for tree in _trees(service):
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "route":
                if any(k.arg == "audit" and not (isinstance(k.value, ast.Constant) and k.value.value is None)
                       for k in node.keywords):
                    return True
    return False


def reads(service: str) -> set[str]:
    return {a.name for a in acls_for(service) if a.resource == "Topic" and a.pattern == "LITERAL" and a.operation == "Read"}


def writes(service: str) -> set[str]:
    return {a.name for a in acls_for(service) if a.resource == "Topic" and a.pattern == "LITERAL" and a.operation == "Write"}


def test_inputs_are_declared_for_every_service():
    assert set(INPUTS) == set(SERVICES)


@pytest.mark.parametrize("service", PRESENT)
def test_declared_inputs_are_exactly_what_the_agents_consume(service):
    assert consumed(service) == {t.name for t in INPUTS[service]}, (
        f"services/{service}/agents.py consumes other topics than services/{service}/spec.py's inputs say: "
        "update the spec (and regenerate deploy/secure/acl-init.sh with `pn acl --format script`)")


@pytest.mark.parametrize("service", PRESENT)
def test_a_service_may_do_what_its_code_needs(service):
    acls = acls_for(service)
    for t in consumed(service):
        assert allows(acls, "Topic", t, "Read"), t
    for t in emitted(service) | EVERY_SERVICE_WRITES:
        assert allows(acls, "Topic", t, "Write"), t
    for t in named(service):
        assert allows(acls, "Topic", t, "Read") or allows(acls, "Topic", t, "Write"), t
    if audits(service):
        assert allows(acls, "Topic", AUDIT_READS.name, "Write")
    assert allows(acls, "Group", group(service), "Read")


@pytest.mark.parametrize("service", PRESENT)
def test_a_service_may_not_write_what_its_code_never_names(service):
    """Write is granted only on the platform-wide topics, the audit topic if it audits, and topics
    its own code names (imports from shared.contract.topics)."""
    allowed = named(service) | EVERY_SERVICE_WRITES
    if audits(service):
        allowed.add(AUDIT_READS.name)
    assert writes(service) <= allowed, writes(service) - allowed
    assert (AUDIT_READS.name in writes(service)) == audits(service)


@pytest.mark.parametrize("service", SERVICES)
def test_reads_are_exactly_the_inputs_and_writes_exactly_the_catalogs_producers(service):
    assert reads(service) == {t.name for t in INPUTS[service]}
    assert writes(service) == {t.name for t in CATALOG if service in t.producers}
    assert {DEADLETTER.name, ALERTS_OPS.name} <= writes(service)


@pytest.mark.parametrize("service", SERVICES)
def test_nothing_more_than_own_group_own_prefix_and_literal_topics(service):
    acls = acls_for(service)
    assert {a.principal for a in acls} == {f"User:{user(service)}"}
    assert {a.resource for a in acls} <= {"Topic", "Group"}  # no Cluster, TransactionalId, DelegationToken
    assert {a.operation for a in acls} <= {"Read", "Write", "Create"}  # no Alter, Delete, Describe*, All
    assert all("*" not in a.name for a in acls)
    assert [a for a in acls if a.resource == "Group"] == [a for a in acls if a.name == group(service)]
    prefixed = {a.name for a in acls if a.pattern == "PREFIXED"}
    assert prefixed == {internal_prefix(service)}
    assert all(a.operation != "Create" or a.pattern == "PREFIXED" for a in acls)  # catalog topics: topic-init
    for other in SERVICES:
        if other != service:
            assert not allows(acls, "Group", group(other), "Read")
            assert not allows(acls, "Topic", f"{internal_prefix(other)}x-changelog", "Read")
            assert not internal_prefix(other).startswith(internal_prefix(service))


def test_examples_of_what_is_denied():
    intake = acls_for("intake")
    assert not allows(intake, "Topic", "pn.fees.calculated", "Write")
    assert not allows(intake, "Topic", "pn.finance.postings", "Read")
    assert not allows(intake, "Topic", "pn.audit.reads", "Read")  # the audit trail is write-only for services
    assert not allows(intake, "Topic", "pn.cases.opened", "Read")  # its own output: write only
    fees = acls_for("fees")
    assert not allows(fees, "Topic", "pn.complaints.submitted", "Read")
    assert not allows(fees, "Topic", "pn.finance.postings", "Read")
    assert allows(fees, "Topic", "pn.finance.postings", "Write")


@pytest.mark.parametrize("service", ["fees", "intake"])
def test_faust_internal_topics_fall_under_the_services_prefix(service, tmp_path):
    """faust names changelogs and its assignor topic after the app id `pn-<service>`: check on a
    real app (no broker) that they are what the prefixed ACL covers."""
    from shared.platform.registry import spec
    from shared.runtime.app import ServiceRuntime

    runtime = ServiceRuntime(spec(service), PnSettings(data_dir=tmp_path, store="memory"))
    store = runtime.store("facts", 4)
    changelog = store.table.changelog_topic.get_topic_name()
    acls = acls_for(service)
    assert runtime.app.conf.id == group(service)
    for op in ("Read", "Write", "Create"):
        assert allows(acls, "Topic", changelog, op), changelog
        assert allows(acls, "Topic", f"{runtime.app.conf.id}-__assignor-__leader", op)


def test_every_input_has_a_producer():
    for service, inputs in INPUTS.items():
        for t in inputs:
            assert t.producers, f"{t.name} (read by {service}) has no producer in the catalog"


def test_outputs_helper_matches_the_catalog():
    assert [t.name for t in outputs("billing")] == [t.name for t in CATALOG if "billing" in t.producers]


def test_committed_acl_init_script_is_generated_from_the_catalog():
    committed = (ROOT / "deploy/secure/acl-init.sh").read_text()
    assert committed == acl_init_script(), "regenerate: pn acl --format script > deploy/secure/acl-init.sh"
    assert "password=$PW" in committed and "pn_" not in committed.replace("pn-", "")


def test_acl_init_script_runs_and_calls_the_kafka_tools_once_per_user_and_acl(tmp_path):
    """Run the committed script under /bin/sh with stub kafka tools that record their arguments."""
    import os
    import shutil
    import subprocess

    if shutil.which("sh") is None:
        pytest.skip("no /bin/sh")
    bin_dir, secrets = tmp_path / "bin", tmp_path / "secrets"
    bin_dir.mkdir()
    secrets.mkdir()
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        stub = bin_dir / tool
        stub.write_text(f'#!/bin/sh\nprintf "%s\\n" "{tool} $*" >> "{tmp_path}/calls"\n')
        stub.chmod(0o755)
    for service in SERVICES:
        (secrets / f"{user(service)}.password").write_text(f"pw-{service}")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KAFKA_BIN": str(bin_dir), "PN_SECRETS_DIR": str(secrets)}
    out = subprocess.run(["sh", str(ROOT / "deploy/secure/acl-init.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    calls = (tmp_path / "calls").read_text().splitlines()
    configs = [c for c in calls if c.startswith("kafka-configs.sh")]
    acl_calls = [c for c in calls if c.startswith("kafka-acls.sh")]
    assert len(configs) == len(SERVICES)
    for service in SERVICES:
        assert any(f"--entity-name {user(service)} " in c and f"password=pw-{service}]" in c for c in configs)
    assert len(acl_calls) == sum(len(acls_for(s)) for s in SERVICES)
    assert all("--command-config /opt/pn/admin.properties" in c and "--bootstrap-server kafka:9095" in c for c in calls)


def test_acl_init_script_stops_when_a_password_file_is_missing(tmp_path):
    import os
    import subprocess

    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("kafka-configs.sh", "kafka-acls.sh"):
        (bin_dir / tool).write_text("#!/bin/sh\nexit 0\n")
        (bin_dir / tool).chmod(0o755)
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "KAFKA_BIN": str(bin_dir), "PN_SECRETS_DIR": str(tmp_path)}
    out = subprocess.run(["sh", str(ROOT / "deploy/secure/acl-init.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0 and "users and ACLs in place" not in out.stdout
    (tmp_path / "pn-intake.password").write_text("")
    out = subprocess.run(["sh", str(ROOT / "deploy/secure/acl-init.sh")], env=env, capture_output=True,
                         text=True, timeout=60)
    assert out.returncode != 0 and "pn-intake.password is empty" in out.stderr
