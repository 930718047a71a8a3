"""The event contract: payments, customer profiles and chargebacks, each defined once.

Every other representation derives from the dataclasses below: the JSON carried by Kafka
(`to_json` / `parse`), the Arrow schema of the Parquet lake (`arrow_schema`) and the SQL column
types of PostgreSQL tables and dbt sources (`sql_columns`). `parse` never raises on bad input: it
returns either a record or a `Rejection` with a precise reason, which is what the dead-letter topic
carries.

Schema versions: 1 is the first. A change that adds a nullable field keeps the version (readers
ignore fields they do not know); any other change bumps it, and `parse` rejects versions it does
not know.
"""

from __future__ import annotations

import dataclasses
import hashlib
import ipaddress
import json
import re
import time
import typing
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar, Generic, TypeVar

import orjson

SCHEMA_VERSION = 1
MAX_FUTURE_MS = 5 * 60 * 1000
"""Clock skew tolerated on event_time; later events are rejected as far-future."""

CURRENCIES = ("EUR", "USD", "GBP", "PLN", "CHF", "SEK", "CZK")
PAYMENT_STATUSES = ("succeeded", "failed")
FAILURE_REASONS = (
    "insufficient_funds",
    "card_declined",
    "incorrect_cvc",
    "expired_card",
    "do_not_honor",
    "processing_error",
)
PAYMENT_METHODS = ("card", "paypal", "apple_pay", "google_pay", "bank_transfer")
DEVICE_TYPES = ("ios", "android", "web")
CHARGEBACK_REASONS = ("fraudulent", "unrecognized", "product_not_received", "not_as_described")


def _enum(*choices: str, doc: str = "") -> Any:
    return field(metadata={"choices": choices, "doc": doc})


def _doc(doc: str, **extra: Any) -> Any:
    return field(metadata={"doc": doc, **extra})


TIMESTAMP_MS = {"timestamp_ms": True}


@dataclass(frozen=True, slots=True)
class Payment:
    """One payment attempt. Kafka topic `payments`, keyed by customer_id."""

    TOPIC: ClassVar[str] = "payments"
    KEY: ClassVar[str] = "customer_id"

    payment_id: str = _doc("unique id of this payment attempt")
    order_id: str = _doc("the shop order it pays for (retries share it)")
    customer_id: str = _doc("the paying customer; the Kafka key")
    merchant_id: str = _doc("the merchant (shop or marketplace seller) paid")
    amount: Decimal = _doc("amount in `currency`, > 0, two decimals")
    currency: str = _enum(*CURRENCIES, doc="ISO 4217 code")
    status: str = _enum(*PAYMENT_STATUSES, doc="outcome at the payment provider")
    failure_reason: str | None = _doc(
        "why it failed; set exactly when status is failed", choices=FAILURE_REASONS
    )
    payment_method: str = _enum(*PAYMENT_METHODS)
    device_type: str = _enum(*DEVICE_TYPES)
    device_fingerprint: str = _doc("stable hash of the device/browser")
    ip_address: str = _doc("IPv4 or IPv6 address the payment came from")
    ip_country: str = _doc("ISO 3166-1 alpha-2 country of the IP address", country=True)
    utm_source: str | None = _doc("marketing source; null with a null referrer means direct traffic")
    referrer: str | None = _doc("referring site; null with a null utm_source means direct traffic")
    event_time: int = _doc("when the payment happened, UTC epoch milliseconds", **TIMESTAMP_MS)
    schema_version: int = _doc("contract version of this record")


@dataclass(frozen=True, slots=True)
class CustomerProfile:
    """A customer as the shop knows it. PostgreSQL `ops.customer_profiles`, one row per customer."""

    TABLE: ClassVar[str] = "ops.customer_profiles"
    KEY: ClassVar[str] = "customer_id"

    customer_id: str = _doc("the customer")
    country: str = _doc("ISO 3166-1 alpha-2 billing/home country", country=True)
    timezone: str = _doc("IANA time zone of the customer, for local-hour rules")
    registered_at: int = _doc("account registration, UTC epoch milliseconds", **TIMESTAMP_MS)
    email_domain: str = _doc("domain of the customer's e-mail address")
    schema_version: int = _doc("contract version of this record")


