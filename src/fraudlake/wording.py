"""How an error message quotes the value it refuses (dependency-free: the streaming job ships it)."""

from __future__ import annotations

from typing import Any

SHOWN_CHARS = 60
"""A refused value is quoted up to this many characters of its repr."""


def shown(value: Any) -> str:
    """The value as a message quotes it: escaped (control characters stay visible), cut short when
    long, so a refused megabyte does not become a megabyte of log or dead letter."""
    text = repr(value)
    return text if len(text) <= SHOWN_CHARS else f"{text[:SHOWN_CHARS]}... ({len(text)} characters)"
