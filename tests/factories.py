"""Valid records for tests: change only what a test is about."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

from fraudlake.contract import SCHEMA_VERSION, Payment

_BASE = Payment(
    payment_id="pay-1",
    order_id="ord-1",
    customer_id="cus-1",
    merchant_id="mer-1",
    amount=Decimal("50.00"),
    currency="EUR",
    status="succeeded",
    failure_reason=None,
    payment_method="card",
    device_type="web",
    device_fingerprint="fp-home",
    ip_address="10.0.0.1",
    ip_country="DE",
    utm_source="google",
    referrer=None,
    event_time=1_790_000_000_000,
    schema_version=SCHEMA_VERSION,
)


def payment(**changes: Any) -> Payment:
    return replace(_BASE, **changes)
