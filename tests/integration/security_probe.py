"""A test-only service on the shared runtime with one view per gate rule (issue 11 tests).

    GET  /cases/{case_id}  officer, audit="case": returns case content (description, personnummer)
                           that must never reach the audit topic or the log
    POST /echo             submitter: reads the body through the bounded `req.json()`
    GET  /ops/ping         ops
Tokens come from PN_TOKENS like every service's. Run: python security_probe.py PORT
"""

from __future__ import annotations

import sys

from shared.runtime.app import ServiceRuntime, run_worker
from shared.service.logging import configure
from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec
from shared.web.gate import WebRequest, WebResponse

DESCRIPTION = "Jag fick inget svar om min diagnos (probe-content)"
PERSONNUMMER = "191212121212"


def create_app(settings: PnSettings):
    runtime = ServiceRuntime(ServiceSpec(name="secprobe", port=6099, summary="a test service", inputs=(), settings=PnSettings, app=""), settings)

    async def get_case(req: WebRequest):
        case_id = req.params["case_id"]
        if case_id.startswith("missing"):
            return WebResponse(404, {"error": "not_found"})
        req.audit(case_id=case_id)
        return {"case_id": case_id, "description": DESCRIPTION, "patient": {"personnummer": PERSONNUMMER}}

    async def echo(req: WebRequest):
        body = req.json()
        return {"ok": True, "keys": len(body) if isinstance(body, dict) else 0}

    async def ping(req: WebRequest):
        return {"pong": req.caller.name}

    runtime.route("GET", "/cases/{case_id}", get_case, role="officer", audit="case")
    runtime.route("POST", "/echo", echo, role="submitter")
    runtime.route("GET", "/ops/ping", ping, role="ops")
    return runtime.app


if __name__ == "__main__":
    settings = PnSettings(web_port=int(sys.argv[1]))
    configure(service="secprobe", level="INFO", fmt="json")
    run_worker(create_app(settings))
