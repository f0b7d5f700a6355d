"""The OpenAPI document of every service, built offline from its real wiring (no broker is
contacted): what `pn schema` writes to docs/contract/openapi/ and a unit test compares."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from shared.platform.registry import create_app, names, settings_for
from shared.web.auth import new_token
from shared.web.openapi import openapi_document


def service_document(name: str) -> dict[str, Any]:
    """Build the service's app offline (no broker is contacted) and return its document."""
    with tempfile.TemporaryDirectory() as tmp:
        settings = settings_for(name)
        rules = settings.rules_dir if Path(settings.rules_dir).is_dir() else Path(__file__).parents[2] / "rules"
        _, entry = new_token("openapi", "ops")  # a throwaway token: no "no tokens" warning while documenting
        settings = settings.model_copy(update={"data_dir": Path(tmp), "store": "memory", "rules_dir": rules,
                                               "tokens": SecretStr(entry.line())})
        app = create_app(name, settings)
        return openapi_document(app.pn_runtime)


def write_openapi(out_dir: Path) -> list[Path]:
    """docs/contract/openapi/<service>.json for every service."""
    folder = Path(out_dir) / "openapi"
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name in names():
        path = folder / f"{name}.json"
        path.write_text(json.dumps(service_document(name), indent=2, ensure_ascii=False) + "\n")
        written.append(path)
    return written
