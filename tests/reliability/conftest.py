"""The bad-input fuzz run, once per session, shared by test_fuzz.py and test_privacy.py."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def fuzz_run(tmp_path_factory: pytest.TempPathFactory):
    from .fuzz_run import run_fuzz

    return run_fuzz(tmp_path_factory.mktemp("fuzz"))
