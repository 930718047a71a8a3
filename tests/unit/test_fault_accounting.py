"""The fault suite's accounting: each payment record has one decision or one dead letter."""

from __future__ import annotations

from collections import Counter

from tests.integration.fault_harness import Accounting, account


def test_each_record_is_decided_or_dead_lettered_once() -> None:
    payments: dict[tuple[int, int], str | None] = {
        (0, 0): "p-1",
        (0, 1): "p-2",  # the malformed twin of p-2, dead-lettered
        (0, 2): "p-2",
        (0, 3): None,  # unreadable, dead-lettered
        (1, 0): "p-3",
        (1, 1): "p-4",  # beyond the ends: not counted yet
    }
    decisions = Counter({"p-1": 1, "p-2": 1, "p-3": 1})
    letters = Counter({(0, 1): 1, (0, 3): 1})
    assert account(payments, decisions, letters, {0: 4, 1: 1}) == Accounting(payments=5)


def test_lost_and_doubled_are_counted_apart() -> None:
    payments: dict[tuple[int, int], str | None] = {
        (0, 0): "p-1",  # no decision
        (0, 1): None,  # unreadable and no dead letter
        (0, 2): "p-2",  # decided twice
        (0, 3): "p-3",  # dead-lettered twice
        (0, 4): "p-4",  # dead-lettered and also decided
    }
    decisions = Counter({"p-2": 2, "p-4": 1})
    letters = Counter({(0, 3): 2, (0, 4): 1})
    found = account(payments, decisions, letters, {0: 5})
    assert found == Accounting(payments=5, lost=2, decisions_doubled=2, dead_letters_doubled=1)
