"""API tokens: `pn token create|list`, the registry's parsing and identification, audit events."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from click.testing import CliRunner

from shared.cli import main
from shared.service.settings import PnSettings
from shared.web.audit import audit_event
from shared.web.auth import Caller, TokenConfigError, TokenRegistry, new_token, parse_entries
from shared.web.gate import BadRequest, audit_path, check_json_limits

TOKEN_RE = re.compile(r"\bpn_[A-Za-z0-9_-]{43}\b")


def test_token_create_prints_the_token_once_and_a_line_that_identifies_it(tmp_path, monkeypatch):
    result = CliRunner().invoke(main, ["token", "create", "--role", "officer", "--name", "case-system"])
    assert result.exit_code == 0, result.output
    tokens = TOKEN_RE.findall(result.output)
    assert len(tokens) == 1
    line = [ln for ln in result.output.splitlines() if ln.startswith("case-system:officer:")][0]
    assert tokens[0] not in line
    registry = TokenRegistry(parse_entries(line, "test"))
    assert registry.identify(tokens[0]) == Caller("case-system", "officer")
    assert registry.identify(tokens[0] + "x") is None


def test_token_create_refuses_an_unknown_role_or_a_bad_name():
    assert CliRunner().invoke(main, ["token", "create", "--role", "admin", "--name", "x"]).exit_code != 0
    bad = CliRunner().invoke(main, ["token", "create", "--role", "ops", "--name", "a:b"])
    assert bad.exit_code != 0 and "without ':'" in bad.output


def test_token_list_shows_names_and_roles_never_secrets(tmp_path, monkeypatch):
    t1, e1 = new_token("case-system", "officer")
    t2, e2 = new_token("1177", "submitter")
    f = tmp_path / "tokens"
    f.write_text(f"# comment\n{e1.line()}\n")
    monkeypatch.setenv("PN_TOKENS_FILE", str(f))
    monkeypatch.setenv("PN_TOKENS", e2.line())
    result = CliRunner().invoke(main, ["token", "list"])
    assert result.exit_code == 0, result.output
    assert "case-system\tofficer" in result.output and "1177\tsubmitter" in result.output
    for secret in (t1, t2, e1.salt.hex(), e1.digest.hex(), e2.digest.hex()):
        assert secret not in result.output


def test_token_list_with_no_tokens_says_every_view_is_closed(monkeypatch):
    monkeypatch.delenv("PN_TOKENS_FILE", raising=False)
    monkeypatch.delenv("PN_TOKENS", raising=False)
    result = CliRunner().invoke(main, ["token", "list"])
    assert result.exit_code == 0 and "401" in result.output


def test_token_list_names_a_broken_file(tmp_path, monkeypatch):
    f = tmp_path / "tokens"
    f.write_text("case-system:officer:zz:zz\n")
    monkeypatch.setenv("PN_TOKENS_FILE", str(f))
    result = CliRunner().invoke(main, ["token", "list"])
    assert result.exit_code != 0 and f"{f}:1" in result.output


def test_rotation_two_tokens_for_one_name_both_work_until_the_old_line_is_removed():
    old, e_old = new_token("case-system", "officer")
    new, e_new = new_token("case-system", "officer")
    both = TokenRegistry(parse_entries(f"{e_old.line()}\n{e_new.line()}", "t"))
    assert both.identify(old) == both.identify(new) == Caller("case-system", "officer")
    revoked = TokenRegistry(parse_entries(e_new.line(), "t"))
    assert revoked.identify(old) is None and revoked.identify(new) is not None


def test_inline_tokens_are_separated_by_semicolons():
    _, e1 = new_token("a", "ops")
    _, e2 = new_token("b", "officer")
    registry = TokenRegistry.from_settings(PnSettings(tokens=f"{e1.line()};{e2.line()}"))
    assert [e.name for e in registry.entries] == ["a", "b"]


def test_empty_inline_tokens_mean_no_tokens():
    assert not TokenRegistry.from_settings(PnSettings(tokens=""))


@pytest.mark.parametrize("line", ["a:officer:00:00", "a:root:" + "00" * 16 + ":" + "00" * 32, "a:officer:xx",
                                  "a:officer:" + "00" * 16 + ":" + "00" * 31])
def test_malformed_lines_are_refused_with_their_origin(line):
    with pytest.raises(TokenConfigError, match="origin:1"):
        parse_entries(line, "origin")


def test_missing_token_file_names_the_setting(tmp_path):
    with pytest.raises(TokenConfigError, match="PN_TOKENS_FILE"):
        TokenRegistry.from_settings(PnSettings(tokens_file=tmp_path / "nope"))


def test_settings_never_show_inline_tokens():
    _, e = new_token("a", "ops")
    s = PnSettings(tokens=e.line())
    assert e.digest.hex() not in repr(s)


# -- audit event: ids only -------------------------------------------------------------------------
def test_audit_event_holds_who_role_view_ids_and_when_only():
    at = datetime(2023, 5, 1, tzinfo=UTC)
    ev = audit_event("intake", Caller("case-system", "officer"), "case GET /cases/PN-1",
                     {"case_id": "PN-1"}, at)
    assert ev.type == "pn.audit.case_read" and ev.subject == "PN-1" and ev.source == "/pn/intake"
    assert ev.data.model_dump() == {"who": "case-system", "role": "officer", "service": "intake",
                                    "view": "case GET /cases/PN-1", "case_id": "PN-1",
                                    "ids": {"case_id": "PN-1"}, "at": at}


def test_the_audited_view_names_only_the_ids_the_view_validated():
    assert audit_path("/cases/{case_id}", {"case_id": "PN-1"}) == "/cases/PN-1"
    assert audit_path("/cases/{case_id}", {}) == "/cases/{case_id}"  # never the caller's raw text


def test_json_limits():
    check_json_limits({"a": [1, {"b": "x" * 100}]})
    deep: object = 1
    for _ in range(40):
        deep = [deep]
    with pytest.raises(BadRequest) as info:
        check_json_limits(deep)
    assert info.value.status == 422
    with pytest.raises(BadRequest):
        check_json_limits({"a": "x" * 100_001})
    with pytest.raises(BadRequest):
        check_json_limits({"k" * 100_001: 1})
