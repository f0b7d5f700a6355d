"""A minimal service on the shared runtime, run as its own process by the foundation tests.

It consumes `pn.finance.postings` and raises an ops alert per posting (deterministic id), so the
tests can see the wrapper's whole path on the real broker: decode, dead-letter, dedup, emit.
"""

from __future__ import annotations

import asyncio
import sys

from shared.contract.events import AlertMessage, AlertRaised
from shared.contract.topics import ALERTS_OPS, FINANCE_POSTINGS
from shared.runtime.app import ServiceRuntime, run_worker
from shared.service.logging import configure
from shared.service.ports import Emit
from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec


class _Unpublishable(Emit):
    """An output that cannot be encoded: its batch raises (a bug or an unpublishable output),
    which is how the readiness tests crash the agent on purpose."""

    def value(self) -> bytes:
        raise RuntimeError("this output cannot be encoded")


async def on_posted(event, *, deps):
    if event.data.text.startswith("hang "):  # a partition that stops moving without a crash
        await asyncio.sleep(float(event.data.text.split()[1]))
    if event.data.text == "crash-agent":
        return [_Unpublishable(ALERTS_OPS, None, event.model_copy())]  # a new event: encoded, so it raises
    deps.store[event.data.posting_id] = str(event.data.amount)
    alert = AlertRaised(alert_id=f"probe:{event.data.posting_id}", rule_id="probe.posting", severity="info",
                        subject=event.data.cost_centre, message=AlertMessage(sv="bokförd", en="posted"),
                        facts={"amount": str(event.data.amount)}, raised_at=deps.emit.clock.now())
    return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[event.id])]


class Deps:
    pass


def create_app(settings: PnSettings):
    runtime = ServiceRuntime(ServiceSpec(name="probe", port=6099, summary="a test service", inputs=(), settings=PnSettings, app=""), settings)
    deps = Deps()
    deps.store = runtime.store("postings", FINANCE_POSTINGS.partitions)
    processor = runtime.processor({"pn.ledger.posted": on_posted}, deps)
    deps.emit = processor.emit
    runtime.consume(FINANCE_POSTINGS)
    return runtime.app


if __name__ == "__main__":
    settings = PnSettings(web_port=int(sys.argv[1]) if len(sys.argv) > 1 else None)
    configure(service="probe", level="INFO", fmt="json")
    run_worker(create_app(settings))
