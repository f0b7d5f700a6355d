"""The one boundary of faust's and aiokafka's private parts (shared/runtime/hooks.py): its check
passes on the installed libraries, and names what changed when something did."""

from __future__ import annotations

import pytest

from shared.runtime import hooks
from shared.runtime.hooks import HOOKS, Hook, HookMismatch, Private


def test_every_hook_holds_on_the_installed_faust_aiokafka_and_rocksdict():
    assert hooks.problems() == []
    hooks.verify()  # what a worker runs before it builds its app


class Before:
    def _drain_messages(self, fetcher): ...


class After:
    def _drain_messages(self, fetcher, timeout): ...


def test_a_changed_signature_or_a_missing_attribute_is_named(monkeypatch):
    monkeypatch.setitem(HOOKS, "probe", Hook("probe", "test", (
        Private(f"{__name__}:After", "_drain_messages", ("fetcher",)),
        Private(f"{__name__}:After", "_gone", ("x",)),
        Private(f"{__name__}:After", "_never_assigned"),
        Private("no.such.module:Thing", "x"),
    )))
    found = hooks.problems(["probe"])
    assert any("After._drain_messages takes (fetcher, timeout), expected (fetcher)" in p for p in found)
    assert any("After._gone is gone" in p for p in found)
    assert any("_never_assigned is no longer assigned" in p for p in found)
    assert any("no.such.module.Thing is gone" in p for p in found)
    with pytest.raises(HookMismatch, match="PN_HOOKS_OFF"):
        hooks.verify(["probe"])


def test_a_pinned_version_that_differs_stops_the_worker(monkeypatch):
    monkeypatch.setitem(hooks.PINNED, "aiokafka", "0.0.1")
    with pytest.raises(HookMismatch, match="aiokafka .* is installed; the hooks were written for 0.0.1"):
        hooks.verify([])


def test_hooks_can_be_turned_off_by_name_and_an_unknown_name_is_refused():
    assert "fetch_loop" not in hooks.enabled(["batch_feed"])  # the loop feeds the feeds
    assert hooks.enabled([]) == set(HOOKS)
    with pytest.raises(HookMismatch, match="unknown hooks"):
        hooks.enabled(["fetch_lop"])


def test_the_pins_are_the_project_pins():
    import tomllib
    from pathlib import Path

    from packaging.requirements import Requirement

    deps = tomllib.loads((Path(__file__).resolve().parents[3] / "pyproject.toml").read_text())["project"]["dependencies"]
    pins = {(r := Requirement(d)).name: str(r.specifier) for d in deps}
    for dist, version in hooks.PINNED.items():
        assert pins[dist] == f"=={version}"
