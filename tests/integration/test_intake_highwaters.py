"""The dev broker reports end offsets low (the last batch's base offset); intake's restart
safety depends on `shared.runtime.highwaters.true_end_offsets` finding the true end."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic

from shared.runtime.highwaters import true_end_offsets
from shared.service.settings import PnSettings

pytestmark = pytest.mark.broker


async def test_true_end_offsets_after_a_multi_record_batch_and_on_an_empty_partition(broker):
    settings = PnSettings(kafka_bootstrap=broker.bootstrap)
    topic = f"test-hw-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=broker.bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 2, 1)])
    finally:
        await admin.close()
    producer = AIOKafkaProducer(bootstrap_servers=broker.bootstrap, linger_ms=50)
    await producer.start()
    try:
        await asyncio.gather(*[await producer.send(topic, b"x", partition=0) for _ in range(5)])  # one batch
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(bootstrap_servers=broker.bootstrap)
    await consumer.start()
    tps = [TopicPartition(topic, 0), TopicPartition(topic, 1)]
    try:
        reported = await consumer.end_offsets(tps)
    finally:
        await consumer.stop()
    assert await true_end_offsets(settings, reported) == {tps[0]: 5, tps[1]: 0}
