"""`pn` has one habit (issue 26): -b/--bootstrap on every command that talks to Kafka, --version,
--json on every listing, one line and a non-zero exit for an unreachable broker or a bad setting
(no traceback, no "Unclosed AIOKafka..." warning), alerts in Swedish unless asked for English,
`pn up` restarting a crashed child with back-off and keeping PN_PROFILE. No broker: port 1 is
refused at once."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import click
import pytest
from click.testing import CliRunner
from rich.console import Console

from shared.apps.demo.lines import unwrap
from shared.cli.main import _print_record, main
from shared.platform.restarts import MAX_PAUSE_S, Restarter

KAFKA_COMMANDS = ["run", "topics", "publish", "tail", "up", "report", "deadletter list", "deadletter replay"]
LISTINGS = ["token list", "acl", "deadletter list", "tail"]
NOWHERE = "127.0.0.1:1"


@pytest.fixture(autouse=True)
def _kafka_log_levels():
    """`pn` quiets aiokafka's loggers in its process: give the rest of the session its levels back."""
    import logging

    levels = {n: logging.getLogger(n).level for n in ("aiokafka", "kafka")}
    yield
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def command(path: str) -> click.Command:
    cmd: click.Command = main
    for word in path.split():
        cmd = cmd.commands[word]  # type: ignore[attr-defined]
    return cmd


def opts(path: str) -> set[str]:
    return {o for p in command(path).params for o in getattr(p, "opts", [])}


@pytest.mark.parametrize("path", KAFKA_COMMANDS)
def test_every_kafka_command_takes_dash_b(path):
    assert {"-b", "--bootstrap"} <= opts(path)


@pytest.mark.parametrize("path", LISTINGS)
def test_every_listing_has_json(path):
    assert "--json" in opts(path)


def test_version():
    done = CliRunner().invoke(main, ["--version"])
    assert done.exit_code == 0 and done.output.startswith("pn ") and done.output.strip().split()[-1][0].isdigit()


def pn(*args: str, env: dict | None = None, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-W", "default", "-m", "shared.cli", *args], capture_output=True,
                          text=True, timeout=60, input=stdin, env={"PATH": "/usr/bin:/bin", **(env or {})})


def one_line_error(done: subprocess.CompletedProcess, *needles: str) -> None:
    assert done.returncode != 0
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("Error: ") and all(n in lines[0] for n in needles), lines[0]
    assert "Traceback" not in done.stderr and "Unclosed" not in done.stderr


@pytest.mark.parametrize("args", [
    ("deadletter", "list"),
    ("tail", "pn.notifications", "--timeout", "1"),
], ids=lambda a: " ".join(a[:2]))
def test_an_unreachable_broker_is_one_line_without_traceback_or_unclosed_warning(args):
    """As a process, so warnings printed at interpreter exit would show."""
    one_line_error(pn(*args, "-b", NOWHERE), NOWHERE)


