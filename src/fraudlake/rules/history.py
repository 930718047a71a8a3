"""Per-customer history, as the streaming job keeps it in keyed state and the batch scorer replays it.

Semantics both engines follow: payments are taken in event-time order (ties by payment_id); a
payment's features count only earlier payments, except the velocity window, which counts the
payments in [event_time - window, event_time] including this one. State per customer is bounded:
the velocity window keeps only times still inside it, and at most MAX_DEVICES fingerprints are kept
(the oldest seen is forgotten first).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from fraudlake.contract import CustomerProfile, Decision, Payment
from fraudlake.rules.engine import Features, evaluate
from fraudlake.rules.ruleset import RuleSet

MAX_DEVICES = 32


@dataclass
class CustomerHistory:
    payments: int = 0
    successes: int = 0
    success_sum: Decimal = Decimal("0")
    recent: deque[int] = field(default_factory=deque)
    devices: OrderedDict[str, None] = field(default_factory=OrderedDict)

    def features(self, payment: Payment, profile: CustomerProfile | None, window_ms: int) -> Features:
        while self.recent and self.recent[0] < payment.event_time - window_ms:
            self.recent.popleft()
        return Features(
            profile=profile,
            prior_payments=self.payments,
            prior_successes=self.successes,
            prior_success_sum=self.success_sum,
            payments_in_window=len(self.recent) + 1,
            device_seen=payment.device_fingerprint in self.devices,
        )

    def add(self, payment: Payment) -> None:
        self.payments += 1
        if payment.status == "succeeded":
            self.successes += 1
            self.success_sum += payment.amount
        self.recent.append(payment.event_time)
        self.devices[payment.device_fingerprint] = None
        self.devices.move_to_end(payment.device_fingerprint)
        if len(self.devices) > MAX_DEVICES:
            self.devices.popitem(last=False)


def velocity_window_ms(rules: RuleSet) -> int:
    return rules.param("VELOCITY", "window_minutes") * 60_000 if "VELOCITY" in rules.rules else 0


def score_stream(
    payments: Iterable[Payment],
    profiles: Mapping[str, CustomerProfile],
    rules: RuleSet,
    scored_at: int,
) -> Iterator[Decision]:
    """Decisions for payments already in event-time order, keeping each customer's history."""
    histories: dict[str, CustomerHistory] = {}
    window = velocity_window_ms(rules)
    for payment in payments:
        history = histories.setdefault(payment.customer_id, CustomerHistory())
        features = history.features(payment, profiles.get(payment.customer_id), window)
        yield evaluate(rules, payment, features, scored_at)
        history.add(payment)
