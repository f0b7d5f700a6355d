"""What a service's `wire` (services/<name>/app.py) is given: the runtime, as a port.

`ServiceRuntime` (shared/runtime/app.py) is the real one, over faust; `InMemoryRuntime`
(shared/service/testing.py) is the same wiring over dicts and a recording publisher, so a unit
test runs a service's own `wire` instead of a copy of it. Both choose the seen-id store of an
agent's topics the same way (`attach_seen_store`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from shared.contract.topics import Topic
from shared.service.ports import Clock
from shared.service.processor import Handler, Processor
from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec
from shared.service.state import Store


class Wiring(Protocol):
    spec: ServiceSpec
    service: str
    settings: PnSettings
    clock: Clock
    log: Any

    def store(self, name: str, partitions: int) -> Store: ...

    def global_store(self, name: str, topic: Topic) -> Store:
        """Reference data every partition needs: every worker holds all of it (docs/SERVICE_GUIDE.md,
        "Global stores"). Written only by the processor consuming `topic`; read from anywhere."""
        ...

    def processor(self, handlers: Mapping[str, Handler], deps: Any, *,
                  stores: Sequence[Store] | None = None) -> Processor: ...

    def consume(self, *topics: Topic, processor: Processor | None = None, idempotent: bool = False,
                seen_in: Store | None = None) -> None: ...

    def tick_every(self, seconds: float) -> None: ...

    def route(self, method: str, path: str, handler: Any, *, role: str | tuple[str, ...],
              audit: str | None = None, spread: str = "local",
              merge: Callable[[list[Any]], Any] | None = None) -> None:
        """`spread`: where the answer comes from with several workers: `local`, `any` (a lookup;
        on a local 404 the other workers are asked), `all` (every worker's, `merge`d):
        shared/runtime/views.py."""
        ...

    def publisher(self) -> Any: ...


def attach_seen_store(processor: Processor, topics: Sequence[Topic], *, idempotent: bool,
                      seen_in: Store | None, stores: Mapping[str, Store],
                      new_store: Callable[[str, int], Store]) -> None:
    """Where the processor remembers the ids of these topics' events (`stores`: the worker's
    stores by name; `new_store(name, partitions)` makes one).

    `idempotent=True`: the handlers of these topics make a second delivery of an event a no-op by
    their own state (see Processor.use_seen_store): no seen id is stored to skip an event. The ids
    of their public topics are kept with a digest of their content in `ids-p<n>`, only to refuse
    an id used again with other content (Processor.guard_ids; internal ids are ours, derived from
    their cause).
    `seen_in=store`: keep the seen ids in the processor's own (single) store instead of the shared
    seen store. Both then share one changelog partition, where an id comes after the writes of the
    event it marks: a kill -9 during a batch's publish can keep the writes without the id (the
    event is done again) but never the id without the writes (the event would be skipped with its
    effect lost). For handlers whose facts are "the latest value".
    Otherwise the worker's one seen store per partition count, `seen-p<n>`."""
    if len({t.partitions for t in topics}) != 1:
        raise ValueError("topics consumed by one agent must have the same partition count")
    partitions = topics[0].partitions
    if idempotent:
        processor.use_seen_store(topics, None)
        public = [t for t in topics if not t.internal]
        if public:
            name = f"ids-p{partitions}"
            if name in stores and all(stores[name] is not s for s in processor.stores):
                name = f"{name}-{sum(n.startswith(name) for n in stores) + 1}"  # a store has one owning processor
            processor.guard_ids(public, stores[name] if name in stores else new_store(name, partitions))
    elif seen_in is not None:
        processor.use_seen_store(topics, seen_in)
    else:
        name = f"seen-p{partitions}"
        processor.use_seen_store(topics, stores[name] if name in stores else new_store(name, partitions))
