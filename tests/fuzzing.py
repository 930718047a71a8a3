"""Hypothesis strategies for bad input at the platform's edges: mutated payments as Kafka carries
them, mutated rules documents, mutated environment values.

A mutation starts from something valid and breaks it the ways producers, editors and operators do:
a field set to another JSON value (wrong type, huge number, control characters, lone surrogates,
near-valid amounts and times), a field dropped or added, another encoding or layout of the JSON
text, bytes flipped, inserted, deleted or cut off.
"""

from __future__ import annotations

import json
import time
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from fraudlake.contract import PAYMENT
from tests.factories import payment

NOW_MS = int(time.time() * 1000)
"""The Kafka timestamp of every fuzzed record (the contract checks event times against it)."""

_TEXT = st.text(
    st.characters(categories=["L", "N", "P", "S", "Z", "Cc", "Cf", "Cs", "Co"]), max_size=12
) | st.sampled_from(["", " ", "EUR", "eur", "DE", "de", "D", "succeeded", "failed", "card", "ios", "::1"])
_NUMBERS = (
    st.integers(-(2**70), 2**70)
    | st.integers(-3, 3)
    | st.sampled_from([946_684_799_999, NOW_MS, NOW_MS + 300_000, NOW_MS + 300_001, 2**63 - 1, 2**63])
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.decimals(allow_nan=False, allow_infinity=False, places=3, min_value=-(10**11), max_value=10**11)
)
_SCALARS = st.none() | st.booleans() | _TEXT | _NUMBERS
JSON_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_TEXT, inner, max_size=3),
    max_leaves=6,
)
"""Any JSON value, weighted to what breaks a field: wrong types, edges of ranges, odd characters."""

_FIELDS = PAYMENT.names


def _valid(draw: st.DrawFn) -> dict[str, Any]:
    failed = draw(st.booleans())
    record = payment(
        payment_id=f"pay-{draw(st.integers(0, 10**6))}",
        amount=draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("99999.99"), places=2)),
        status="failed" if failed else "succeeded",
        failure_reason="insufficient_funds" if failed else None,
        ip_address=draw(st.sampled_from(["10.0.0.1", "2001:db8::1", "192.168.1.255"])),
        event_time=NOW_MS - draw(st.integers(0, 30 * 86_400_000)),
    )
    return json.loads(PAYMENT.to_json(record))


def _mutated_fields(draw: st.DrawFn, fields: dict[str, Any]) -> dict[str, Any]:
    for _ in range(draw(st.integers(0, 3))):
        action = draw(st.sampled_from(["set", "set", "drop", "add"]))
        if action == "add":
            fields[draw(_TEXT)] = draw(JSON_VALUES)
        elif fields:
            name = draw(st.sampled_from(sorted(fields)))
            if action == "drop":
                del fields[name]
            else:
                fields[name] = draw(JSON_VALUES)
    return fields


def _encoded(draw: st.DrawFn, fields: Any) -> bytes:
    layout = draw(
        st.sampled_from(["compact", "spaced", "indented", "crlf", "unicode", "utf16", "not-object"])
    )
    if layout == "not-object":
        fields = list(fields.values()) if draw(st.booleans()) else draw(JSON_VALUES)
    text = json.dumps(
        fields,
        default=str,
        separators=(",", ":") if layout == "compact" else None,
        indent=1 if layout in ("indented", "crlf") else None,
        ensure_ascii=layout != "unicode",
    )
    if layout == "crlf":
        text = text.replace("\n", "\r\n")
    if layout == "utf16":
        return text.encode("utf-16")
    return text.encode("utf-8", "surrogatepass")


def _mutated_bytes(draw: st.DrawFn, data: bytes) -> bytes:
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        at = draw(st.integers(0, len(data)))
        action = draw(st.sampled_from(["flip", "insert", "delete", "truncate"]))
        if action == "truncate":
            data = data[:at]
        elif action == "insert":
            data = data[:at] + draw(st.binary(min_size=1, max_size=3)) + data[at:]
        elif at < len(data):
            byte = bytes([data[at] ^ draw(st.integers(1, 255))]) if action == "flip" else b""
            data = data[:at] + byte + data[at + 1 :]
    return data


@st.composite
def payment_payloads(draw: st.DrawFn) -> bytes:
    """One Kafka value for `payments`: valid, or valid once and then broken."""
    fields = _mutated_fields(draw, _valid(draw))
    return _mutated_bytes(draw, _encoded(draw, fields))


@st.composite
def rules_documents(draw: st.DrawFn, valid: dict[str, Any]) -> Any:
    """A rules document as YAML loads it: `valid` with a few values set, dropped or added anywhere."""
    document = json.loads(json.dumps(valid))
    for _ in range(draw(st.integers(1, 3))):
        parent, key = _somewhere(draw, document)
        action = draw(st.sampled_from(["set", "set", "drop", "add"]))
        if action == "drop" and isinstance(parent, dict) and key in parent:
            del parent[key]
        elif action == "add" and isinstance(parent, dict):
            parent[draw(_TEXT | st.integers(-2, 2))] = draw(JSON_VALUES)
        elif isinstance(parent, dict) or (isinstance(parent, list) and parent):
            parent[key if isinstance(parent, dict) else 0] = draw(JSON_VALUES | st.integers(-200, 200))
    return document


def _somewhere(draw: st.DrawFn, document: dict[str, Any]) -> tuple[Any, Any]:
    """A (container, key) pair of `document`, at any depth."""
    parent: Any = document
    key = draw(st.sampled_from(list(document)))
    while isinstance(parent[key], dict | list) and parent[key] and draw(st.booleans()):
        parent = parent[key]
        key = draw(st.sampled_from(list(parent))) if isinstance(parent, dict) else 0
    return parent, key


ENV_VALUES = (
    st.text(st.characters(exclude_characters="\x00", exclude_categories=["Cs"]), max_size=12)
    | st.integers(-(2**40), 2**40).map(str)
    | st.sampled_from(
        ["0", "-1", "65536", "1e3", " 8 ", "true", "yes", "localhost", "/", "~/x", "512m", "2g"]
    )
)
"""What an operator may put in a variable (no NUL: an environment cannot carry one)."""
