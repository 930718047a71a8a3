"""The labelled payment stream: legitimate traffic with seasonality plus scheduled fraud episodes.

Items come out in event-time order from one pass with O(customers + episodes) memory: legitimate
arrivals are drawn on the fly, fraud episodes are scheduled up front and expanded when their time
comes, retries and chargebacks wait in a heap until the stream reaches them. Everything is drawn
from one seeded generator, so a seed always gives the same stream.
"""

from __future__ import annotations

import heapq
import itertools
import json
import math
import random
from bisect import bisect
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal

from fraudlake.contract import PAYMENT, SCHEMA_VERSION, Chargeback, Payment
from fraudlake.simulator.population import (
    COUNTRIES,
    DAY_MS,
    FRAUD_COUNTRIES,
    REFERRERS,
    UTM_SOURCES,
    Customer,
    build_fraud_accounts,
    build_population,
    fingerprint,
    ip_in,
    random_prefix,
)

MINUTE_MS = 60_000
HOUR_MS = 3_600_000

# Share of fraud *payments* per scenario, and the mean number of payments one episode makes.
FRAUD_MIX: dict[str, tuple[float, float]] = {
    "card_testing": (0.30, 10.0),
    "account_takeover": (0.20, 1.5),
    "new_account_fraud": (0.15, 2.0),
    "card_spree": (0.20, 4.5),
    "friendly_fraud": (0.15, 1.0),
}
CHARGEBACK_SHARE = {
    "card_testing": 0.3,
    "account_takeover": 0.85,
    "new_account_fraud": 0.8,
    "card_spree": 0.9,
    "friendly_fraud": 0.95,
}
MALFORMED_KINDS = (
    "invalid_json",
    "missing_field",
    "wrong_type",
    "negative_amount",
    "unknown_currency",
    "far_future",
)
# Relative payment volume by UTC hour and by weekday (Monday first).
HOURLY = (
    0.25,
    0.15,
    0.1,
    0.08,
    0.08,
    0.12,
    0.3,
    0.55,
    0.8,
    0.95,
    1.0,
    1.05,
    1.15,
    1.1,
    1.0,
    1.0,
    1.05,
    1.15,
    1.3,
    1.45,
    1.5,
    1.3,
    0.9,
    0.5,
)
WEEKLY = (0.95, 0.95, 1.0, 1.0, 1.1, 1.15, 1.05)
MERCHANTS = tuple(f"mer-{i:04d}" for i in range(250))
MERCHANT_WEIGHTS = tuple(1 / (i + 1) ** 0.9 for i in range(250))