@dataclass(frozen=True, slots=True)
class Chargeback:
    """A dispute reported by the card issuer: the fraud label. Kafka topic `chargebacks`."""

    TOPIC: ClassVar[str] = "chargebacks"
    KEY: ClassVar[str] = "customer_id"

    payment_id: str = _doc("the disputed payment")
    customer_id: str = _doc("the customer of that payment; the Kafka key")
    amount: Decimal = _doc("disputed amount")
    currency: str = _enum(*CURRENCIES)
    reason: str = _enum(*CHARGEBACK_REASONS)
    reported_at: int = _doc("when the issuer reported it, UTC epoch milliseconds", **TIMESTAMP_MS)
    schema_version: int = _doc("contract version of this record")


SEVERITIES = ("LOW", "MEDIUM", "HIGH")


@dataclass(frozen=True, slots=True)
class Decision:
    """The scoring verdict on one payment. Kafka topic `payment-scores` (alerts also go to `fraud-alerts`)."""

    TOPIC: ClassVar[str] = "payment-scores"
    KEY: ClassVar[str] = "customer_id"

    payment_id: str = _doc("the scored payment")
    customer_id: str = _doc("its customer; the Kafka key")
    score: int = _doc("sum of the points of the rules that fired, capped (0-100)")
    severity: str = _enum(*SEVERITIES, doc="LOW < 60 <= MEDIUM < 80 <= HIGH (thresholds in the rules file)")
    is_alert: bool = _doc("score at or above the alert threshold, or an always-alert rule fired")
    reasons: tuple[str, ...] = _doc(
        "each rule that fired with the values that fired it, e.g. `VELOCITY: 3 payments in 4m 10s`"
    )
    rules_version: str = _doc("version of the rules file that decided")
    event_time: int = _doc("the payment's event time, UTC epoch milliseconds", **TIMESTAMP_MS)
    scored_at: int = _doc("when the decision was made, UTC epoch milliseconds", **TIMESTAMP_MS)
    schema_version: int = _doc("contract version of this record")


@dataclass(frozen=True, slots=True)
class Alert(Decision):
    """A decision that alerts, with what an analyst needs first. Kafka topic `fraud-alerts`."""

    TOPIC: ClassVar[str] = "fraud-alerts"

    alert_id: str = _doc("alert_id_of(payment_id, rules_version): the same payment and rules, the same id")
    amount: Decimal = _doc("the payment's amount")
    currency: str = _enum(*CURRENCIES)
    merchant_id: str = _doc("the merchant paid")


def alert_id_of(payment_id: str, rules_version: str) -> str:
    """Deterministic, so a replayed or re-delivered alert is recognisably the same one."""
    return hashlib.sha256(f"{payment_id}:{rules_version}".encode()).hexdigest()[:32]


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """Input the scoring job could not score, and why. Kafka topic `payments-dlq`, keyed as the input was;
    the record's Kafka timestamp is the input's."""

    TOPIC: ClassVar[str] = "payments-dlq"

    reason: str = _doc("why: the contract's parse error, or lateness beyond the out-of-order bound")
    raw_base64: str = _doc("the input's value, byte for byte, in Base64")
    source_topic: str = _doc("where the input was read")
    source_partition: int = _doc("its partition")
    source_offset: int = _doc("its offset")
    schema_version: int = _doc("contract version of this record")


