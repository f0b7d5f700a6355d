"""Docs that are true (issue 26, item 5): every `pn` command and option, `PN_*` variable, metric
name and topic named in README.md and docs/*.md exists. The truth comes from the code: click's
command tree (shared/cli/main.py), the settings classes (shared/service/settings.py, services/*/settings.py),
the metrics registry (shared/service/metrics.py) and the topic catalog (shared/contract/topics.py) with the event
types (a `pn.x.y` name is either). A renamed option, setting, metric or topic fails here until
the docs follow."""

from __future__ import annotations

import importlib
import re
from functools import cache
from pathlib import Path

import click
import pytest

from shared.cli.main import main
from shared.contract.events import EVENT_TYPES
from shared.contract.topics import BY_NAME
from shared.platform.registry import names
from shared.service.settings import RETIRED, PnSettings

from .test_prometheus import SCRAPE_METRICS, exported_metric_names

SERVICES = names()

ROOT = Path(__file__).resolve().parents[2]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
COMPOSE_VARIABLES = re.compile(r"\$\{(PN_[A-Z0-9_]+)")
# separators that end a `pn` command on a line
COMMAND_END = re.compile(r"\s(?:\||;|&&|>|2>|#)\s|`|\)|$")


def code_of(text: str) -> list[str]:
    """Inline code spans and the lines of fenced blocks: where commands and names are written."""
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", text, re.S | re.M)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", text, flags=re.S | re.M)
    return [line for block in blocks for line in block.splitlines()] + re.findall(r"`([^`\n]+)`", prose)


def doc_params():
    return [pytest.param(p, id=str(p.relative_to(ROOT))) for p in DOCS]


@cache
def env_names() -> set[str]:  # noqa: D103
    names = {f"PN_{f.upper()}" for f in PnSettings.model_fields}
    for service in SERVICES:
        try:
            settings = importlib.import_module(f"services.{service}.settings").Settings
        except ModuleNotFoundError:
            continue
        names |= {f"PN_{f.upper()}" for f in settings.model_fields}
    names |= set(RETIRED)  # documented as retired: a worker warns when one is set
    for compose in ROOT.glob("docker-compose*.yml"):
        names |= set(COMPOSE_VARIABLES.findall(compose.read_text()))  # compose's own, e.g. PN_IMAGE_TAG
    return names


def _commands(root: click.Group) -> dict[str, click.Command]:
    return dict(root.commands)


def pn_invocations(code: str) -> list[list[str]]:
    """The words after each `pn ` in a code line, up to a pipe, `;`, `&&`, redirection or comment."""
    out = []
    for match in re.finditer(r"(?:^|[\s(=$])(?<!--entrypoint )pn ((?:-[-\w]+|[a-z]).*)", code):
        rest = COMMAND_END.split(match.group(1), maxsplit=1)[0]
        out.append(rest.replace("[", " ").replace("]", " ").split())
    return out


def check_invocation(words: list[str]) -> list[str]:
    """Problems of one `pn ...` invocation against click's command tree."""
    problems: list[str] = []
    cmd: click.Command = main
    path = ["pn"]
    for i, word in enumerate(words):
        if word.startswith("-"):
            name = word.split("=", 1)[0]
            known = {o for p in cmd.params for o in (*getattr(p, "opts", []), *getattr(p, "secondary_opts", []))}
            known |= {"-h", "--help"} | ({"--version"} if cmd is main else set())
            if name not in known and not re.fullmatch(r"-+", name):
                problems.append(f"`{' '.join(path)}` has no option {name}")
            continue
        if isinstance(cmd, click.Group) and (i == 0 or not words[i - 1].startswith("-")):
            alternatives = word.split("|")
            if all(re.fullmatch(r"[a-z][a-z-]*", a) for a in alternatives):
                missing = [a for a in alternatives if a not in cmd.commands]
                if missing:
                    problems.append(f"`{' '.join(path)}` has no command {'|'.join(missing)}")
                    return problems
                cmd = cmd.commands[alternatives[0]]
                path.append(word)
    return problems


