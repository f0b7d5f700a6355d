"""Which services exist, and how `pn` builds one. A service that is not built yet says so."""

from __future__ import annotations

import importlib
from typing import Any

from shared.service.settings import SERVICES, PnSettings


class ServiceNotAvailable(LookupError):
    pass


def available() -> dict[str, bool]:
    """Service name → whether its package is present in this installation."""
    result = {}
    for name in SERVICES:
        try:
            importlib.import_module(f"services.{name}.app")
            result[name] = True
        except ModuleNotFoundError as exc:
            if exc.name and exc.name.startswith(f"services.{name}"):
                result[name] = False
            else:
                raise
    return result


def settings_for(name: str) -> PnSettings:
    """The service's own settings class (services/<name>/settings.py) read from the environment."""
    if name not in SERVICES:
        raise ServiceNotAvailable(f"unknown service {name!r}; services: {', '.join(SERVICES)}")
    try:
        module = importlib.import_module(f"services.{name}.settings")
        return module.Settings()
    except ModuleNotFoundError:
        return PnSettings()


def create_app(name: str, settings: PnSettings | None = None) -> Any:
    if name not in SERVICES:
        raise ServiceNotAvailable(f"unknown service {name!r}; services: {', '.join(SERVICES)}")
    try:
        module = importlib.import_module(f"services.{name}.app")
    except ModuleNotFoundError as exc:
        if exc.name and exc.name.startswith(f"services.{name}"):
            raise ServiceNotAvailable(f"service {name!r} is not implemented yet") from None
        raise
    return module.create_app(settings or settings_for(name))
