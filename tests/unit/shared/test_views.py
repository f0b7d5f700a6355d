"""How a view's answer is completed by the other workers (shared/runtime/views.py), without HTTP."""

from __future__ import annotations

from shared.runtime.views import Answer, first_found, merged
from shared.web.gate import WebResponse

NOT_HERE = WebResponse(404, {"error": "not_found"})


def add(bodies):
    return {"count": sum(b["count"] for b in bodies)}


def test_a_lookup_found_locally_asks_nobody_and_is_audited_here():
    local = WebResponse(200, {"case": 1})
    assert first_found(local, []) is local and not local.audited


def test_a_lookup_missed_locally_takes_the_first_peer_that_holds_it_audited_there():
    answer = first_found(NOT_HERE, [Answer(404, {"error": "not_found"}), Answer(200, {"case": 1}, generation=3)])
    assert (answer.status, answer.body, answer.audited) == (200, {"case": 1}, True)


def test_a_lookup_is_404_only_when_every_worker_said_so_and_503_when_one_did_not_answer():
    assert first_found(NOT_HERE, [Answer(404, {})]).status == 404
    missing = first_found(NOT_HERE, [Answer(404, {}), Answer(0)])
    assert missing.status == 503 and missing.headers["Retry-After"] == "1"
    assert first_found(NOT_HERE, [Answer(503, {})]).status == 503


def test_an_aggregate_adds_every_workers_share_of_one_generation():
    answer = merged({"count": 2}, 7, [Answer(200, {"count": 3}, generation=7)], add)
    assert (answer.status, answer.body) == (200, {"count": 5})


def test_an_aggregate_over_a_rebalance_or_a_silent_worker_is_never_counted_twice_or_short():
    assert merged({"count": 2}, 7, [Answer(200, {"count": 3}, generation=8)], add).status == 503
    assert merged({"count": 2}, 7, [Answer(0)], add).status == 503
    assert merged({"count": 2}, 7, [Answer(503, {})], add).status == 503


def test_a_worker_holding_none_of_it_is_an_empty_part_and_404_only_when_all_are_empty():
    def add(bodies):
        return {"count": sum(b["count"] for b in bodies)}

    assert merged({"count": 2}, 7, [Answer(404, {}, generation=7)], add).body == {"count": 2}
    only_peer = merged(None, 7, [Answer(200, {"count": 3}, generation=7)], add, local_found=False)
    assert only_peer.status == 200 and only_peer.body == {"count": 3}
    assert merged(None, 7, [Answer(404, {}, generation=7)], add, local_found=False).status == 404


async def test_the_gate_does_not_audit_again_what_a_peer_served_and_audited():
    from shared.web.auth import TokenRegistry, new_token
    from shared.web.gate import WebGate

    token, record = new_token("officer-1", "officer")
    audited = []

    async def audit(caller, view, params):
        audited.append(view)

    gate = WebGate("t", TokenRegistry([record]), audit)

    class Request:
        method, path, query = "GET", "/cases/1", {}
        headers = {"Authorization": f"Bearer {token}"}

    async def served_by_peer(req):
        return WebResponse(200, {"case": 1}, audited=True)

    async def served_here(req):
        return {"case": 1}

    await gate.handle(Request(), served_by_peer, role="officer", audit_view="case", params={"case_id": "1"})
    assert audited == []
    await gate.handle(Request(), served_here, role="officer", audit_view="case", params={"case_id": "1"})
    assert len(audited) == 1 and audited[0].startswith("case GET")  # audited here, once
