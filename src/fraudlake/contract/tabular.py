"""The contract's tabular forms: the Arrow schema of the Parquet lake and PostgreSQL's column types."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

from fraudlake.contract.records import SCHEMA_VERSION, Column


def arrow_schema(cls: type, columns: tuple[Column, ...]) -> Any:
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
        [pa.field(c.name, arrow_type(c), nullable=c.nullable, metadata={"doc": c.doc}) for c in columns],
        metadata={"record": cls.__name__, "schema_version": str(SCHEMA_VERSION)},
    )


def to_arrow(cls: type, columns: tuple[Column, ...], records: Iterable[Any]) -> Any:
    import pyarrow as pa

    rows = list(records)
    data = {c.name: [getattr(r, c.name) for r in rows] for c in columns}
    return pa.Table.from_pydict(data, schema=arrow_schema(cls, columns))


def from_arrow(cls: type, columns: tuple[Column, ...], table: Any) -> list[Any]:
    result = []
    for row in table.to_pylist():
        for column in columns:
            if column.timestamp_ms and row[column.name] is not None:
                row[column.name] = int(row[column.name].timestamp() * 1000)
            elif column.py_type is tuple and row[column.name] is not None:
                row[column.name] = tuple(row[column.name])
        result.append(cls(**row))
    return result


def sql_columns(columns: tuple[Column, ...]) -> dict[str, str]:
    """PostgreSQL column types, as dbt sources and DDL use them."""

    def sql_type(column: Column) -> str:
        if column.timestamp_ms:
            return "timestamptz"
        return {str: "text", int: "bigint", Decimal: "numeric(12,2)", bool: "boolean", tuple: "text[]"}[
            column.py_type
        ]

    return {c.name: sql_type(c) + ("" if c.nullable else " not null") for c in columns}