def test_the_invocation_checker_catches_wrong_commands_and_options():
    assert check_invocation(["deadletter", "list", "--topic", "x", "--json"]) == []
    assert check_invocation(["deadletter", "list|replay"]) == []
    assert check_invocation(["tail", "pn.alerts.ops", "--from-beginning", "-b", "h:1"]) == []
    assert check_invocation(["--version"]) == []
    assert check_invocation(["deadletters", "list"]) == ["`pn` has no command deadletters"]
    assert check_invocation(["tail", "x", "--follow"]) == ["`pn tail` has no option --follow"]
    assert pn_invocations("PN_KAFKA_BOOTSTRAP=h:1 pn publish pn.x f.jsonl | head") == [["publish", "pn.x", "f.jsonl"]]


@pytest.mark.parametrize("doc", doc_params())
def test_every_pn_command_and_option_exists(doc):
    problems = [p for code in code_of(doc.read_text()) for words in pn_invocations(code)
                for p in check_invocation(words)]
    assert not problems, problems


@pytest.mark.parametrize("doc", doc_params())
def test_every_pn_variable_exists(doc):
    named = set(re.findall(r"\bPN_[A-Z0-9_]*[A-Z0-9]\b", doc.read_text()))
    assert named - env_names() == set()


@pytest.mark.parametrize("doc", doc_params())
def test_every_metric_exists(doc):
    named = set(re.findall(r"\b(pn_[a-z0-9_]*[a-z0-9]|process_[a-z_]*[a-z])\b", doc.read_text()))
    named -= {"process_"}
    assert named - exported_metric_names() - SCRAPE_METRICS == set()


def _is_topic_or_type(name: str) -> bool:
    known = set(BY_NAME) | set(EVENT_TYPES)
    return name in known or any(k.startswith(name + ".") for k in known)  # `pn.letters.*`, prefixes


@pytest.mark.parametrize("doc", doc_params())
def test_every_topic_and_event_type_exists(doc):
    named = {m.rstrip(".") for m in re.findall(r"\bpn\.[a-z][a-z0-9_.-]*[a-z0-9]", doc.read_text())}
    named = {n for n in named if not n.endswith((".md", ".yml", ".yaml", ".json", ".py"))}
    assert {n for n in named if not _is_topic_or_type(n)} == set()


PATH_NAMED = re.compile(r"(?<![\w./-])((?:shared|services|deploy|docs|tests|rules|bench)/[\w./{}<>*-]*[\w*])")


@pytest.mark.parametrize("doc", [*doc_params(), pytest.param(ROOT / "shared/service/settings.py", id="shared/service/settings.py")])
def test_every_file_named_exists(doc):
    """e.g. settings.py pointed at a shared/kafka_security.py that never existed."""
    missing = []
    for path in set(PATH_NAMED.findall(doc.read_text())):
        if re.search(r"[{}<>*]", path):  # a pattern: services/<name>/app.py, docs/contract/schemas/*
            path = re.split(r"[{}<>*]", path)[0].rsplit("/", 1)[0]
        if path.startswith("deploy/secrets"):  # written by deploy/scripts/gen-certs.sh, never committed
            continue
        if not (ROOT / path).exists():
            missing.append(path)
    assert not missing, missing


ROUTE = re.compile(r'runtime\.route\("(\w+)",\s*"([^"]+)",\s*\w+,\s*role="(\w+)"')


def routes() -> list[tuple[str, str, str]]:
    return [m for web in sorted(ROOT.glob("services/*/web.py")) for m in ROUTE.findall(web.read_text())]


def test_security_md_names_every_view_with_its_role_and_no_role_without_a_view():
    """security.md's role table: every view the services register is in its role's row, and a
    role that no view takes says so (it used to promise ops views that did not exist)."""
    from shared.web.auth import ROLES

    assert routes(), "no views found: the pattern is broken"
    text = (ROOT / "docs/security.md").read_text()
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(\w+)` \| (.*) \|$", text, re.M)}
    for method, path, role in routes():
        shown = re.sub(r"\{[^}]+\}", "{", path)
        assert any(re.sub(r"\{[^}]+\}", "{", p) == shown for p in re.findall(r"(/[\w/{}.]+)", rows[role])), (
            f"{method} {path} ({role}) is missing from docs/security.md's role table")
    used = {role for _m, _p, role in routes()}
    for role in ROLES:
        assert role in rows, f"role {role} is not in docs/security.md"
        if role not in used:
            assert "no view takes it" in rows[role], f"docs/security.md promises views for {role}"
