"""The contract's records: payments, customer profiles, chargebacks, decisions, alerts, dead
letters and ground truth, each defined once as a dataclass with its fields' docs and allowed values.

Every other form derives from them (package `fraudlake.contract`): JSON (`jsonform.py`), the checks
a parsed record passes (`checks.py`), Arrow and SQL (`tabular.py`), the docs page (`docs.py`).
"""

from __future__ import annotations

import dataclasses
import hashlib
import typing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, ClassVar, TypeVar

SCHEMA_VERSION = 1
MAX_FUTURE_MS = 5 * 60 * 1000
"""Clock skew tolerated on event_time; later events are rejected as far-future."""
EARLIEST_MS = 946_684_800_000
"""2000-01-01: an earlier time is a unit mistake (seconds, not milliseconds), not an event."""

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
    severity: str = _enum(
        *SEVERITIES, doc="the score's band in the rules file that decided (its severity bands)"
    )
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


def columns_of(cls: type) -> tuple[Column, ...]:
    """The record's fields as every form sees them."""
    hints = typing.get_type_hints(cls)
    return tuple(_column(f, hints[f.name]) for f in dataclasses.fields(cls))


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
