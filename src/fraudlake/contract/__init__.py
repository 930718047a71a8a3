"""The event contract: payments, customer profiles and chargebacks, each defined once.

Every other representation derives from the dataclasses of `records.py`: the JSON carried by Kafka
(`to_json` / `parse`, `jsonform.py`), the checks a record passes (`checks.py`), the Arrow schema of
the Parquet lake and the SQL column types of PostgreSQL tables and dbt sources (`tabular.py`), the
docs page (`docs.py`). `parse` never raises on bad input: it returns either a record or a
`Rejection` with a precise reason, which is what the dead-letter topic carries.

Schema versions: 1 is the first. A change that adds a nullable field keeps the version (readers
ignore fields they do not know); any other change bumps it, and `parse` rejects versions it does
not know.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Generic

from fraudlake.contract import checks, jsonform, tabular
from fraudlake.contract.records import (
    CHARGEBACK_REASONS,
    CURRENCIES,
    DEVICE_TYPES,
    EARLIEST_MS,
    FAILURE_REASONS,
    MAX_FUTURE_MS,
    PAYMENT_METHODS,
    PAYMENT_STATUSES,
    SCHEMA_VERSION,
    SEVERITIES,
    Alert,
    Chargeback,
    Column,
    CustomerProfile,
    DeadLetter,
    Decision,
    GroundTruth,
    Payment,
    R,
    Rejection,
    alert_id_of,
    columns_of,
)

__all__ = [
    "ALERT",
    "CHARGEBACK",
    "CHARGEBACK_REASONS",
    "CURRENCIES",
    "CUSTOMER_PROFILE",
    "DEAD_LETTER",
    "DECISION",
    "DEVICE_TYPES",
    "EARLIEST_MS",
    "FAILURE_REASONS",
    "GROUND_TRUTH",
    "MAX_FUTURE_MS",
    "PAYMENT",
    "PAYMENT_METHODS",
    "PAYMENT_STATUSES",
    "RECORD_TYPES",
    "SCHEMA_VERSION",
    "SEVERITIES",
    "Alert",
    "Chargeback",
    "Column",
    "CustomerProfile",
    "DeadLetter",
    "Decision",
    "GroundTruth",
    "Payment",
    "RecordType",
    "Rejection",
    "alert_id_of",
]


class RecordType(Generic[R]):
    """One record dataclass with all its forms: JSON, checks, Arrow, SQL."""

    def __init__(self, cls: type[R]) -> None:
        self.cls: type[R] = cls
        self.columns: tuple[Column, ...] = columns_of(cls)
        self.names = tuple(c.name for c in self.columns)

    def to_json(self, record: R) -> bytes:
        return jsonform.dumps(record)

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
        obj = jsonform.loads(data)
        if isinstance(obj, Rejection):
            return obj
        if not isinstance(obj, dict):
            return Rejection(f"expected a JSON object, got {type(obj).__name__}", data)
        return checks.values(self.cls, self.columns, obj, data, now_ms)

    def from_dict(self, obj: dict[str, Any], *, raw: bytes = b"", now_ms: int | None = None) -> R | Rejection:
        values = checks.values(self.cls, self.columns, obj, raw, now_ms)
        if isinstance(values, Rejection):
            return values
        record: R = self.cls(*values)
        return record

    def arrow_schema(self) -> Any:
        """The pyarrow schema of this record (pyarrow is imported only when asked for)."""
        return tabular.arrow_schema(self.cls, self.columns)

    def to_arrow(self, records: Iterable[R]) -> Any:
        return tabular.to_arrow(self.cls, self.columns, records)

    def from_arrow(self, table: Any) -> list[R]:
        return tabular.from_arrow(self.cls, self.columns, table)

    def sql_columns(self) -> dict[str, str]:
        """PostgreSQL column types, as dbt sources and DDL use them."""
        return tabular.sql_columns(self.columns)


PAYMENT = RecordType(Payment)
CUSTOMER_PROFILE = RecordType(CustomerProfile)
CHARGEBACK = RecordType(Chargeback)
DECISION = RecordType(Decision)
ALERT = RecordType(Alert)
DEAD_LETTER = RecordType(DeadLetter)
GROUND_TRUTH = RecordType(GroundTruth)
RECORD_TYPES: tuple[RecordType[Any], ...] = (
    PAYMENT,
    CUSTOMER_PROFILE,
    CHARGEBACK,
    DECISION,
    ALERT,
    DEAD_LETTER,
    GROUND_TRUTH,
)
"""Every record of the contract, in the order the docs list them."""


def markdown() -> str:
    from fraudlake.contract.docs import markdown as page

    return page()