def in_process(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    done = CliRunner().invoke(main, list(args), input="{}\n", env=env)
    assert done.exception is None or isinstance(done.exception, SystemExit), repr(done.exception)
    return subprocess.CompletedProcess(args, done.exit_code, done.stdout, done.stderr)


@pytest.mark.parametrize("args", [
    ("topics", "--wait", "0"),
    ("publish", "pn.care.days", "-", "--no-validate"),
    ("report", "--period", "2023"),
    ("deadletter", "replay", "--id", "x"),
], ids=lambda a: " ".join(a[:2]))
def test_an_unreachable_broker_is_one_line_and_a_non_zero_exit(args):
    started = time.monotonic()
    one_line_error(in_process(*args, "-b", NOWHERE), NOWHERE)
    assert time.monotonic() - started < 15  # `pn topics` used to retry for two minutes


def test_a_bad_setting_is_one_line_naming_it():
    one_line_error(in_process("deadletter", "list", env={"PN_REGION": "Dalarna"}), "PN_REGION")
    one_line_error(in_process("tail", "pn.notifications", env={"PN_KAFKA_SECURITY_PROTOCOL": "SSL"}),
                   "PN_KAFKA_SSL_CAFILE")


def test_deadletter_list_of_an_unknown_topic_says_so():
    done = CliRunner().invoke(main, ["deadletter", "list", "--topic", "pn.nope", "-b", NOWHERE])
    assert done.exit_code != 0 and "unknown topic 'pn.nope'" in done.output


def test_token_list_and_acl_as_json(monkeypatch):
    monkeypatch.setenv("PN_TOKENS", "")
    done = CliRunner().invoke(main, ["acl", "--service", "fees", "--json"])
    rows = [json.loads(line) for line in done.output.splitlines()]
    assert done.exit_code == 0 and rows and all(r["service"] == "fees" and r["principal"] for r in rows)
    done = CliRunner().invoke(main, ["token", "list", "--json"])
    assert done.exit_code == 0 and done.output == ""


def _alert(message: dict) -> SimpleNamespace:
    event = {"type": "pn.alert.raised", "data": {"severity": "warning", "rule_id": "budget.x", "subject": "6103",
                                                 "message": message}}
    return SimpleNamespace(value=json.dumps(event).encode(), topic="pn.alerts.budget", partition=0, offset=1)


@pytest.mark.parametrize("lang, shown, hidden", [("sv", "Prognos underskott", "Forecast deficit"),
                                                  ("en", "Forecast deficit", "Prognos underskott")])
def test_tail_shows_alerts_in_swedish_or_english_on_request(lang, shown, hidden):
    out = io.StringIO()
    _print_record(Console(file=out, width=200), _alert({"sv": "Prognos underskott", "en": "Forecast deficit"}),
                  False, lang)
    assert shown in out.getvalue() and hidden not in out.getvalue()


def test_tail_defaults_to_swedish():
    assert command("tail").params[[p.name for p in command("tail").params].index("lang")].default == "sv"


def test_scenario_lines_of_the_topic_are_published_as_their_event_others_skipped():
    event = {"specversion": "1.0", "id": "e1", "type": "pn.care_unit.upserted"}
    line = json.dumps({"topic": "pn.reference.care-units", "key": "k", "event": event}).encode()
    assert json.loads(unwrap(line, "pn.reference.care-units")[0]) == event
    assert unwrap(line, "pn.complaints.submitted")[1] is True
    plain = json.dumps(event).encode()
    assert unwrap(plain, "pn.reference.care-units") == (plain, False)


def test_demo_scenario_only_for_one_topic_is_what_publish_validates():
    from shared.contract.events import decoder_for
    from shared.contract.topics import topic

    done = CliRunner().invoke(main, ["demo", "--scenario-only", "--scale", "0.01", "--topic", "pn.reference.care-units"])
    assert done.exit_code == 0, done.output
    decoder = decoder_for(topic("pn.reference.care-units").event_types)
    lines = done.output.splitlines()
    assert lines and all(decoder.validate_json(line) for line in lines)


class _Proc:
    def __init__(self) -> None:
        self.dead = False
        self.proc = SimpleNamespace(returncode=None)
        self.log_path = Path("var/up/logs/fees.log")

    def alive(self) -> bool:
        return not self.dead


class _Stack:
    def __init__(self) -> None:
        self.processes = {"fees": _Proc()}
        self.respawned = 0

    def respawn(self, name: str) -> _Proc:
        self.respawned += 1
        self.processes[name] = _Proc()
        return self.processes[name]


def test_up_restarts_a_crashed_child_with_growing_pauses_and_says_so():
    now = [0.0]
    said: list[str] = []
    stack = _Stack()
    restarter = Restarter(stack, say=said.append, clock=lambda: now[0])
    pauses = []
    for _ in range(8):
        stack.processes["fees"].dead = True
        stack.processes["fees"].proc.returncode = 1
        restarter.check()
        assert "fees exited (code 1)" in said[-1]
        before, start = stack.respawned, now[0]
        while stack.respawned == before:
            now[0] += 0.5
            restarter.check()
        pauses.append(now[0] - start)
        assert said[-1].startswith("fees restarted")
    assert pauses[:4] == [1.0, 2.0, 4.0, 8.0] and max(pauses) == MAX_PAUSE_S
    now[0] += 61  # a minute up: the next crash waits 1 s again
    restarter.check()
    stack.processes["fees"].dead = True
    restarter.check()
    assert "restarting in 1 s" in said[-1]


def test_up_keeps_the_users_pn_profile(monkeypatch, tmp_path):
    from shared.platform.supervisor import Stack

    monkeypatch.setenv("PN_PROFILE", "prod")
    assert Stack(["fees"], work_dir=tmp_path, bootstrap="x:1").env_for("fees", 1)["PN_PROFILE"] == "prod"
    monkeypatch.delenv("PN_PROFILE")
    assert Stack(["fees"], work_dir=tmp_path, bootstrap="x:1").env_for("fees", 1)["PN_PROFILE"] == "dev"


def test_a_second_worker_of_a_service_gets_its_own_data_dir_port_and_log(tmp_path, monkeypatch):
    """Issue 27: `Stack(..., workers=2)` starts two `pn run budget` in one group; RocksDB locks its
    directory, so the second worker's PN_DATA_DIR is its own (also under a caller's PN_DATA_DIR)."""
    from shared.platform import supervisor

    started = []
    monkeypatch.setattr(supervisor.ServiceProcess, "start", lambda self: started.append(self))
    monkeypatch.setenv("PN_DATA_DIR", str(tmp_path / "mine"))
    stack = supervisor.Stack(["budget", "fees"], work_dir=tmp_path, bootstrap="x:1", workers={"budget": 2})
    for name in stack.services:
        for worker in range(1, stack.workers[name] + 1):
            stack.add(name, worker)
    assert list(stack.processes) == ["budget", "budget#2", "fees"]
    first, second = stack.workers_of("budget")
    assert first.service == second.service == "budget"
    assert second.env["PN_DATA_DIR"] == first.env["PN_DATA_DIR"] + "-2" == str(tmp_path / "data") + "-2"
    assert first.web_port != second.web_port and first.log_path != second.log_path
    assert second.env["PN_WEB_PORT"] == str(second.web_port)
