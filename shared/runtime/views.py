"""Where a view's answer comes from when a service runs on several workers.

A worker's stores hold only the partitions it is assigned (plus standby copies), so a view read
from them answers for part of the data. `runtime.route(..., spread=...)` says how the runtime
completes it, asking the other workers of the service over HTTP (their addresses from faust's
partition assignor, which every member's assignment carries: `PN_WEB_ADVERTISED_URL`):

- `local` (the default): the worker's own answer is the whole answer: views over a global store
  (shared/runtime/global_store.py), over the topics (reports), or that only publish (POST).
- `any`: a lookup by key. The worker answers itself when it holds the key; on its 404 it asks
  every other worker (header `pn-peer: 1`: answer from your own data, ask nobody) and returns the
  first answer that is not a 404. Partitioner-agnostic on purpose: our stores are partitioned by
  the *input* topic's key and the upstream producer's partitioner (librdkafka's default is not
  murmur2), not by a hash of the store key, so asking is right where computing the owner could
  be wrong. A 404 only when every worker answered 404; 503 (retry) when one did not answer.
- `all`: an aggregate (sums, lists). Every worker answers for the partitions it is *active* for
  (faust iterates active partitions only; a key read may also hit a standby copy), and
  `merge(bodies)` combines them. Every answer carries the worker's consumer generation
  (`pn-generation`); answers of different generations (a rebalance under way) or a worker that
  did not answer make it a 503 with Retry-After, never a sum counted twice or short.

Audit (shared/web/gate.py): a read is audited by the worker that serves the data, once: for
`any` that is the peer that found it (the asking worker does not audit the forwarded answer
again), for `all` each worker audits its share.

The combining rules are pure (`first_found`, `merged`; tests/unit/shared/test_views.py); the
HTTP calls are `ask_peers`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from shared.web.gate import WebResponse

LOCAL, ANY, ALL = "local", "any", "all"
SPREADS = (LOCAL, ANY, ALL)
PEER_HEADER = "pn-peer"
"""A request one worker of a service sends another: answer from your own data only."""
GENERATION_HEADER = "pn-generation"
"""The consumer generation a worker answered in (the group's, the same on every member)."""
PEER_TIMEOUT_S = 5.0
RETRY = {"Retry-After": "1"}


@dataclass(frozen=True)
class Answer:
    """One worker's answer to a peer request (status 0: it did not answer)."""

    status: int
    body: Any = None
    content: bytes | None = None
    content_type: str = "application/json"
    generation: int | None = None

    def response(self) -> WebResponse:
        if self.content is not None:
            return WebResponse(self.status, content=self.content, content_type=self.content_type, audited=True)
        return WebResponse(self.status, self.body, audited=True)


def unavailable(detail: str) -> WebResponse:
    return WebResponse(503, {"error": "unavailable", "detail": detail}, headers=dict(RETRY))


def first_found(local: WebResponse, peers: Sequence[Answer]) -> WebResponse:
    """`any`: the local answer unless it is a 404; else the first peer's that is not."""
    if local.status != 404:
        return local
    for answer in peers:
        if answer.status != 404 and 200 <= answer.status < 300:
            return answer.response()
    if any(answer.status == 0 or answer.status >= 500 for answer in peers):
        return unavailable("a worker of this service that may hold it did not answer; retry")
    return local


def merged(local: Any, generation: int | None, peers: Sequence[Answer],
           merge: Callable[[list[Any]], Any], *, local_found: bool = True) -> WebResponse:
    """`all`: the merged bodies of every worker, or a 503 when they do not add up to one view.
    A 404 is a worker's empty part (it holds none of what was asked: a one-partition registry
    lives on one worker); 404 only when every part was empty (`local_found=False` and every peer
    404). A worker that did not answer, or answered otherwise, makes it a 503."""
    if any(answer.status not in (200, 404) for answer in peers):
        return unavailable("a worker of this service did not answer; retry")
    if any(answer.generation != generation for answer in peers):
        return unavailable("the service's partitions are being reassigned; retry")
    bodies = ([local] if local_found else []) + [answer.body for answer in peers if answer.status == 200]
    if not bodies:
        return WebResponse(404, {"error": "not_found", "detail": "no worker of this service holds it"}, audited=True)
    return WebResponse(200, merge(bodies))


def peer_urls(app: Any) -> list[str]:
    """The web addresses of the other members of the service's group, from the assignment
    faust's assignor hands every member (each member's `canonical_url`)."""
    own = str(app.conf.canonical_url)
    members = set(app.router.tables_metadata()) | set(app.router.external_topics_metadata())
    return sorted(url for url in members if url != own)


async def ask_peers(app: Any, urls: Sequence[str], path_qs: str, headers: Mapping[str, str], *,
                    timeout_s: float = PEER_TIMEOUT_S) -> list[Answer]:
    """GET `path_qs` from every worker in `urls` at once, with the caller's Authorization."""
    forwarded = {PEER_HEADER: "1"}
    auth = headers.get("Authorization") or headers.get("authorization")
    if auth:
        forwarded["Authorization"] = auth
    return list(await asyncio.gather(*(_ask(app, url, path_qs, forwarded, timeout_s) for url in urls)))


async def _ask(app: Any, url: str, path_qs: str, headers: Mapping[str, str], timeout_s: float) -> Answer:
    import aiohttp

    try:
        async with app.http_client.get(url.rstrip("/") + path_qs, headers=dict(headers),
                                       timeout=aiohttp.ClientTimeout(total=timeout_s)) as response:
            raw = await response.read()
            generation = response.headers.get(GENERATION_HEADER)
            gen = int(generation) if generation and generation.lstrip("-").isdigit() else None
            if response.content_type == "application/json":
                return Answer(response.status, json.loads(raw) if raw else None, generation=gen)
            return Answer(response.status, content=raw, content_type=response.content_type, generation=gen)
    except (TimeoutError, aiohttp.ClientError, ValueError, OSError):
        return Answer(0)