@dataclass(frozen=True, slots=True)
class GroundTruth:
    """What really happened to one simulated payment: the simulator's `--truth-out` file, and Kafka
    topic `ground-truth` when it feeds the platform (the per-scenario labels of detection quality)."""

    TOPIC: ClassVar[str] = "ground-truth"
    KEY: ClassVar[str] = "customer_id"

    payment_id: str = _doc("the payment")
    customer_id: str = _doc("its customer")
    is_fraud: bool = _doc("whether the payment was fraud")
    scenario: str = _doc("the fraud scenario, or the legitimate persona (`legit`, `legit_night_owl`, ...)")
    event_time: int = _doc("the payment's event time, UTC epoch milliseconds", **TIMESTAMP_MS)
    schema_version: int = _doc("contract version of this record")


R = TypeVar("R", Payment, CustomerProfile, Chargeback, Decision, Alert, DeadLetter, GroundTruth)


@dataclass(frozen=True, slots=True)
class Rejection:
    """Input that is not a valid record, and exactly why."""

    reason: str
    raw: bytes


@dataclass(frozen=True)
class Column:
    """One field of a record as every representation sees it."""

    name: str
    py_type: type
    nullable: bool
    choices: tuple[str, ...] | None
    doc: str
    timestamp_ms: bool
    country: bool


class RecordType(Generic[R]):
    """Derives JSON, Arrow and SQL forms of one record dataclass, and parses it."""

    def __init__(self, cls: type[R]) -> None:
        self.cls: type[R] = cls
        hints = typing.get_type_hints(cls)
        self.columns: tuple[Column, ...] = tuple(
            self._column(f, hints[f.name]) for f in dataclasses.fields(cls)
        )
        self.names = tuple(c.name for c in self.columns)

    @staticmethod
    def _column(f: dataclasses.Field[Any], hint: Any) -> Column:
        args = typing.get_args(hint)
        nullable = type(None) in args
        py_type = next(a for a in args if a is not type(None)) if nullable else hint
        if typing.get_origin(py_type) is tuple:  # tuple[str, ...]: a list of strings
            py_type = tuple
        meta = f.metadata
        return Column(
            name=f.name,
            py_type=py_type,
            nullable=nullable,
            choices=meta.get("choices"),
            doc=meta.get("doc", ""),
            timestamp_ms=bool(meta.get("timestamp_ms")),
            country=bool(meta.get("country")),
        )

    # --- JSON -------------------------------------------------------------------------------
    def to_json(self, record: R) -> bytes:
        """Compact JSON, fields in definition order (orjson: ~4x faster than json on the hot path)."""
        return orjson.dumps(record, default=_json_default)

    def parse(self, raw: bytes | str, *, now_ms: int | None = None) -> R | Rejection:
        """A valid record, or a Rejection naming the first problem found."""
        values = self.parse_values(raw, now_ms=now_ms)
        if isinstance(values, Rejection):
            return values
        record: R = self.cls(*values)
        return record

    def parse_values(self, raw: bytes | str, *, now_ms: int | None = None) -> tuple[Any, ...] | Rejection:
        """`parse` without building the record: the field values in definition order (the streaming
        job's parse UDF hands them to Flink as a row)."""
        data = raw.encode() if isinstance(raw, str) else raw
        obj = _loads(data)
        if isinstance(obj, Rejection):
            return obj
        if not isinstance(obj, dict):
            return Rejection(f"expected a JSON object, got {type(obj).__name__}", data)
        return self._values(obj, data, now_ms)

    def from_dict(self, obj: dict[str, Any], *, raw: bytes = b"", now_ms: int | None = None) -> R | Rejection:
        values = self._values(obj, raw, now_ms)
        if isinstance(values, Rejection):
            return values
        record: R = self.cls(*values)
        return record

    def _values(self, obj: dict[str, Any], raw: bytes, now_ms: int | None) -> tuple[Any, ...] | Rejection:
        version = obj.get("schema_version")
        if version is not None and version != SCHEMA_VERSION and not isinstance(version, bool):
            return Rejection(
                f"unsupported schema_version {version!r} (this reader knows {SCHEMA_VERSION})", raw
            )
        values: list[Any] = []
        for column in self.columns:
            if column.name not in obj:
                if column.nullable:
                    values.append(None)
                    continue
                return Rejection(f"missing field '{column.name}'", raw)
            problem, value = _check(column, obj[column.name], now_ms)
            if problem:
                return Rejection(f"field '{column.name}': {problem}", raw)
            values.append(value)
        problem = _cross_check(self.cls, dict(zip(self.names, values, strict=True)))
        if problem:
            return Rejection(problem, raw)
        return tuple(values)

    # --- Arrow / Parquet --------------------------------------------------------------------
    def arrow_schema(self) -> Any:
        """The pyarrow schema of this record (pyarrow is imported only when asked for)."""
        import pyarrow as pa

        def arrow_type(column: Column) -> Any:
            if column.timestamp_ms:
                return pa.timestamp("ms", tz="UTC")
            return {
                str: pa.string(),
                int: pa.int64(),
                Decimal: pa.decimal128(12, 2),
                bool: pa.bool_(),
                tuple: pa.list_(pa.string()),
            }[column.py_type]

        return pa.schema(
            [
                pa.field(c.name, arrow_type(c), nullable=c.nullable, metadata={"doc": c.doc})
                for c in self.columns
            ],
            metadata={"record": self.cls.__name__, "schema_version": str(SCHEMA_VERSION)},
        )

    def to_arrow(self, records: typing.Iterable[R]) -> Any:
        import pyarrow as pa

        rows = list(records)
        columns = {name: [getattr(r, name) for r in rows] for name in self.names}
        return pa.Table.from_pydict(columns, schema=self.arrow_schema())

    def from_arrow(self, table: Any) -> list[R]:
        result = []
        for row in table.to_pylist():
            for column in self.columns:
                if column.timestamp_ms and row[column.name] is not None:
                    row[column.name] = int(row[column.name].timestamp() * 1000)
                elif column.py_type is tuple and row[column.name] is not None:
                    row[column.name] = tuple(row[column.name])
            result.append(self.cls(**row))
        return result

    # --- SQL --------------------------------------------------------------------------------
    def sql_columns(self) -> dict[str, str]:
        """PostgreSQL column types, as dbt sources and DDL use them."""

        def sql_type(column: Column) -> str:
            if column.timestamp_ms:
                return "timestamptz"
            return {str: "text", int: "bigint", Decimal: "numeric(12,2)", bool: "boolean", tuple: "text[]"}[
                column.py_type
            ]

        return {c.name: sql_type(c) + ("" if c.nullable else " not null") for c in self.columns}


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


