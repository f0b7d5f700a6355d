"""`pn topics`: reconcile the broker's topics with the catalog (shared/contract/topics.py).

`plan` is pure: from the catalog and what the broker has (partitions, the configs we manage) it
says what would change: topics to create, configuration differences, partition differences. A
partition count can only grow in Kafka, and growing moves keys to other partitions (ordering per
key and the services' co-partitioned tables break), so a shrink is refused and a growth applied
only on request (`--grow`). `reconcile` asks the broker and applies the plan.

Configuration is altered with IncrementalAlterConfigs (SET of the keys the catalog manages only:
other dynamic configs an operator set stay), which aiokafka does not wrap: the request is
defined here. The dev broker (Tansu) answers CreateTopics, DescribeConfigs and
IncrementalAlterConfigs but not AlterConfigs nor CreatePartitions (docs/topics.md).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, TypeAlias

from aiokafka.protocol.api import Request, RequestStruct, Response
from aiokafka.protocol.types import Array, Boolean, Int8, Int16, Int32, Schema, String

from shared.contract.topics import CATALOG, Topic
from shared.service.settings import PnSettings

MANAGED = ("cleanup.policy", "retention.ms", "max.message.bytes")
"""The topic configs the catalog owns; others (segment sizes, an operator's tuning) are left alone."""

TOPIC_RESOURCE = 2
OP_SET = 0


class TopicPlanError(RuntimeError):
    """The broker's topics cannot be brought to the catalog (a partition count would shrink)."""

    def __init__(self, message: str, plan: Plan | None = None) -> None:
        super().__init__(message)
        self.plan = plan


@dataclass(frozen=True)
class Existing:
    partitions: int
    configs: dict[str, str]


@dataclass(frozen=True)
class Change:
    topic: str
    name: str
    current: str | None
    wanted: str


@dataclass
class Plan:
    create: list[Topic] = field(default_factory=list)
    changes: list[Change] = field(default_factory=list)
    grow: dict[str, tuple[int, int]] = field(default_factory=dict)
    shrink: dict[str, tuple[int, int]] = field(default_factory=dict)

    @property
    def empty(self) -> bool:
        return not (self.create or self.changes or self.grow or self.shrink)

    def lines(self, replay_window_days: int) -> list[str]:
        """What would change, one line each (what `pn topics --dry-run` prints)."""
        out = []
        for t in self.create:
            configs = " ".join(f"{k}={v}" for k, v in sorted(t.configs_for(replay_window_days).items()))
            out.append(f"create {t.name}: {t.partitions} partitions, {configs}")
        for c in self.changes:
            out.append(f"config {c.topic}: {c.name} {c.current if c.current is not None else '(unset)'} -> {c.wanted}")
        for name, (have, want) in sorted(self.grow.items()):
            out.append(f"partitions {name}: {have} -> {want} (keys move to other partitions; applied only with --grow)")
        for name, (have, want) in sorted(self.shrink.items()):
            out.append(f"partitions {name}: {have} -> {want} REFUSED: Kafka cannot remove partitions")
        return out


def plan(topics: Iterable[Topic], existing: dict[str, Existing], replay_window_days: int) -> Plan:
    """What it takes to bring `existing` (the broker's topics) to the catalog's `topics`."""
    p = Plan()
    for t in topics:
        have = existing.get(t.name)
        if have is None:
            p.create.append(t)
            continue
        for name, wanted in t.configs_for(replay_window_days).items():
            if name in MANAGED and have.configs.get(name) != wanted:
                p.changes.append(Change(t.name, name, have.configs.get(name), wanted))
        if have.partitions < t.partitions:
            p.grow[t.name] = (have.partitions, t.partitions)
        elif have.partitions > t.partitions:
            p.shrink[t.name] = (have.partitions, t.partitions)
    return p


def shrink_error(p: Plan) -> str:
    return "; ".join(
        f"{name} has {have} partitions, the catalog {want}: Kafka cannot remove partitions, and fewer "
        f"would move keys; change the catalog back, or migrate to a new topic (docs/topics.md)"
        for name, (have, want) in sorted(p.shrink.items()))


# -- IncrementalAlterConfigs (API key 44), not wrapped by aiokafka ----------------------------------
class IncrementalAlterConfigsResponse_v0(Response):  # noqa: N801 - Kafka's protocol names
    API_KEY = 44
    API_VERSION = 0
    SCHEMA = Schema(
        ("throttle_time_ms", Int32),
        ("responses", Array(("error_code", Int16), ("error_message", String("utf-8")),
                            ("resource_type", Int8), ("resource_name", String("utf-8")))),
    )


class IncrementalAlterConfigsRequest_v0(RequestStruct):  # noqa: N801
    API_KEY = 44
    API_VERSION = 0
    RESPONSE_TYPE = IncrementalAlterConfigsResponse_v0
    SCHEMA = Schema(
        ("resources", Array(("resource_type", Int8), ("resource_name", String("utf-8")),
                            ("configs", Array(("name", String("utf-8")), ("config_operation", Int8),
                                              ("value", String("utf-8")))))),
        ("validate_only", Boolean),
    )


IncrementalAlterConfigsStruct: TypeAlias = IncrementalAlterConfigsRequest_v0


class IncrementalAlterConfigsRequest(Request[IncrementalAlterConfigsStruct]):
    API_KEY = 44

    def __init__(self, changes: dict[str, dict[str, str]]) -> None:
        self._resources = [(TOPIC_RESOURCE, topic, [(k, OP_SET, v) for k, v in sorted(cfg.items())])
                           for topic, cfg in sorted(changes.items())]

    def build(self, request_struct_class: type[IncrementalAlterConfigsStruct]) -> IncrementalAlterConfigsStruct:
        return request_struct_class(self._resources, False)


# -- talking to the broker ----------------------------------------------------------------------------
async def _admin(settings: PnSettings, timeout: float) -> Any:
    from aiokafka.admin import AIOKafkaAdminClient

    from shared.kafka.broker import BrokerError
    from shared.kafka.client import admin_kwargs

    admin = AIOKafkaAdminClient(**admin_kwargs(settings), request_timeout_ms=int(timeout * 1000))
    deadline = time.monotonic() + timeout
    while True:
        try:
            await admin.start()
            return admin
        except Exception as exc:
            if time.monotonic() > deadline:
                await admin.close()
                raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}") from None
            await asyncio.sleep(0.5)


