"""Checks and error wording shared by the declared schemas (settings, rules files).

A pydantic error becomes one line that names the field (or environment variable) and says what was
expected and what was given, the way an operator reads it: `FRAUDLAKE_PG_PORT: expected
1..65535, got 70000`.
"""

from __future__ import annotations

from typing import Any

from pydantic import AfterValidator
from pydantic_core import ErrorDetails, PydanticCustomError

from fraudlake.wording import shown


def between(low: int, high: int) -> AfterValidator:
    """An integer in [low, high]."""

    def check(value: int) -> int:
        if not low <= value <= high:
            raise PydanticCustomError(
                "range", "expected {low}..{high}, got {value}", {"low": low, "high": high, "value": value}
            )
        return value

    return AfterValidator(check)


def refuse(expected: str, value: Any) -> PydanticCustomError:
    """The error a custom check raises: `expected <expected>, got <value>`."""
    return PydanticCustomError(
        "refused", "expected {expected}, got {given}", {"expected": expected, "given": shown(value)}
    )


_MESSAGES = {
    "missing": "missing",
    "int_type": "expected an integer, got {input}",
    "int_parsing": "expected an integer, got {input}",
    "int_from_float": "expected an integer, got {input}",
    "float_type": "expected a positive number, got {input}",
    "float_parsing": "expected a number, got {input}",
    "greater_than": "expected a positive number, got {input}",
    "list_type": "expected a list of strings, got {input}",
    "string_type": "expected a string, got {input}",
    "bool_parsing": "expected true or false, got {input}",
    "bool_type": "expected true or false, got {input}",
    "too_short": "expected at least one entry, got {input}",
    "dict_type": "expected a mapping, got {kind}",
    "model_type": "expected a mapping, got {kind}",
    "extra_forbidden": "unknown field",
}


def message(error: ErrorDetails) -> str:
    """What went wrong, without the where (the caller names the field)."""
    template = _MESSAGES.get(error["type"])
    if template is None:
        return error["msg"]
    given = error.get("input")
    return template.format(input=shown(given), kind=type(given).__name__)
