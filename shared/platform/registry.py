"""Which services exist: the specs registered under the `patientnamnd.services` entry points.

A service registers itself with one line in pyproject.toml,

    [project.entry-points."patientnamnd.services"]
    fees = "services.fees.spec:SPEC"

so shared/ never imports a service, and a sixth service is its folder plus that line (then
`pip install -e .` again, which `make` does when pyproject.toml changes). The order of the
platform (`pn up`, docs) is the order of the services' ports.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata
from typing import Any

from shared.service.settings import PnSettings
from shared.service.spec import ServiceSpec

GROUP = "patientnamnd.services"


class ServiceNotAvailable(LookupError):
    pass


@cache
def specs() -> dict[str, ServiceSpec]:
    """Every registered service by name, in port order."""
    found = {}
    for entry in metadata.entry_points(group=GROUP):
        spec = entry.load()
        if not isinstance(spec, ServiceSpec) or spec.name != entry.name:
            raise ServiceNotAvailable(f"entry point {entry.name} = {entry.value} is not the ServiceSpec of {entry.name}")
        found[spec.name] = spec
    if not found:
        raise ServiceNotAvailable(f"no services registered under the {GROUP!r} entry points: install "
                                  "the project (`make` or `pip install -e .`)")
    return dict(sorted(found.items(), key=lambda item: item[1].port))


def names() -> tuple[str, ...]:
    return tuple(specs())


def spec(name: str) -> ServiceSpec:
    try:
        return specs()[name]
    except KeyError:
        raise ServiceNotAvailable(f"unknown service {name!r}; services: {', '.join(specs())}") from None


def settings_for(name: str) -> PnSettings:
    """The service's own settings class (services/<name>/settings.py) read from the environment."""
    return spec(name).read_settings()


def create_app(name: str, settings: PnSettings | None = None) -> Any:
    return spec(name).create_app(settings)