async def existing_topics(admin: Any, names: list[str]) -> dict[str, Existing]:
    """Partitions and managed configs of those of `names` that exist on the broker."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

    have = set(await admin.list_topics())
    present = [n for n in names if n in have]
    if not present:
        return {}
    partitions = {t["topic"]: len(t["partitions"]) for t in await admin.describe_topics(present)}
    configs: dict[str, dict[str, str]] = {n: {} for n in present}
    for response in await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, n) for n in present]):
        for error_code, error_message, _type, name, entries, *_ in response.resources:
            if error_code:
                raise RuntimeError(f"DescribeConfigs {name}: {error_message} (error {error_code})")
            configs[name] = {e[0]: e[1] for e in entries if e[0] in MANAGED and e[1] is not None}
    return {n: Existing(partitions.get(n, 0), configs[n]) for n in present}


async def apply(admin: Any, p: Plan, settings: PnSettings, *, grow: bool) -> None:
    from aiokafka.admin import NewPartitions, NewTopic

    if p.create:
        await admin.create_topics([
            NewTopic(t.name, t.partitions, settings.replication_factor,
                     topic_configs=t.configs_for(settings.replay_window_days)) for t in p.create])
    if p.changes:
        changes: dict[str, dict[str, str]] = {}
        for c in p.changes:
            changes.setdefault(c.topic, {})[c.name] = c.wanted
        response = await admin._send_request(IncrementalAlterConfigsRequest(changes))  # noqa: SLF001
        failed = [f"{name}: {message or code}" for code, message, _t, name in response.responses if code]
        if failed:
            raise RuntimeError("IncrementalAlterConfigs refused: " + "; ".join(failed))
    if grow and p.grow:
        await admin.create_partitions({name: NewPartitions(want) for name, (_, want) in p.grow.items()})


async def reconcile(settings: PnSettings, *, dry_run: bool = False, grow: bool = False,
                    topics: Iterable[Topic] = CATALOG, timeout: float = 30.0) -> Plan:
    """Plan, and unless `dry_run`, apply. Raises TopicPlanError (nothing applied) on a shrink."""
    topics = list(topics)
    admin = await _admin(settings, timeout)
    try:
        p = plan(topics, await existing_topics(admin, [t.name for t in topics]), settings.replay_window_days)
        if p.shrink:
            raise TopicPlanError(shrink_error(p), p)
        if not dry_run:
            await apply(admin, p, settings, grow=grow)
        return p
    finally:
        await admin.close()
