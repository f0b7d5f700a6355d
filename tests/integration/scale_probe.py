"""A minimal service with a global store and views spread over workers, run as two processes by
tests/integration/test_scale_out.py (shared/runtime/global_store.py, shared/runtime/views.py).

- `pn.reference.care-units` → global store `units` (every worker holds every unit);
- `pn.finance.postings` → partitioned store `postings`: the posting with the name of the unit
  its `text` names, read from the global store wherever that unit was written; an ops alert
  per posting says which worker decided it and what it found;
- views: `/units/{hsa_id}` (local: a global store), `/postings/{posting_id}` (any: a lookup),
  `/postings` (all: a count over every worker's partitions).
"""

from __future__ import annotations

import sys

from shared.contract.events import AlertMessage, AlertRaised
from shared.contract.topics import ALERTS_OPS, CARE_UNITS, FINANCE_POSTINGS
from shared.runtime.app import ServiceRuntime, run_worker
from shared.service.logging import configure
from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec
from shared.web.gate import WebResponse

WORKER = sys.argv[1] if len(sys.argv) > 1 else "?"  # the web port: which worker decided


class Deps:
    pass


def on_unit(event, *, deps):
    deps.units[event.data.hsa_id] = event.data.name
    return []


def on_posted(event, *, deps):
    unit = deps.units.get(event.data.text) or "missing"
    deps.postings[event.data.posting_id] = {"unit": unit, "worker": WORKER}
    alert = AlertRaised(alert_id=f"sprobe:{event.data.posting_id}", rule_id="sprobe.posting", severity="info",
                        subject=event.data.cost_centre, message=AlertMessage(sv="bokförd", en="posted"),
                        facts={"unit": unit, "worker": WORKER}, raised_at=deps.emit.clock.now())
    return [deps.emit(ALERTS_OPS, alert, key=alert.alert_id, cause=[event.id])]


def create_app(settings: PnSettings):
    spec = ServiceSpec(name="sprobe", port=6098, summary="a test service", inputs=(), settings=PnSettings, app="")
    runtime = ServiceRuntime(spec, settings)
    deps = Deps()
    deps.units = runtime.global_store("units", CARE_UNITS)
    deps.postings = runtime.store("postings", FINANCE_POSTINGS.partitions)
    processor = runtime.processor({"pn.care_unit.upserted": on_unit, "pn.ledger.posted": on_posted}, deps)
    deps.emit = processor.emit
    runtime.consume(CARE_UNITS, FINANCE_POSTINGS)

    async def unit(req):
        name = deps.units.get(req.params["hsa_id"])
        return WebResponse(404, {"error": "not_found"}) if name is None else {"name": name}

    async def posting(req):
        found = deps.postings.get(req.params["posting_id"])
        return WebResponse(404, {"error": "not_found"}) if found is None else found

    async def count(req):  # `?prefix=`: this test's postings only (the session's broker holds others')
        prefix = req.query.get("prefix", "")
        return {"count": sum(1 for key in deps.postings.keys() if key.startswith(prefix)), "workers": 1}

    def add(bodies):
        return {"count": sum(b["count"] for b in bodies), "workers": sum(b["workers"] for b in bodies)}

    runtime.route("GET", "/units/{hsa_id}", unit, role="officer")
    runtime.route("GET", "/postings/{posting_id}", posting, role="officer", audit="posting", spread="any")
    runtime.route("GET", "/postings", count, role="officer", spread="all", merge=add)
    return runtime.app


if __name__ == "__main__":
    settings = PnSettings(web_port=int(sys.argv[1]) if len(sys.argv) > 1 else None)
    configure(service="sprobe", level="INFO", fmt="json")
    run_worker(create_app(settings))
