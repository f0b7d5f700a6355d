"""Our consumers read committed records only; our producers compress as PN_COMPRESSION says."""

from __future__ import annotations

import aiokafka.codec

from shared.kafka.client import compression_type, consumer_kwargs, producer_kwargs
from shared.platform.registry import spec
from shared.runtime.app import ServiceRuntime
from shared.service.settings import PnSettings


async def test_faust_worker_consumers_and_ours_read_committed(tmp_path):
    runtime = ServiceRuntime(spec("billing"), PnSettings(data_dir=tmp_path, store="memory"))
    made = runtime.app.consumer._thread._create_worker_consumer(runtime.app.transport)  # as faust starts one
    assert made._isolation_level == "read_committed"
    assert consumer_kwargs(PnSettings(), "g")["isolation_level"] == "read_committed"


def test_every_codec_is_readable_and_compression_is_a_setting():
    assert aiokafka.codec.has_lz4() and aiokafka.codec.has_zstd() and aiokafka.codec.has_snappy()
    assert PnSettings().compression == "zstd" and producer_kwargs(PnSettings())["compression_type"] == "zstd"
    assert compression_type(PnSettings(compression="none")) is None
