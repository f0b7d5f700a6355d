"""The image's entrypoint as a plain process (no Docker engine here): the exact command and
environment docker-compose.yml gives a service container (Dockerfile ENV + compose environment,
PN_PROFILE=prod), with only the host-specific values swapped for this machine, starts, answers
/health, and closes its protected views (no tokens → 401)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from shared.kafka.broker import free_port

from ..conftest import ROOT
from ..unit.test_compose import BASE, dockerfile, dockerfile_env, exec_form, load
from ..unit.test_prometheus import SCRAPE_METRICS, dashboard_and_rule_metrics

pytestmark = pytest.mark.broker

# The dev broker (Tansu) cannot InitProducerId and holds a first join for half the session
# timeout (ARCHITECTURE.md): the prod defaults for these two are for Apache Kafka.
DEV_BROKER = {"PN_ENABLE_IDEMPOTENCE": "false", "PN_SESSION_TIMEOUT_S": "6"}


# labelled families without a sample until their first event (a fresh worker has consumed nothing)
_NOT_YET_SAMPLED = {"pn_events_in_total", "pn_events_out_total", "pn_events_deadlettered_total",
                    "pn_events_duplicate_total", "pn_consumer_lag", "pn_consumer_offset",
                    "pn_audit_publish_failures_total", "pn_processing_seconds_bucket"}


def _is_json_object(line: str) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


def _service() -> str:
    return "billing"


def test_compose_entrypoint_runs_as_a_plain_process_in_the_prod_profile(broker, tmp_path):
    name = _service()
    svc = load(BASE)["services"][name]
    argv = [*exec_form(dockerfile()["ENTRYPOINT"][-1]), *svc["command"]]
    assert argv == ["pn", "run", name]
    env = {**dockerfile_env(), **{k: re.sub(r"\$\{[A-Z_]+:-([^}]*)\}", r"\1", str(v)) for k, v in svc["environment"].items()}}
    assert env["PN_PROFILE"] == "prod"
    port = free_port()
    # Only what differs between the container and this machine is swapped:
    env.update({"PN_KAFKA_BOOTSTRAP": broker.bootstrap, "PN_DATA_DIR": str(tmp_path / "data"),
                "PN_RULES_DIR": str(ROOT / "rules"), "PN_WEB_PORT": str(port), "HOME": str(tmp_path)})
    env.update(DEV_BROKER)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PN_") and k != "HOME"}
    pn = Path(sys.executable).parent / "pn"  # the console script the image's entrypoint runs
    log_path = tmp_path / f"{name}.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([str(pn), *argv[1:]], env={**base, **env}, cwd=tmp_path,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, log_path.read_text()[-3000:]
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                    if r.status == 200:
                        break
            except Exception:
                pass
            assert time.monotonic() < deadline, log_path.read_text()[-3000:]
            time.sleep(0.3)
        paths = ("/cases/x", "/diary?case_id=x", "/billing/summary", "/fees/summary", "/budget/status")
        statuses = []
        for path in paths:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5)
                statuses.append(200)
            except urllib.error.HTTPError as e:
                statuses.append(e.code)
        assert 401 in statuses and 200 not in statuses  # no tokens configured: protected views closed
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
            exported = r.read().decode()
    finally:
        proc.terminate()
        proc.wait(20)
    text = log_path.read_text()
    assert "no_api_tokens" in text  # the one warning saying so
    assert '"level": "debug"' not in text.lower()
    # issue 26: in prod every line is JSON, faust's and aiokafka's included (ProcessorFormatter)
    not_json = [line for line in text.splitlines() if line.strip() and not _is_json_object(line)]
    assert not not_json, not_json[:5]
    # every metric the alert rules and the dashboard name is on this real worker's /metrics
    names = {m.group(1) for m in re.finditer(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)", exported, re.M)}
    assert dashboard_and_rule_metrics() - names - SCRAPE_METRICS - _NOT_YET_SAMPLED == set()
    assert f'pn_ready{{service="{name}"}} 1.0' in exported.splitlines()
    assert (tmp_path / "data" / name).exists()  # RocksDB state under PN_DATA_DIR (the volume)
