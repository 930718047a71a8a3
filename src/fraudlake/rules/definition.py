"""What a rule is: one object holding its id, its parameters' schema, its Python check and its SQL.

The Python check scores a payment in the batch scorer and the backtests; the SQL rendering is the
same rule inside the streaming job. Both sit side by side in one class (see `catalog.py`), so a
rule is written once and the parity test holds each pair to the same answers.

The SQL reads a row with the payment's fields, its features under the names of `Features`
(`prior_payments`, `prior_successes`, `prior_success_sum`, `velocity_span_ms`, `device_seen`),
`local_hour`, and the customer's profile as `profile_customer_id`, `profile_country`,
`profile_timezone`, `profile_registered_ms` (all NULL when the customer is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any, ClassVar, Generic, TypeVar
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict

from fraudlake.contract import CustomerProfile, Payment

DAY_MS = 86_400_000
HOUR_MS = 3_600_000
MINUTE_MS = 60_000


@dataclass(frozen=True, slots=True)
class Features:
    """The customer's context at the moment of one payment (this payment not yet in the history)."""

    profile: CustomerProfile | None
    prior_payments: int
    prior_successes: int
    prior_success_sum: Decimal
    velocity_span_ms: int | None
    """Time from the earliest of the customer's last VELOCITY.min_payments payments (this one
    included) to this one; None while the customer has made fewer."""
    device_seen: bool


@lru_cache(maxsize=512)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def local_hour(event_time_ms: int, timezone: str | None) -> int:
    """The hour of the payment in the customer's time zone (UTC when unknown)."""
    zone = _zone(timezone or "UTC")
    return datetime.fromtimestamp(event_time_ms / 1000, zone).hour


def half_up(value: Decimal, step: str) -> Decimal:
    """Half-up, as Flink SQL's ROUND: reasons read the same in both engines."""
    return value.quantize(Decimal(step), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class SqlRule:
    condition: str
    """A BOOLEAN expression: the rule fires when it is TRUE (NULL does not fire)."""
    detail: str
    """A STRING expression: the text after `RULE_ID: `, evaluated only when the rule fires."""


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def text(expression: str) -> str:
    return f"CAST({expression} AS STRING)"


class Params(BaseModel):
    """A rule's parameters as the rules file sets them: declared, typed, nothing unknown."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


P = TypeVar("P", bound=Params)


class Rule(Generic[P]):
    """One rule of the catalog. Subclasses set `id`, `params` (their schema) and the docstring (the
    rule's documentation), and implement `check` and `sql` over the same parameters."""

    id: ClassVar[str]
    params: ClassVar[type[Params]] = Params
    tuning: ClassVar[dict[str, tuple[Any, ...]]] = {}
    """Values of each parameter a tuning run may try (a parameter absent here keeps its value)."""

    def check(self, params: P, payment: Payment, features: Features) -> str | None:
        """The reason detail (the text after `RULE_ID: `) when the rule fires, else None."""
        raise NotImplementedError

    def sql(self, params: P) -> SqlRule:
        """The same rule as Flink SQL over the job's feature row."""
        raise NotImplementedError

    @classmethod
    def summary(cls) -> str:
        return (cls.__doc__ or "").strip().split("\n\n")[0].replace("\n", " ")

    @classmethod
    def parameter_docs(cls) -> dict[str, tuple[str, Any]]:
        """Parameter -> (its description, its type's name)."""
        return {
            name: (info.description or "", getattr(info.annotation, "__name__", str(info.annotation)))
            for name, info in cls.params.model_fields.items()
        }
