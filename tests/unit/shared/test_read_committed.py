"""Our consumers read committed records only; our producers compress as PN_COMPRESSION says."""

from __future__ import annotations

from types import SimpleNamespace

import aiokafka.codec
from faust.transport.drivers import aiokafka as driver

from shared import streaming
from shared.kafka_client import compression_type, consumer_kwargs, producer_kwargs
from shared.settings import PnSettings


def test_faust_worker_consumers_and_ours_read_committed(monkeypatch):
    monkeypatch.setattr(driver.AIOKafkaConsumerThread, "_create_worker_consumer",
                        lambda self, transport: SimpleNamespace(_isolation_level="read_uncommitted"))
    streaming._read_committed_only()
    streaming._read_committed_only()  # idempotent: wrapped once
    made = driver.AIOKafkaConsumerThread._create_worker_consumer(None, None)
    assert made._isolation_level == "read_committed"
    assert consumer_kwargs(PnSettings(), "g")["isolation_level"] == "read_committed"


def test_every_codec_is_readable_and_compression_is_a_setting():
    assert aiokafka.codec.has_lz4() and aiokafka.codec.has_zstd() and aiokafka.codec.has_snappy()
    assert PnSettings().compression == "zstd" and producer_kwargs(PnSettings())["compression_type"] == "zstd"
    assert compression_type(PnSettings(compression="none")) is None