@dataclass(frozen=True)
class SimConfig:
    seed: int = 42
    events: int = 10_000
    start_ms: int = 1_790_000_000_000
    window_ms: int = 28 * DAY_MS
    customers: int | None = None
    population_seed: int | None = None
    """Seed of the customer base (default: `seed`): runs with other seeds and the same
    population_seed pay with the same customers, as a shop's traffic does from one hour to the next."""
    fraud_rate: float = 0.02
    malformed_rate: float = 0.0
    seasonal: bool = True
    shard: int = 0
    shards: int = 1
    """A run may be split into `shards` independent streams over disjoint customers (one per worker
    process); each shard emits its share of the payments and fraud episodes."""

    @property
    def population_size(self) -> int:
        return self.customers if self.customers is not None else max(200, self.events // 25)

    @property
    def shard_events(self) -> int:
        return self.events // self.shards + (1 if self.shard < self.events % self.shards else 0)


@dataclass(slots=True)
class Item:
    """One thing to send: a payment (with its truth), a chargeback, or a malformed payload.

    Not frozen: a million of them are made per million payments, and frozen init costs ~1 µs more."""

    time_ms: int
    key: str
    payment: Payment | None = None
    scenario: str | None = None
    is_fraud: bool = False
    chargeback: Chargeback | None = None
    malformed: bytes | None = None
    malformed_kind: str | None = None


@dataclass(order=True)
class _Pending:
    time_ms: int
    order: int
    action: object = field(compare=False)


class Simulation:
    def __init__(self, config: SimConfig) -> None:
        self.config = config
        end = config.start_ms + config.window_ms
        base_seed = config.seed if config.population_seed is None else config.population_seed
        population = build_population(base_seed, config.population_size, config.start_ms, end)
        self.customers = population[config.shard :: config.shards]
        self.rng = random.Random(f"stream-{config.seed}-{config.shard}-of-{config.shards}")
        self.episodes = self._episode_counts()
        fraud_accounts = self.episodes["card_testing"] + self.episodes["new_account_fraud"]
        self.fraud_accounts = build_fraud_accounts(
            config.seed, fraud_accounts, config.start_ms, end, shard=config.shard
        )
        self._night_owls = [c for c in self.customers if c.persona == "night_owl"]
        self._weights = list(itertools.accumulate(c.activity for c in self.customers))
        self._payments = 0
        self._counter = itertools.count()

    @property
    def all_customers(self) -> list[Customer]:
        return self.customers + self.fraud_accounts

    def _episode_counts(self) -> dict[str, int]:
        fraud_payments = self.config.shard_events * self.config.fraud_rate
        return {name: round(fraud_payments * share / mean) for name, (share, mean) in FRAUD_MIX.items()}

    # --- the stream -------------------------------------------------------------------------
    def items(self) -> Iterator[Item]:
        """Every item in event-time order until `events` payments have been emitted."""
        cfg = self.config
        heap: list[_Pending] = []
        accounts = iter(self.fraud_accounts)  # one fresh account per card-testing/new-account episode
        for scenario, count in self.episodes.items():
            for _ in range(count):
                start = cfg.start_ms + self.rng.randrange(cfg.window_ms)
                account = next(accounts) if scenario in ("card_testing", "new_account_fraud") else None
                if account is not None:
                    start = account.profile.registered_at + int(self.rng.expovariate(1 / (6 * HOUR_MS)))
                self._push(heap, start, ("episode", scenario, account))
        mean_season = sum(HOURLY) / 24 * sum(WEEKLY) / 7 if cfg.seasonal else 1.0
        peak = max(HOURLY) * max(WEEKLY) if cfg.seasonal else 1.0
        legit_rate = cfg.shard_events * (1 - cfg.fraud_rate) / cfg.window_ms  # per ms, on average
        step = 1 / (legit_rate / mean_season * peak)
        clock = float(cfg.start_ms)
        while self._payments < cfg.shard_events:
            clock += step * self.rng.uniform(0.5, 1.5)
            while heap and heap[0].time_ms <= clock and self._payments < cfg.shard_events:
                yield from self._run(heap, heapq.heappop(heap))
            if self._payments >= cfg.shard_events:
                break
            t = int(clock)
            if cfg.seasonal and self.rng.random() * peak > self._season(t):
                continue
            item = self._legit(heap, t)
            if item is not None:
                yield from self._emit(heap, item)

    def _season(self, t: int) -> float:
        day = (t // DAY_MS + 3) % 7  # 1970-01-01 was a Thursday
        return HOURLY[(t // HOUR_MS) % 24] * WEEKLY[day]

    def _push(self, heap: list[_Pending], time_ms: int, action: object) -> None:
        heapq.heappush(heap, _Pending(time_ms, next(self._counter), action))

    def _run(self, heap: list[_Pending], pending: _Pending) -> Iterator[Item]:
        action = pending.action
        if isinstance(action, Item):
            if action.payment is not None:
                yield from self._emit(heap, action)
            else:
                yield action
            return
        assert isinstance(action, tuple)
        _, scenario, account = action
        for item in getattr(self, f"_{scenario}")(pending.time_ms, account):
            self._push(heap, item.time_ms, item)

    def _emit(self, heap: list[_Pending], item: Item) -> Iterator[Item]:
        """A payment goes out, maybe preceded by a malformed twin, maybe followed by a chargeback."""
        assert item.payment is not None
        self._payments += 1
        if self.config.malformed_rate and self.rng.random() < self.config.malformed_rate:
            kind = self.rng.choice(MALFORMED_KINDS)
            yield Item(
                item.time_ms, item.key, malformed=_corrupt(item.payment, kind, self.rng), malformed_kind=kind
            )
        yield item
        payment = item.payment
        if (
            item.is_fraud
            and payment.status == "succeeded"
            and item.scenario
            and self.rng.random() < CHARGEBACK_SHARE[item.scenario]
        ):
            delay = int(DAY_MS * min(90.0, max(1.0, self.rng.lognormvariate(math.log(14), 0.6))))
            reason = "product_not_received" if item.scenario == "friendly_fraud" else "fraudulent"
            chargeback = Chargeback(
                payment.payment_id,
                payment.customer_id,
                payment.amount,
                payment.currency,
                reason,
                payment.event_time + delay,
                SCHEMA_VERSION,
            )
            self._push(
                heap,
                chargeback.reported_at,
                Item(chargeback.reported_at, payment.customer_id, chargeback=chargeback),
            )

    # --- payments ---------------------------------------------------------------------------
    def _payment(
        self,
        customer: Customer,
        t: int,
        *,
        amount: float,
        device: tuple[str, str] | None = None,
        ip: tuple[str, str] | None = None,
        direct: bool | None = None,
        failed: bool = False,
        failure_reasons: tuple[str, ...] = ("insufficient_funds", "card_declined", "expired_card"),
        merchant: str | None = None,
        order_id: str | None = None,
    ) -> Payment:
        rng = self.rng
        number = next(self._counter) * self.config.shards + self.config.shard  # unique across shards
        if device is None:
            chosen = rng.choice(customer.devices)
            device = (chosen.type, chosen.fingerprint)
        if ip is None:
            ip = (ip_in(customer.ip_prefix, rng), customer.profile.country)
        if direct is None:
            direct = rng.random() < customer.direct_share
        utm = referrer = None
        if not direct:
            if rng.random() < 0.6:
                utm = rng.choice(UTM_SOURCES)
            else:
                referrer = rng.choice(REFERRERS)
        method = customer.payment_method
        if method == "apple_pay" and device[0] != "ios":
            method = "card"
        return Payment(
            payment_id=f"pay-{self.config.seed}-{number:010d}",
            order_id=order_id or f"ord-{self.config.seed}-{number:010d}",
            customer_id=customer.profile.customer_id,
            merchant_id=merchant or MERCHANTS[bisect(_MERCHANT_CUM, rng.random() * _MERCHANT_CUM[-1])],
            amount=Decimal(f"{max(0.5, amount):.2f}"),
            currency=customer.currency,
            status="failed" if failed else "succeeded",
            failure_reason=rng.choice(failure_reasons) if failed else None,
            payment_method=method,
            device_type=device[0],
            device_fingerprint=device[1],
            ip_address=ip[0],
            ip_country=ip[1],
            utm_source=utm,
            referrer=referrer,
            event_time=t,
            schema_version=SCHEMA_VERSION,
        )

    def _weighted_customer(self) -> Customer:
        """A customer drawn by activity (what random.choices does, without its per-call overhead)."""
        return self.customers[bisect(self._weights, self.rng.random() * self._weights[-1])]

    def _pick_customer(self, t: int) -> Customer | None:
        """A customer registered by `t`, weighted by activity; night owls crowd the small hours."""
        european_hour = (t // HOUR_MS + 1) % 24
        if 1 <= european_hour <= 4 and self._night_owls and self.rng.random() < 0.5:
            owl = self.rng.choice(self._night_owls)
            return owl if owl.profile.registered_at <= t else None
        for _ in range(8):
            customer = self._weighted_customer()
            if customer.profile.registered_at <= t:
                return customer
        return None

    def _legit(self, heap: list[_Pending], t: int) -> Item | None:
        rng = self.rng
        customer = self._pick_customer(t)
        if customer is None:
            return None
        amount = rng.lognormvariate(customer.amount_mu, customer.amount_sigma)
        if rng.random() < 0.02:
            amount *= rng.uniform(3, 6)  # a rare big purchase: a TV, a holiday
        ip = None
        if customer.persona == "traveller" and rng.random() < 0.35:
            country = rng.choice(COUNTRIES)[0]
            ip = (ip_in(random_prefix(rng), rng), country)
        device = None
        if rng.random() < 0.03:
            kind = rng.choice(customer.devices).type
            device = (kind, fingerprint(rng))  # a new phone or browser: legit, but a new device
        failed = rng.random() < 0.04
        payment = self._payment(customer, t, amount=amount, ip=ip, device=device, failed=failed)
        if failed and rng.random() < 0.5:  # the customer retries the same order a bit later
            retry_at = t + rng.randrange(20_000, 5 * MINUTE_MS)
            retry = self._payment(
                customer,
                retry_at,
                amount=float(payment.amount),
                device=(payment.device_type, payment.device_fingerprint),
                ip=(payment.ip_address, payment.ip_country),
                direct=payment.utm_source is None and payment.referrer is None,
                order_id=payment.order_id,
                merchant=payment.merchant_id,
            )
            self._push(
                heap, retry_at, Item(retry_at, customer.profile.customer_id, retry, _persona(customer))
            )
        return Item(t, customer.profile.customer_id, payment, _persona(customer))

    # --- fraud scenarios (each returns the payments of one episode) -------------------------
    def _foreign_ip(self) -> tuple[str, str]:
        country = self.rng.choice(FRAUD_COUNTRIES)
        return ip_in(random_prefix(self.rng), self.rng), country

    def _fraud(self, customer: Customer, payments: list[Payment], scenario: str) -> list[Item]:
        return [Item(p.event_time, customer.profile.customer_id, p, scenario, True) for p in payments]

    def _times(self, t: int, count: int, gap_low: int, gap_high: int) -> list[int]:
        """`count` moments from `t` on, each a random gap after the one before: an episode's rhythm."""
        times = [t]
        for _ in range(count - 1):
            times.append(times[-1] + self.rng.randrange(gap_low, gap_high))
        return times

    def _ip(self, foreign_share: float, prefix: str, country: str) -> tuple[str, str]:
        """A fraudster's IP: abroad with probability `foreign_share`, else inside `country`."""
        if self.rng.random() < foreign_share:
            return self._foreign_ip()
        return ip_in(prefix, self.rng), country

    def _card_testing(self, t: int, account: Customer) -> list[Item]:
        rng = self.rng
        device = (account.devices[0].type, account.devices[0].fingerprint)
        ip = self._ip(0.6, account.ip_prefix, account.profile.country)
        payments = [
            self._payment(
                account,
                when,
                amount=rng.uniform(0.5, 3.0),
                device=device,
                ip=ip,
                direct=True,
                failed=rng.random() < 0.6,
                failure_reasons=("card_declined", "incorrect_cvc", "do_not_honor"),
            )
            for when in self._times(t, rng.randint(5, 15), 5_000, 60_000)
        ]
        return self._fraud(account, payments, "card_testing")

    def _victim(self, t: int) -> Customer:
        for _ in range(20):
            customer = self._weighted_customer()
            if customer.profile.registered_at < t - 7 * DAY_MS:
                return customer
        return customer

    def _account_takeover(self, t: int, _account: None) -> list[Item]:
        rng = self.rng
        victim = self._victim(t)
        if rng.random() < 0.6:  # take over while the owner sleeps: 01:00-05:00 in their time zone
            night = t - t % DAY_MS + ((rng.randint(1, 4) - victim.utc_offset_h) % 24) * HOUR_MS
            t = (night if night >= t else night + DAY_MS) + rng.randrange(HOUR_MS)
        device = (rng.choice(("web", "android", "ios")), fingerprint(rng))
        ip = self._foreign_ip()
        typical = math.exp(victim.amount_mu)
        payments = [
            self._payment(
                victim,
                when,
                amount=typical * rng.uniform(3, 8),
                device=device,
                ip=ip,
                direct=rng.random() < 0.7,
            )
            for when in self._times(t, rng.choice((1, 1, 2)), MINUTE_MS, 20 * MINUTE_MS)
        ]
        return self._fraud(victim, payments, "account_takeover")

    def _new_account_fraud(self, t: int, account: Customer) -> list[Item]:
        rng = self.rng
        device = (account.devices[0].type, account.devices[0].fingerprint)
        ip = self._ip(0.5, account.ip_prefix, account.profile.country)
        payments = [
            self._payment(
                account,
                when,
                amount=rng.uniform(200, 1500),
                device=device,
                ip=ip,
                direct=True,
                failed=when == t and rng.random() < 0.3,
            )
            for when in self._times(t, rng.randint(1, 3), 2 * MINUTE_MS, 30 * MINUTE_MS)
        ]
        return self._fraud(account, payments, "new_account_fraud")

    def _card_spree(self, t: int, _account: None) -> list[Item]:
        rng = self.rng
        victim = self._victim(t)
        device = (rng.choice(("web", "android")), fingerprint(rng))
        ip = self._ip(0.5, random_prefix(rng), victim.profile.country)
        payments = [
            self._payment(
                victim,
                when,
                amount=rng.uniform(40, 600),
                device=device,
                ip=ip,
                merchant=rng.choice(MERCHANTS),
                direct=rng.random() < 0.5,
            )
            for when in self._times(t, rng.randint(3, 6), 30_000, 3 * MINUTE_MS)
        ]
        return self._fraud(victim, payments, "card_spree")

    def _friendly_fraud(self, t: int, _account: None) -> list[Item]:
        victim = self._victim(t)  # the "victim" is the cardholder, who disputes a real purchase
        amount = self.rng.lognormvariate(victim.amount_mu, victim.amount_sigma) * self.rng.uniform(1.0, 2.0)
        payment = self._payment(victim, t, amount=amount, direct=False)
        return self._fraud(victim, [payment], "friendly_fraud")


def all_customers(config: SimConfig) -> list[Customer]:
    """Every customer of every shard of a run: what PostgreSQL must know before payments flow."""
    return [
        c for shard in range(config.shards) for c in Simulation(replace(config, shard=shard)).all_customers
    ]


_MERCHANT_CUM = tuple(itertools.accumulate(MERCHANT_WEIGHTS))


def _persona(customer: Customer) -> str:
    return "legit" if customer.persona == "regular" else f"legit_{customer.persona}"


def _corrupt(payment: Payment, kind: str, rng: random.Random) -> bytes:
    """A bad payload of the given kind, built from a real payment so everything else looks right."""
    data = json.loads(PAYMENT.to_json(payment))
    if kind == "invalid_json":
        return PAYMENT.to_json(payment)[: rng.randrange(5, 60)]
    if kind == "missing_field":
        del data[rng.choice(("payment_id", "amount", "customer_id", "event_time", "currency"))]
    elif kind == "wrong_type":
        field_name = rng.choice(("amount", "event_time", "device_type"))
        data[field_name] = {"amount": "twelve", "event_time": "yesterday", "device_type": 7}[field_name]
    elif kind == "negative_amount":
        data["amount"] = -abs(data["amount"])
    elif kind == "unknown_currency":
        data["currency"] = "XYZ"
    elif kind == "far_future":
        data["event_time"] = payment.event_time + 400 * DAY_MS * 10
    return json.dumps(data).encode()
