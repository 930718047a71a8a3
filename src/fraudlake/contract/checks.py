"""What a record read from outside must satisfy, field by field and across fields; each problem
is worded for the dead-letter topic."""

from __future__ import annotations

import ipaddress
import re
import time
from decimal import Decimal, InvalidOperation
from typing import Any

from fraudlake.contract.records import EARLIEST_MS, MAX_FUTURE_MS, SCHEMA_VERSION, Column, Payment, Rejection
from fraudlake.wording import shown


def values(
    cls: type, columns: tuple[Column, ...], obj: dict[str, Any], raw: bytes, now_ms: int | None
) -> tuple[Any, ...] | Rejection:
    """The record's field values in definition order, or a Rejection naming the first problem."""
    version = obj.get("schema_version")
    if version is not None and version != SCHEMA_VERSION and not isinstance(version, bool):
        return Rejection(
            f"unsupported schema_version {shown(version)} (this reader knows {SCHEMA_VERSION})", raw
        )
    found: list[Any] = []
    suspect = not raw or b"\\" in raw or b"\x7f" in raw
    for column in columns:
        if column.name not in obj:
            if column.nullable:
                found.append(None)
                continue
            return Rejection(f"missing field '{column.name}'", raw)
        problem, value = _check(column, obj[column.name], now_ms, suspect)
        if problem:
            return Rejection(f"field '{column.name}': {problem}", raw)
        found.append(value)
    problem = _cross_check(cls, dict(zip((c.name for c in columns), found, strict=True)))
    if problem:
        return Rejection(problem, raw)
    return tuple(found)


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
"""What ipaddress accepts as IPv4 (no leading zeros); anything else is left to ipaddress."""
_UNSAFE = re.compile(r"[\x00-\x1f\x7f\ud800-\udfff]")
"""Control characters and lone surrogates, which no id or text of a record carries: PostgreSQL's
text refuses NUL, and a lone surrogate has no UTF-8 form (Kafka, Arrow and PostgreSQL need one)."""


def _check(column: Column, value: Any, now_ms: int | None, suspect: bool = True) -> tuple[str | None, Any]:
    """(problem, normalised value) for one field; `suspect`: its text may hold control characters
    or lone surrogates (the JSON it came from has escapes or a DEL byte: raw ones are not JSON)."""
    kind = type(value)
    if kind is str and value and column.py_type is str:  # the common valid cases first
        if column.choices is not None:
            if value in column.choices:
                return None, value
        elif column.country:
            if len(value) == 2 and value.isascii() and value.isalpha() and value.isupper():
                return None, value
        elif (column.name != "ip_address" or _IPV4.fullmatch(value)) and not (
            suspect and _UNSAFE.search(value)
        ):
            return None, value
    elif kind is int and column.py_type is int and not column.timestamp_ms:
        return None, value
    if value is None:
        return (None, None) if column.nullable else ("must not be null", None)
    expected = column.py_type
    if expected is Decimal:
        if isinstance(value, bool) or not isinstance(value, int | Decimal):
            return f"expected a number, got {_json_name(value)}", None
        return _check_money(Decimal(value))
    if expected is bool and not isinstance(value, bool):
        return f"expected a boolean, got {_json_name(value)}", None
    if expected is tuple:
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            return f"expected an array of strings, got {_json_name(value)}", None
        unsafe = next((problem for v in value if (problem := _unsafe(v))), None)
        return (unsafe, None) if unsafe else (None, tuple(value))
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expected an integer, got {_json_name(value)}", None
    if expected is str and not isinstance(value, str):
        return f"expected a string, got {_json_name(value)}", None
    if column.choices is not None and value not in column.choices:
        return f"unknown value {shown(value)} (expected one of {', '.join(column.choices)})", None
    if expected is str and value == "":
        return "must not be empty", None
    if expected is str and (unsafe := _unsafe(value)):
        return unsafe, None
    if column.country and not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
        return f"expected an ISO 3166 alpha-2 country code, got {shown(value)}", None
    if column.name == "ip_address":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"not an IP address: {shown(value)}", None
    if column.timestamp_ms:
        return _check_timestamp(value, now_ms)
    return None, value


def _unsafe(text: str) -> str | None:
    found = _UNSAFE.search(text)
    if found is None:
        return None
    code = ord(found.group())
    return f"character U+{code:04X} at position {found.start()} (no control characters or lone surrogates)"


def _check_money(amount: Decimal) -> tuple[str | None, Any]:
    try:
        if not amount.is_finite() or amount <= 0:
            return f"must be a positive amount, got {amount}", None
        if amount != amount.quantize(Decimal("0.01")):
            return f"has more than two decimals: {amount}", None
        if amount >= Decimal("1e10"):
            return f"is too large: {amount}", None
    except InvalidOperation:
        return f"not a valid amount: {amount}", None
    return None, amount.quantize(Decimal("0.01"))


def _check_timestamp(value: int, now_ms: int | None) -> tuple[str | None, Any]:
    if value < EARLIEST_MS:
        return f"before 2000-01-01 (seconds instead of milliseconds?): {value}", None
    now = int(time.time() * 1000) if now_ms is None else now_ms
    if value > now + MAX_FUTURE_MS:
        return f"{(value - now) / 1000:.0f}s in the future (at most {MAX_FUTURE_MS // 1000}s allowed)", None
    return None, value


def _cross_check(cls: type, values: dict[str, Any]) -> str | None:
    if cls is Payment:
        failed = values["status"] == "failed"
        if failed and values["failure_reason"] is None:
            return "field 'failure_reason': required when status is failed"
        if not failed and values["failure_reason"] is not None:
            return "field 'failure_reason': must be null when status is succeeded"
    return None


def _json_name(value: Any) -> str:
    return {bool: "a boolean", str: "a string", int: "an integer", list: "an array", dict: "an object"}.get(
        type(value), "a number" if isinstance(value, Decimal | float) else type(value).__name__
    )
