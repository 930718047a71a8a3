"""The job's only Python on the hot path: the contract's `parse`, so the DLQ carries its precise reasons.

`parse_row` is plain Python (unit-tested here); `main.py` wraps it as a Flink scalar UDF returning
`PARSED_FIELDS`: the reason (NULL when valid), the raw bytes in Base64 when rejected, and the
payment's fields when valid.
"""

from __future__ import annotations

import base64
from typing import Any

from fraudlake.contract import PAYMENT, Rejection

PARSED_FIELDS: tuple[str, ...] = ("reason", "raw_base64", *PAYMENT.names)
_NO_PAYMENT = (None,) * len(PAYMENT.names)


def parse_row(raw: bytes | None, late_reason: str | None) -> tuple[Any, ...]:
    """(reason, raw_base64, *payment fields): a valid on-time payment has reason None."""
    if raw is None:
        return ("empty record value (tombstone)", "", *_NO_PAYMENT)
    result = PAYMENT.parse_values(raw)
    if isinstance(result, Rejection):
        return (result.reason, base64.b64encode(raw).decode(), *_NO_PAYMENT)
    if late_reason is not None:
        return (late_reason, base64.b64encode(raw).decode(), *_NO_PAYMENT)
    return (None, None, *result)
