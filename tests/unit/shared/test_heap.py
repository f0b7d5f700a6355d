"""The worker's C-heap settings: applied on glibc, switched off by 0 (PN_MALLOC_ARENAS, PN_MALLOC_TRIM_S)."""

from __future__ import annotations

import pytest

from shared.runtime import heap
from shared.service.settings import PnSettings

glibc_only = pytest.mark.skipif(heap._glibc() is None, reason="not glibc")  # noqa: SLF001


def test_defaults_are_two_arenas_and_a_trim_every_two_seconds():
    settings = PnSettings()
    assert (settings.malloc_arenas, settings.malloc_trim_s) == (2, 2.0)


@glibc_only
def test_arenas_are_limited_and_zero_keeps_glibcs_default():
    assert heap.limit_arenas(2) is True
    assert heap.limit_arenas(0) is False


@glibc_only
def test_trimming_runs_in_a_daemon_thread_and_zero_starts_none():
    assert heap.start_trimming(0) is None
    thread = heap.start_trimming(3600)  # sleeps first: no trim during the tests
    assert thread is not None and thread.daemon and thread.is_alive() and thread.name == "pn-heap-trim"


def test_negative_settings_are_refused(monkeypatch):
    monkeypatch.setenv("PN_MALLOC_TRIM_S", "-1")
    with pytest.raises(ValueError, match="malloc_trim_s"):
        PnSettings()
