"""The image's entrypoint as a plain process (no Docker engine here): the exact command and
environment docker-compose.yml gives a service container (Dockerfile ENV + compose environment,
PN_PROFILE=prod), with only the host-specific values swapped for this machine, starts, answers
/health, and closes its protected views (no tokens → 401)."""

from __future__ import annotations

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

pytestmark = pytest.mark.broker

# The dev broker (Tansu) cannot InitProducerId and holds a first join for half the session
# timeout (ARCHITECTURE.md): the prod defaults for these two are for Apache Kafka.
DEV_BROKER = {"PN_ENABLE_IDEMPOTENCE": "false", "PN_SESSION_TIMEOUT_S": "6"}


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
    finally:
        proc.terminate()
        proc.wait(20)
    text = log_path.read_text()
    assert "no_api_tokens" in text  # the one warning saying so
    assert '"level": "debug"' not in text.lower()
    assert (tmp_path / "data" / name).exists()  # RocksDB state under PN_DATA_DIR (the volume)
