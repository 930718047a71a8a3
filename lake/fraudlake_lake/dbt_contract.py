"""The event contract as dbt sees it: a doc block per field and the allowed values of each enum.

dbt's staging models describe and test the contract's fields from these (`doc('payment__amount')`,
the `in_contract` test), so a field's wording and an enum's values are written once, in the
contract. `python -m fraudlake_lake.dbt_contract` rewrites both files; a test keeps them current.
"""

from __future__ import annotations

import re
import sys

from fraudlake.config import PROJECT_ROOT
from fraudlake.contract import RECORD_TYPES, RecordType

DOCS = PROJECT_ROOT / "dbt" / "models" / "contract.md"
MACROS = PROJECT_ROOT / "dbt" / "macros" / "contract.sql"
HEADER = "Generated from src/fraudlake/contract/ by `python -m fraudlake_lake.dbt_contract`; do not edit."


def record_name(record: RecordType) -> str:  # type: ignore[type-arg]
    """CustomerProfile -> customer_profile."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", record.cls.__name__).lower()


def docs() -> str:
    blocks = [f"<!-- {HEADER} -->"]
    for record in RECORD_TYPES:
        for column in record.columns:
            text = column.doc or "one of: " + ", ".join(column.choices or ())
            if column.choices and column.doc:
                text += " (one of: " + ", ".join(column.choices) + ")"
            blocks.append(f"{{% docs {record_name(record)}__{column.name} %}}{text}{{% enddocs %}}")
    return "\n\n".join(blocks) + "\n"


def macros() -> str:
    enums = {
        record_name(record): {c.name: list(c.choices) for c in record.columns if c.choices}
        for record in RECORD_TYPES
    }
    return f"""{{# {HEADER} #}}

{{# The allowed values of a contract field, e.g. contract_values('payment', 'currency'). #}}
{{% macro contract_values(record, field) %}}
{{% set enums = {enums!r} %}}
{{{{ return(enums[record][field]) }}}}
{{% endmacro %}}

{{# Rows whose `column_name` is not one of its contract field's values (nulls pass). #}}
{{% test in_contract(model, column_name, record, field=none) %}}
select * from {{{{ model }}}}
where {{{{ column_name }}}} not in ('{{{{ contract_values(record, field or column_name) | join("', '") }}}}')
{{% endtest %}}
"""


def write() -> None:
    DOCS.write_text(docs())
    MACROS.write_text(macros())


if __name__ == "__main__":
    write()
    print(f"wrote {DOCS} and {MACROS}", file=sys.stderr)