_JSON_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    Decimal: "a number",
    bool: "a boolean",
    tuple: "an array",
}


_IPV4 = re.compile(r"(?:(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)")
"""What ipaddress accepts as IPv4 (no leading zeros); anything else is left to ipaddress."""


def _loads(data: bytes) -> Any:
    """Parsed JSON with every number that has a fraction as an exact Decimal, or a Rejection.

    orjson is ~5x faster than json but reads fractions as binary doubles, which can hide digits
    (1.0000000000000001 becomes 1.0): each such number is re-read exactly from its own text. When
    that text cannot be found unambiguously (spacing, escapes, duplicate keys), or orjson fails
    (NaN, huge integers, bad JSON), json with Decimal floats parses the whole document and words
    the error."""
    try:
        obj = orjson.loads(data)
    except orjson.JSONDecodeError:
        obj = None
    else:
        if not isinstance(obj, dict):
            return obj
        for key, value in obj.items():
            if type(value) is float:
                exact = _number_text(data, key)
                if exact is None:
                    break
                obj[key] = exact
        else:
            return obj
    try:
        return json.loads(data, parse_float=Decimal)
    except (ValueError, UnicodeDecodeError) as exc:
        return Rejection(f"invalid JSON: {exc}", data)


def _number_text(data: bytes, key: str) -> Decimal | None:
    """The number after `"key":` in `data`, exactly, if the key occurs once in that plain form."""
    marker = b'"' + key.encode() + b'":'
    at = data.find(marker)
    if at < 0 or data.find(marker, at + 1) >= 0:
        return None
    start = at + len(marker)
    ends = [i for i in (data.find(b",", start), data.find(b"}", start)) if i >= 0]
    try:
        return Decimal(data[start : min(ends, default=len(data))].strip().decode())
    except (InvalidOperation, UnicodeDecodeError):
        return None


