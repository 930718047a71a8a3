"""Labelled history replayed once: each payment with its features, and each rule's hits over them.

Features are computed over the whole history in event-time order (`rules.history.feature_stream`,
the batch scorer's pass), so a payment of a later period sees the customer's earlier payments as
the stream did. A rule's hits are its catalog `check` run on every payment: the rule code the
engines run, not a re-implementation; they are cached per (rule, parameters), so a search over
points and thresholds never runs a check again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import numpy.typing as npt

from fraudlake.contract import CustomerProfile, Payment
from fraudlake.rules.catalog import CATALOG
from fraudlake.rules.definition import DAY_MS, Features, Params
from fraudlake.rules.history import PriorActivity, feature_stream, velocity_count
from fraudlake.rules.ruleset import RuleSet

Mask = npt.NDArray[np.bool_]
EUR_PER_UNIT = {"EUR": 1.0, "USD": 0.92, "GBP": 1.17, "PLN": 0.23, "CHF": 1.05, "SEK": 0.088, "CZK": 0.040}
"""Approximate reference rates: they only weigh the contract's currencies against each other in the
backtests' value figures, never a payment."""


@dataclass
class Replay:
    payments: list[Payment]
    features: list[Features]
    velocity_payments: int
    """VELOCITY.min_payments the features were computed with (a candidate must keep it)."""
    event_time: npt.NDArray[np.int64] = field(init=False)
    day: npt.NDArray[np.int64] = field(init=False)
    """Days since the epoch (UTC) of each payment's event time."""
    amount_eur: npt.NDArray[np.float64] = field(init=False)
    _hits: dict[tuple[str, str], Mask] = field(init=False, default_factory=dict)

    def __post_init__(self) -> None:
        self.event_time = np.fromiter((p.event_time for p in self.payments), np.int64, len(self.payments))
        self.day = self.event_time // DAY_MS
        self.amount_eur = np.fromiter(
            (float(p.amount) * EUR_PER_UNIT[p.currency] for p in self.payments),
            np.float64,
            len(self.payments),
        )

    @classmethod
    def build(
        cls,
        payments: Iterable[Payment],
        profiles: Mapping[str, CustomerProfile],
        velocity_payments: int,
        prior: Iterable[PriorActivity] = (),
    ) -> Replay:
        ordered = sorted(payments, key=lambda p: (p.event_time, p.payment_id))
        pairs = list(feature_stream(ordered, profiles, velocity_payments, prior))
        return cls([p for p, _ in pairs], [f for _, f in pairs], velocity_payments)

    def __len__(self) -> int:
        return len(self.payments)

    def hits(self, rule_id: str, params: Params) -> Mask:
        """Where the rule with these parameters fires (computed once per rule and parameters)."""
        key = (rule_id, params.model_dump_json())
        if key not in self._hits:
            check = CATALOG[rule_id].check
            self._hits[key] = np.fromiter(
                (check(params, p, f) is not None for p, f in zip(self.payments, self.features, strict=True)),
                np.bool_,
                len(self.payments),
            )
        return self._hits[key]

    def between(self, start_ms: int | None, end_ms: int | None) -> Mask:
        """Payments with start <= event_time < end (either bound open when None)."""
        mask = np.ones(len(self), np.bool_)
        if start_ms is not None:
            mask &= self.event_time >= start_ms
        if end_ms is not None:
            mask &= self.event_time < end_ms
        return mask


class Replays:
    """A history's replays, one per VELOCITY.min_payments (the velocity feature depends on it), built
    when first asked for. They list the same payments in the same order, so one set of labels and
    masks serves them all."""

    def __init__(self, payments: Iterable[Payment], profiles: Mapping[str, CustomerProfile]) -> None:
        self.payments = sorted(payments, key=lambda p: (p.event_time, p.payment_id))
        self.profiles = profiles
        self._built: dict[int, Replay] = {}

    def __call__(self, rules: RuleSet) -> Replay:
        """The replay whose features `rules` read."""
        count = velocity_count(rules)
        if count not in self._built:
            self._built[count] = Replay.build(self.payments, self.profiles, count)
        return self._built[count]


def date_of(day: int) -> str:
    return datetime.fromtimestamp(day * DAY_MS / 1000, UTC).date().isoformat()
