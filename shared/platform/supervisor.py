"""Runs the broker and service workers as child processes (`pn up`, `pn demo`, e2e tests).

Each service is its own process (`pn run NAME`), exactly as in production; the supervisor only
starts them with the right environment, waits until each answers `/health` with ready, and
stops them all (SIGTERM, then SIGKILL) so no process is left behind.

A service may run as several workers (`workers=`): one consumer group, each worker with its own
`PN_DATA_DIR` (RocksDB locks its directory) and web port, as two hosts would run it (issue 27,
docs/deploy.md "Two workers of a service"). The first worker of a service is keyed by the
service's name in `processes`, the others `NAME#2`, `NAME#3` ...
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from shared.kafka.broker import EmbeddedBroker, free_port
from shared.service.settings import PnSettings


class StackError(RuntimeError):
    pass


def worker_key(service: str, worker: int) -> str:
    """The key of a service's worker in `Stack.processes`: the service's name for the first."""
    return service if worker == 1 else f"{service}#{worker}"


class ServiceProcess:
    def __init__(self, name: str, env: dict[str, str], log_path: Path, web_port: int) -> None:
        self.name, self.env, self.log_path, self.web_port = name, env, log_path, web_port
        self.service = name.partition("#")[0]
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "shared.cli", "run", self.service], env=self.env,
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}/health", timeout=1) as r:
                return r.status == 200
        except Exception:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill9(self) -> None:
        """Crash the worker the hard way (reliability tests)."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGTERM)
            self.proc.wait(timeout)
        except (subprocess.TimeoutExpired, ProcessLookupError):
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            self.proc.wait(5)


class Stack:
    def __init__(
        self, services: Iterable[str], *, work_dir: Path, bootstrap: str | None = None,
        broker_port: int | None = None, env: dict[str, str] | None = None,
        on_progress: Callable[[str], None] | None = None,
        workers: int | Mapping[str, int] = 1,
    ) -> None:
        self.services = list(services)
        self.workers = {name: workers if isinstance(workers, int) else workers.get(name, 1)
                        for name in self.services}
        """Workers per service (one consumer group each)."""
        self.work_dir = Path(work_dir)
        self.bootstrap = bootstrap
        self.broker: EmbeddedBroker | None = None
        self.broker_port = broker_port
        self.extra_env = env or {}
        self.processes: dict[str, ServiceProcess] = {}
        self.progress = on_progress or (lambda _msg: None)

    def start(self, timeout: float = 90.0) -> Stack:
        from shared.kafka.broker import ensure_topics

        self.work_dir.mkdir(parents=True, exist_ok=True)
        if self.bootstrap is None:
            self.broker = EmbeddedBroker(self.broker_port, log_file=self.work_dir / "broker.log").start()
            self.bootstrap = self.broker.bootstrap
            self.progress(f"broker ready on {self.bootstrap}")
        import asyncio

        asyncio.run(ensure_topics(PnSettings(kafka_bootstrap=self.bootstrap)))
        for name in self.services:
            for worker in range(1, self.workers[name] + 1):
                self.add(name, worker)
        self.wait_healthy(timeout)
        return self

    def env_for(self, name: str, web_port: int, worker: int = 1) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("PN_")}
        env.update({
            "PN_KAFKA_BOOTSTRAP": str(self.bootstrap),
            "PN_DATA_DIR": str(self.work_dir / "data"),
            "PN_WEB_PORT": str(web_port),
            "PN_PROFILE": os.environ.get("PN_PROFILE") or "dev",  # the caller's, as every PN_*
            "PN_LOG_FORMAT": "json",
            "PYTHONUNBUFFERED": "1",
        })
        env.update({k: v for k, v in os.environ.items() if k.startswith("PN_") and k not in env})
        env.update(self.extra_env)
        env["PN_WEB_PORT"] = str(web_port)
        if worker > 1:  # a second worker never shares the first one's RocksDB directory
            env["PN_DATA_DIR"] = f"{env['PN_DATA_DIR']}-{worker}"
        return env

    def add(self, name: str, worker: int = 1) -> ServiceProcess:
        """Start worker number `worker` of service `name` (its own data dir, port and log)."""
        key = worker_key(name, worker)
        web_port = free_port()
        proc = ServiceProcess(key, self.env_for(name, web_port, worker),
                              self.work_dir / "logs" / f"{key.replace('#', '-')}.log", web_port)
        proc.start()
        self.processes[key] = proc
        return proc

    def workers_of(self, name: str) -> list[ServiceProcess]:
        """The running worker processes of a service, first worker first."""
        return [p for key, p in self.processes.items() if p.service == name]

    def wait_healthy(self, timeout: float = 90.0, names: Iterable[str] | None = None) -> None:
        pending = set(names or self.processes)
        deadline = time.monotonic() + timeout
        while pending:
            for name in sorted(pending):
                proc = self.processes[name]
                if not proc.alive():
                    raise StackError(f"service {name} exited at start; see {proc.log_path}")
                if proc.healthy():
                    pending.discard(name)
                    self.progress(f"{name} ready (web port {proc.web_port})")
            if time.monotonic() > deadline:
                raise StackError(f"not ready within {timeout:.0f} s: {', '.join(sorted(pending))}")
            time.sleep(0.2)

    def restart(self, name: str, timeout: float = 90.0) -> ServiceProcess:
        old = self.processes[name]
        old.stop()
        proc = ServiceProcess(name, old.env, old.log_path, old.web_port)
        proc.start()
        self.processes[name] = proc
        self.wait_healthy(timeout, [name])
        return proc

    def respawn(self, name: str) -> ServiceProcess:
        """Start an exited service again with its environment, log and port (no wait: `pn up`)."""
        old = self.processes[name]
        proc = ServiceProcess(name, old.env, old.log_path, old.web_port)
        proc.start()
        self.processes[name] = proc
        return proc

    def stop(self) -> None:
        for proc in self.processes.values():
            proc.stop()
        if self.broker is not None:
            self.broker.stop()

    def __enter__(self) -> Stack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
