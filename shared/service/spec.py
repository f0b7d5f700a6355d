"""What a service says about itself, once: the one `SPEC` of services/<name>/spec.py.

Everything else derives from it: the registry of `pn` (which services exist, `pn run NAME`,
`pn up`), the web port, the Kafka ACLs of the secure profile (READ on the inputs, WRITE on the
catalog's outputs), `pn services` and the docs check. The spec module stays light (no faust, no
rules compiled): `pn` reads every spec to list the services, and builds only the app it runs.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from shared.contract.topics import CATALOG, Topic
from shared.service.settings import PnSettings


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    """The service's name: its consumer group `pn-<name>`, its Kafka user, its folder."""
    port: int
    """Its HTTP port by default (`PN_WEB_PORT` overrides)."""
    summary: str
    inputs: tuple[Topic, ...]
    """The topics its agents consume (tests/unit/security/test_acl.py holds agents.py to it)."""
    settings: type[PnSettings]
    """Its settings class (services/<name>/settings.py), read from the environment by `pn`."""
    app: str
    """`module:function` of its composition root, `create_app(settings, deps=None)`."""

    @property
    def outputs(self) -> tuple[Topic, ...]:
        """The topics it writes: the catalog names it among their producers (one source)."""
        return tuple(t for t in CATALOG if self.name in t.producers)

    def web_port(self, settings: PnSettings) -> int:
        return settings.web_port or self.port

    def read_settings(self) -> PnSettings:
        return self.settings()

    def composition_root(self) -> Callable[..., Any]:
        module, _, function = self.app.partition(":")
        return getattr(importlib.import_module(module), function)

    def create_app(self, settings: PnSettings | None = None, deps: Any = None) -> Any:
        return self.composition_root()(settings or self.read_settings(), deps)
