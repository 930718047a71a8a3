"""Per-customer history, as the streaming job keeps it in keyed state and the batch scorer replays it.

Semantics both engines follow: payments are taken in event-time order (ties by payment_id); a
payment's features count only earlier payments, except velocity, which measures the time from the
earliest of the customer's last VELOCITY.min_payments payments (this one included) to this one.
Velocity keeps only those few times, so its state is bounded per customer whatever the payment
rate; counts, sums and seen devices last as long as the history (the streaming job expires a
customer's state after its TTL, FRAUDLAKE_JOB_STATE_TTL_DAYS).

History that predates the stream arrives as `PriorActivity` rows, one per customer and device
(counts and sums of payments the engine never saw). They seed counts, sums and seen devices; they
hold no payment times, so velocity starts with the first payment the engine sees.

Ties: payments of one customer at the same millisecond are ordered by payment_id here and by
arrival in the stream (one ROWS window takes them one by one). They agree when the customer's
payments reach Kafka in payment_id order, as the simulator's do.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from fraudlake.contract import CustomerProfile, Decision, Payment
from fraudlake.rules.definition import Features
from fraudlake.rules.engine import evaluate
from fraudlake.rules.ruleset import RuleSet


@dataclass(frozen=True, slots=True)
class PriorActivity:
    """A customer's payments on one device before the engine's first payment (ops.customer_history)."""

    customer_id: str
    device_fingerprint: str
    payments: int
    successes: int
    success_sum: Decimal


@dataclass
class CustomerHistory:
    payments: int = 0
    successes: int = 0
    success_sum: Decimal = Decimal("0")
    recent: deque[int] = field(default_factory=deque)
    devices: set[str] = field(default_factory=set)

    def features(self, payment: Payment, profile: CustomerProfile | None, velocity_count: int) -> Features:
        earlier = max(velocity_count - 1, 0)
        while len(self.recent) > earlier:
            self.recent.popleft()
        span = None
        if len(self.recent) == earlier:
            span = payment.event_time - (self.recent[0] if earlier else payment.event_time)
        return Features(
            profile=profile,
            prior_payments=self.payments,
            prior_successes=self.successes,
            prior_success_sum=self.success_sum,
            velocity_span_ms=span,
            device_seen=payment.device_fingerprint in self.devices,
        )

    def seed(self, prior: PriorActivity) -> None:
        self.payments += prior.payments
        self.successes += prior.successes
        self.success_sum += prior.success_sum
        self.devices.add(prior.device_fingerprint)

    def add(self, payment: Payment) -> None:
        self.payments += 1
        if payment.status == "succeeded":
            self.successes += 1
            self.success_sum += payment.amount
        self.recent.append(payment.event_time)
        self.devices.add(payment.device_fingerprint)


def velocity_count(rules: RuleSet) -> int:
    """How many of a customer's latest payments velocity looks at (1 when the rule is off)."""
    return int(rules.param("VELOCITY", "min_payments")) if "VELOCITY" in rules.rules else 1


def feature_stream(
    payments: Iterable[Payment],
    profiles: Mapping[str, CustomerProfile],
    velocity_payments: int,
    prior: Iterable[PriorActivity] = (),
) -> Iterator[tuple[Payment, Features]]:
    """Each payment (already in event-time order) with its features, keeping each customer's history
    from `prior` on: the one pass the batch scorer and the backtests share."""
    histories: dict[str, CustomerHistory] = {}
    for activity in prior:
        histories.setdefault(activity.customer_id, CustomerHistory()).seed(activity)
    for payment in payments:
        history = histories.setdefault(payment.customer_id, CustomerHistory())
        yield payment, history.features(payment, profiles.get(payment.customer_id), velocity_payments)
        history.add(payment)


def score_stream(
    payments: Iterable[Payment],
    profiles: Mapping[str, CustomerProfile],
    rules: RuleSet,
    scored_at: int,
    prior: Iterable[PriorActivity] = (),
) -> Iterator[Decision]:
    """Decisions for payments already in event-time order (see `feature_stream`)."""
    for payment, features in feature_stream(payments, profiles, velocity_count(rules), prior):
        yield evaluate(rules, payment, features, scored_at)
