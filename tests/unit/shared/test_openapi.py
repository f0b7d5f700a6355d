"""The OpenAPI 3.1 documents (issue 26): generated from each service's routes, committed in
docs/contract/openapi/, valid by openapi-spec-validator, and promising what the gate does."""

from __future__ import annotations

import json

import pytest
from openapi_spec_validator import validate

from shared.cli.openapi import service_document
from shared.platform.registry import names

from ...conftest import ROOT

SERVICES = names()

DOCS = {name: service_document(name) for name in SERVICES}


@pytest.mark.parametrize("name", SERVICES)
def test_the_document_is_valid_openapi_31_and_committed(name):
    doc = DOCS[name]
    validate(doc)  # raises on an invalid document
    assert doc["openapi"].startswith("3.1")
    committed = ROOT / "docs" / "contract" / "openapi" / f"{name}.json"
    assert committed.exists() and json.loads(committed.read_text()) == doc, (
        "regenerate docs/contract: .venv/bin/pn schema --out docs/contract")


@pytest.mark.parametrize("name", SERVICES)
def test_every_protected_view_promises_the_gate(name):
    doc = DOCS[name]
    for path, ops in doc["paths"].items():
        for method, op in ops.items():
            if path in ("/health", "/metrics", "/openapi.json"):
                assert op["security"] == []
                continue
            assert op["security"] == [{"bearer": []}] and op["x-pn-roles"]
            assert {"401", "403"} <= op["responses"].keys()
            for status, response in op["responses"].items():
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], (path, method, status)
            if method == "post":
                assert {"413", "415"} <= op["responses"].keys() and op["requestBody"]["required"]


def test_the_views_are_all_there():
    paths = {name: set(doc["paths"]) - {"/health", "/metrics", "/openapi.json"} for name, doc in DOCS.items()}
    assert paths == {"intake": {"/complaints", "/cases/{case_id}", "/reports/{period}"},
                     "diary": {"/diary", "/diary/export", "/diary/{year}/{n}"},
                     "fees": {"/fees/summary"}, "billing": {"/billing/summary"}, "budget": {"/budget/{year}"}}
    audited = [(n, p) for n, d in DOCS.items() for p, ops in d["paths"].items() for op in ops.values()
               if "503" in op.get("responses", {}) and "audit" in op.get("description", "")]
    assert sorted(audited) == [("diary", "/diary"), ("intake", "/cases/{case_id}")]
