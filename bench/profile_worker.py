"""cProfile of one worker process over 10,000 pre-produced inputs of its main kind (30 s, then
SIGTERM; faust exits cleanly, so cProfile writes its file), top 25 by own time.

    python -m bench.profile_worker intake|diary|billing|fees|budget
"""

from __future__ import annotations

import asyncio
import os
import pstats
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from shared.kafka.broker import EmbeddedBroker, ensure_topics, free_port
from shared.service.settings import PnSettings

from .on_broker import ROOT, WORKLOADS, _produce


def main(service: str, n: int = 10_000, seconds: float = 30.0) -> None:
    broker = EmbeddedBroker().start()
    prof, log = f"/tmp/pn-{service}.prof", f"/tmp/pn-{service}-worker.log"
    try:
        asyncio.run(ensure_topics(PnSettings(kafka_bootstrap=broker.bootstrap)))
        work = WORKLOADS[service](n, uuid.uuid4().hex[:6])
        asyncio.run(_produce(broker.bootstrap, work.setup))
        asyncio.run(_produce(broker.bootstrap, [(t, e) for t, e, _k in work.inputs]))
        env = {**{k: v for k, v in os.environ.items() if not k.startswith("PN_")},
               "PN_KAFKA_BOOTSTRAP": broker.bootstrap, "PN_DATA_DIR": tempfile.mkdtemp(),
               "PN_WEB_PORT": str(free_port()), "PN_PROFILE": "dev", "PN_LOG_FORMAT": "json",
               "PN_RULES_DIR": str(ROOT / "rules"), **work.env}
        with open(log, "w") as out:
            proc = subprocess.Popen([sys.executable, "-m", "cProfile", "-o", prof, "-m", "shared.cli", "run", service],
                                    env=env, stdout=out, stderr=subprocess.STDOUT)
            time.sleep(seconds)
            proc.send_signal(signal.SIGTERM)
            proc.wait(30)
    finally:
        broker.stop()
    pstats.Stats(prof).sort_stats("tottime").print_stats(25)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "intake")
