"""The contract as a documentation page (docs/contract.md is this output; a test keeps it so)."""

from __future__ import annotations

from decimal import Decimal

from fraudlake.contract import RECORD_TYPES
from fraudlake.contract.records import SCHEMA_VERSION

_JSON_TYPE_NAMES = {
    str: "a string",
    int: "an integer",
    Decimal: "a number",
    bool: "a boolean",
    tuple: "an array",
}


def markdown() -> str:
    """The page, one table per record."""
    lines = [
        "# The event contract",
        "",
        f"Schema version {SCHEMA_VERSION}. Generated from `src/fraudlake/contract/` by",
        "`python -m fraudlake.contract > docs/contract.md`; do not edit by hand.",
        "",
        "JSON carries money as a number with at most two decimals and times as UTC epoch",
        "milliseconds; Parquet uses `decimal(12,2)` and `timestamp[ms, UTC]`; PostgreSQL uses",
        "`numeric(12,2)` and `timestamptz`. A reader ignores fields it does not know and rejects",
        "a `schema_version` it does not know.",
    ]
    for record_type in RECORD_TYPES:
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