def _check(column: Column, value: Any, now_ms: int | None) -> tuple[str | None, Any]:
    """(problem, normalised value) for one field."""
    kind = type(value)
    if kind is str and value and column.py_type is str:  # the common valid cases first
        if column.choices is not None:
            if value in column.choices:
                return None, value
        elif column.country:
            if len(value) == 2 and value.isascii() and value.isalpha() and value.isupper():
                return None, value
        elif column.name != "ip_address" or _IPV4.fullmatch(value):
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
        return None, tuple(value)
    if expected is int and (isinstance(value, bool) or not isinstance(value, int)):
        return f"expected an integer, got {_json_name(value)}", None
    if expected is str and not isinstance(value, str):
        return f"expected a string, got {_json_name(value)}", None
    if column.choices is not None and value not in column.choices:
        return f"unknown value {value!r} (expected one of {', '.join(column.choices)})", None
    if expected is str and value == "":
        return "must not be empty", None
    if column.country and not (len(value) == 2 and value.isascii() and value.isalpha() and value.isupper()):
        return f"expected an ISO 3166 alpha-2 country code, got {value!r}", None
    if column.name == "ip_address":
        try:
            ipaddress.ip_address(value)
        except ValueError:
            return f"not an IP address: {value!r}", None
    if column.timestamp_ms:
        return _check_timestamp(value, now_ms)
    return None, value


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
    if value < 946_684_800_000:  # 2000-01-01: earlier is a unit mistake (seconds), not a payment
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


PAYMENT = RecordType(Payment)
CUSTOMER_PROFILE = RecordType(CustomerProfile)
CHARGEBACK = RecordType(Chargeback)
DECISION = RecordType(Decision)
ALERT = RecordType(Alert)
DEAD_LETTER = RecordType(DeadLetter)
GROUND_TRUTH = RecordType(GroundTruth)


def markdown() -> str:
    """The contract as a documentation page (docs/contract.md is this output; a test keeps it so)."""
    lines = [
        "# The event contract",
        "",
        f"Schema version {SCHEMA_VERSION}. Generated from `src/fraudlake/contract.py` by",
        "`python -m fraudlake.contract > docs/contract.md`; do not edit by hand.",
        "",
        "JSON carries money as a number with at most two decimals and times as UTC epoch",
        "milliseconds; Parquet uses `decimal(12,2)` and `timestamp[ms, UTC]`; PostgreSQL uses",
        "`numeric(12,2)` and `timestamptz`. A reader ignores fields it does not know and rejects",
        "a `schema_version` it does not know.",
    ]
    for record_type in (PAYMENT, CUSTOMER_PROFILE, CHARGEBACK, DECISION, ALERT, DEAD_LETTER, GROUND_TRUTH):
        cls = record_type.cls
        lines += ["", f"## {cls.__name__}", "", (cls.__doc__ or "").strip(), ""]
        lines += ["| field | JSON | Parquet | SQL | allowed values / notes |", "|---|---|---|---|---|"]
        arrow = record_type.arrow_schema()
        sql_types = record_type.sql_columns()
        for column in record_type.columns:
            json_type = _JSON_TYPE_NAMES[column.py_type].split()[-1] + (" or null" if column.nullable else "")
            notes = ", ".join(column.choices) if column.choices else ""
            notes = f"{notes}; {column.doc}" if notes and column.doc else notes or column.doc
            lines.append(
                f"| `{column.name}` | {json_type} | `{arrow.field(column.name).type}` | "
                f"`{sql_types[column.name]}` | {notes} |"
            )
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
