"""The contract: one definition gives JSON, Arrow and SQL; `parse` rejects bad input precisely."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pytest

from fraudlake.contract import (
    CHARGEBACK,
    CUSTOMER_PROFILE,
    PAYMENT,
    SCHEMA_VERSION,
    Chargeback,
    CustomerProfile,
    Payment,
    RecordType,
    Rejection,
)
from tests.factories import payment

NOW = 1_790_000_000_000

PAYMENT_OK = payment(
    amount=Decimal("129.90"),
    status="failed",
    failure_reason="card_declined",
    device_type="ios",
    ip_address="2001:db8::1",
    utm_source=None,
    referrer="https://www.google.com/",
    event_time=NOW - 1000,
)
PROFILE_OK = CustomerProfile("cus-1", "PL", "Europe/Warsaw", NOW - 10**9, "wp.pl", SCHEMA_VERSION)
CHARGEBACK_OK = Chargeback("pay-1", "cus-1", Decimal("129.90"), "EUR", "fraudulent", NOW, SCHEMA_VERSION)


@pytest.mark.parametrize(
    ("record_type", "record"),
    [(PAYMENT, PAYMENT_OK), (CUSTOMER_PROFILE, PROFILE_OK), (CHARGEBACK, CHARGEBACK_OK)],
    ids=["payment", "profile", "chargeback"],
)
def test_round_trip_json_record_arrow_record(record_type: RecordType[Any], record: Any) -> None:
    parsed = record_type.parse(record_type.to_json(record), now_ms=NOW)
    assert parsed == record
    table = record_type.to_arrow([parsed])
    assert table.schema == record_type.arrow_schema()
    assert record_type.from_arrow(table) == [record]


def test_arrow_and_sql_types_follow_the_definition() -> None:
    schema = PAYMENT.arrow_schema()
    assert schema.field("amount").type == pa.decimal128(12, 2)
    assert schema.field("event_time").type == pa.timestamp("ms", tz="UTC")
    assert schema.field("utm_source").nullable and not schema.field("payment_id").nullable
    columns = PAYMENT.sql_columns()
    assert columns["amount"] == "numeric(12,2) not null"
    assert columns["event_time"] == "timestamptz not null"
    assert columns["failure_reason"] == "text"
    assert list(columns) == list(PAYMENT.names)
    assert CUSTOMER_PROFILE.sql_columns()["registered_at"] == "timestamptz not null"


def _payment_json(**changes: Any) -> bytes:
    data = json.loads(PAYMENT.to_json(PAYMENT_OK))
    for key, value in changes.items():
        if value is _DROP:
            del data[key]
        else:
            data[key] = value
    return json.dumps(data).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b'{"payment_id": "pay-1", ', "invalid JSON: "),
        (b"[1, 2]", "expected a JSON object, got list"),
        (_payment_json(amount=_DROP), "missing field 'amount'"),
        (_payment_json(customer_id=None), "field 'customer_id': must not be null"),
        (_payment_json(amount="twelve"), "field 'amount': expected a number, got a string"),
        (_payment_json(event_time="yesterday"), "field 'event_time': expected an integer, got a string"),
        (_payment_json(device_type=7), "field 'device_type': expected a string, got an integer"),
        (_payment_json(amount=-12.5), "field 'amount': must be a positive amount, got -12.5"),
        (_payment_json(amount=0), "field 'amount': must be a positive amount, got 0"),
        (_payment_json(amount=1.234), "field 'amount': has more than two decimals: 1.234"),
        (_payment_json(currency="XYZ"), "field 'currency': unknown value 'XYZ' (expected one of EUR,"),
        (_payment_json(event_time=NOW + 86_400_000), "field 'event_time': 86400s in the future"),
        (_payment_json(event_time=1_790_000_000), "field 'event_time': before 2000-01-01"),
        (_payment_json(ip_address="999.1.1.1"), "field 'ip_address': not an IP address: '999.1.1.1'"),
        (_payment_json(ip_country="Germany"), "field 'ip_country': expected an ISO 3166 alpha-2"),
        (_payment_json(failure_reason=None), "field 'failure_reason': required when status is failed"),
        (_payment_json(status="succeeded"), "field 'failure_reason': must be null when status is succeeded"),
        (_payment_json(failure_reason="bad_luck"), "field 'failure_reason': unknown value 'bad_luck'"),
        (_payment_json(schema_version=2), "unsupported schema_version 2"),
        (_payment_json(payment_id=""), "field 'payment_id': must not be empty"),
    ],
)
def test_parse_rejects_with_precise_reason(raw: bytes, reason: str) -> None:
    result = PAYMENT.parse(raw, now_ms=NOW)
    assert isinstance(result, Rejection)
    assert result.reason.startswith(reason), result.reason
    assert result.raw == raw


def test_unknown_extra_fields_are_ignored_and_nullable_may_be_absent() -> None:
    result = PAYMENT.parse(_payment_json(coupon="X", utm_source=_DROP), now_ms=NOW)
    assert result == PAYMENT_OK


def test_json_amount_keeps_cents_exactly() -> None:
    payment = PAYMENT.parse(_payment_json(amount=0.1), now_ms=NOW)
    assert isinstance(payment, Payment)
    assert payment.amount == Decimal("0.10")


def test_contract_page_is_up_to_date() -> None:
    from pathlib import Path

    from fraudlake.contract import markdown

    page = Path(__file__).resolve().parents[2] / "docs" / "contract.md"
    assert page.read_text() == markdown(), "regenerate: python -m fraudlake.contract > docs/contract.md"


@pytest.mark.parametrize(
    "amount_text",
    [
        "1.0000000000000001",
        "NaN",
        "-Infinity",
        "123456789012345678901234567890",
        "0.001",
        "1e10",
        "0.01",
        "1",
        "129.9",
        "129.90",
        "9999999999.99",
        "42.5",
        '"12.50"',
    ],
)
def test_fast_reader_gives_the_verdict_of_an_exact_decimal_reader(amount_text: str) -> None:
    """orjson reads floats as binary doubles; parse falls back to exact decimals whenever that could
    hide a digit, so every verdict (record or reason) is the one a Decimal JSON reader gives."""
    raw = re.sub(rb'"amount":[^,]+', f'"amount":{amount_text}'.encode(), PAYMENT.to_json(PAYMENT_OK))
    exact = PAYMENT.from_dict(json.loads(raw, parse_float=Decimal), raw=raw, now_ms=NOW)
    assert PAYMENT.parse(raw, now_ms=NOW) == exact


def test_utf8_with_a_byte_order_mark_is_read_and_other_encodings_are_refused() -> None:
    from tests.factories import payment

    valid = PAYMENT.to_json(payment())
    assert PAYMENT.parse(b"\xef\xbb\xbf" + valid, now_ms=1_790_000_000_000) == payment()
    refused = PAYMENT.parse(valid.decode().encode("utf-16"), now_ms=1_790_000_000_000)
    assert isinstance(refused, Rejection) and refused.reason.startswith("invalid JSON: not UTF-8")
