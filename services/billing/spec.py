"""The billing service as the platform sees it: name, port, inputs, settings, composition root."""

from __future__ import annotations

from shared.contract.topics import BILLING_DAYS, BILLING_DRAFTS, CARE_DAYS, COMMANDS
from shared.service.spec import ServiceSpec

from .settings import Settings

SPEC = ServiceSpec(
    name="billing",
    port=6064,
    summary="care days of out-of-region patients in compulsory care billed to their home region, monthly invoices with credits",
    inputs=(CARE_DAYS, BILLING_DAYS, COMMANDS, BILLING_DRAFTS),
    settings=Settings,
    app="services.billing.app:create_app",
)
