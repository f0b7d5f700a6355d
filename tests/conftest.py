"""Session-wide fixtures: the real embedded broker (Tansu) on a free port, settings per test."""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path

import pytest

from shared.kafka.broker import EmbeddedBroker, ensure_topics
from shared.service.settings import PnSettings

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedBroker:
    """One Tansu broker per test session with every catalog topic; fails (never skips) if it can't start."""
    log = tmp_path_factory.mktemp("broker") / "broker.log"
    b = EmbeddedBroker(log_file=log).start()
    asyncio.run(ensure_topics(PnSettings(kafka_bootstrap=b.bootstrap)))
    yield b
    b.stop()


@pytest.fixture
def settings(broker: EmbeddedBroker, tmp_path: Path) -> PnSettings:
    return PnSettings(kafka_bootstrap=broker.bootstrap, data_dir=tmp_path / "data", rules_dir=ROOT / "rules")


@pytest.fixture
def unique() -> str:
    return uuid.uuid4().hex[:10]
