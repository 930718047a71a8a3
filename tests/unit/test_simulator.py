"""The simulator: deterministic, honest rates, consistent labels, and malformed input that is caught."""

from __future__ import annotations

import itertools
from collections import Counter
from functools import cache

import pytest

from fraudlake.contract import PAYMENT, Payment, Rejection
from fraudlake.simulator.generator import FRAUD_MIX, MALFORMED_KINDS, Item, SimConfig, Simulation
from fraudlake.simulator.options import Request, parse_duration, to_config
from fraudlake.simulator.population import DAY_MS

START = 1_790_000_000_000


@cache
def _items(events: int = 100_000, seed: int = 7, malformed_rate: float = 0.01) -> tuple[Item, ...]:
    config = SimConfig(seed=seed, events=events, start_ms=START, malformed_rate=malformed_rate)
    return tuple(Simulation(config).items())


def test_same_seed_same_events_other_seed_other_events() -> None:
    def first(seed: int) -> list[Item]:
        return list(
            itertools.islice(Simulation(SimConfig(seed=seed, events=5000, start_ms=START)).items(), 3000)
        )

    assert first(1) == first(1)
    assert first(1) != first(2)


def test_runs_with_one_population_seed_share_their_customers_not_their_payments() -> None:
    """The demo's hourly runs: new payments every hour, from the same customer base."""

    def run(seed: int, start: int) -> Simulation:
        return Simulation(SimConfig(seed=seed, events=2000, start_ms=start, customers=500, population_seed=9))

    first, next_hour = run(1, START), run(2, START + 3_600_000)
    assert [c.profile.customer_id for c in first.customers] == [
        c.profile.customer_id for c in next_hour.customers
    ]
    assert [c.devices for c in first.customers] == [c.devices for c in next_hour.customers]
    items = [list(s.items()) for s in (first, next_hour)]
    keys = [{i.key for i in hour} for hour in items]
    assert len(keys[0] & keys[1]) > 100  # both hours' payments come from the same customers
    payments = [{i.payment.payment_id for i in hour if i.payment} for hour in items]
    assert payments[0] and not payments[0] & payments[1]


def test_exactly_the_asked_number_of_payments_in_time_order() -> None:
    items = _items()
    assert sum(item.payment is not None for item in items) == 100_000
    times = [item.time_ms for item in items]
    assert times == sorted(times)
    assert len({item.payment.payment_id for item in items if item.payment}) == 100_000


def test_fraud_rate_and_scenario_mix_within_tolerance() -> None:
    payments = [item for item in _items() if item.payment is not None]
    fraud = Counter(item.scenario for item in payments if item.is_fraud)
    assert sum(fraud.values()) / len(payments) == pytest.approx(0.02, rel=0.2)
    total = sum(fraud.values())
    for scenario, (share, _) in FRAUD_MIX.items():
        assert fraud[scenario] / total == pytest.approx(share, rel=0.4), scenario
    legit = Counter(item.scenario for item in payments if not item.is_fraud)
    for persona in (
        "legit",
        "legit_night_owl",
        "legit_traveller",
        "legit_mobile_only",
        "legit_direct_visitor",
        "legit_new_customer",
    ):
        assert legit[persona] > 500, persona


def test_scenarios_have_their_signature() -> None:
    payments = [item for item in _items() if item.payment is not None]

    def of(scenario: str) -> list[Payment]:
        return [item.payment for item in payments if item.scenario == scenario and item.payment]

    testing = of("card_testing")
    assert sum(p.status == "failed" for p in testing) / len(testing) > 0.4
    assert max(p.amount for p in testing) <= 3
    new_account = of("new_account_fraud")
    assert all(p.utm_source is None and p.referrer is None for p in new_account)
    assert min(p.amount for p in new_account) >= 200
    takeover = of("account_takeover")
    assert all(p.ip_country not in {"DE", "PL", "FR", "GB", "NL", "SE", "CZ", "US"} for p in takeover)
    legit = of("legit")
    assert sum(p.utm_source is None and p.referrer is None for p in legit) / len(legit) < 0.3


def test_every_chargeback_follows_its_fraud_payment() -> None:
    items = _items()
    payments = {item.payment.payment_id: item for item in items if item.payment}
    chargebacks = [item.chargeback for item in items if item.chargeback]
    assert chargebacks
    for chargeback in chargebacks:
        origin = payments[chargeback.payment_id]
        assert origin.is_fraud and origin.payment is not None
        assert origin.payment.status == "succeeded"
        assert chargeback.customer_id == origin.payment.customer_id
        assert chargeback.amount == origin.payment.amount
        assert DAY_MS <= chargeback.reported_at - origin.payment.event_time <= 90 * DAY_MS
    frauds = sum(1 for item in payments.values() if item.is_fraud)
    assert len(chargebacks) < frauds, "some frauds never get a chargeback"


def test_valid_payments_parse_and_malformed_ones_are_rejected() -> None:
    items = _items()
    now = max(item.time_ms for item in items)
    for item in items[:20_000]:
        if item.payment is not None:
            assert PAYMENT.parse(PAYMENT.to_json(item.payment), now_ms=now) == item.payment
    malformed = [item for item in items if item.malformed is not None]
    assert len(malformed) / 100_000 == pytest.approx(0.01, rel=0.25)
    assert {item.malformed_kind for item in malformed} == set(MALFORMED_KINDS)
    for item in malformed:
        assert item.malformed is not None
        assert isinstance(PAYMENT.parse(item.malformed, now_ms=now), Rejection), item.malformed_kind


def test_customers_pay_only_after_registering() -> None:
    config = SimConfig(seed=3, events=20_000, start_ms=START)
    sim = Simulation(config)
    registered = {c.profile.customer_id: c.profile.registered_at for c in sim.all_customers}
    for item in sim.items():
        if item.payment is not None:
            assert registered[item.payment.customer_id] <= item.payment.event_time


def test_replay_defaults_and_realtime_sizing() -> None:
    now = START + 5 * 3_600_000
    replay = to_config(Request(1, None, None, None, False, None, None, 0.02, 0.0), now_ms=now)
    assert replay.events == 10_000 and replay.window_ms == 28 * DAY_MS
    assert replay.start_ms + replay.window_ms == now - now % DAY_MS
    realtime = to_config(
        Request(1, None, parse_duration("10s"), 250.0, True, None, None, 0.02, 0.0), now_ms=now
    )
    assert (realtime.events, realtime.window_ms, realtime.start_ms, realtime.seasonal) == (
        2500,
        10_000,
        now,
        False,
    )


@pytest.mark.parametrize(
    ("request_", "message"),
    [
        (Request(1, None, None, 50.0, False, None, None, 0.02, 0.0), "--rate applies to --realtime only"),
        (Request(1, None, None, 50.0, True, None, None, 0.02, 0.0), "needs --events or --duration"),
        (Request(1, 10, None, None, False, None, None, 1.5, 0.0), "--fraud-rate must be in [0, 1)"),
        (Request(1, 0, None, None, False, None, None, 0.02, 0.0), "--events must be positive"),
    ],
)
def test_bad_options_are_refused(request_: Request, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("[", r"\[").replace(")", r"\)")):
        to_config(request_)


@pytest.mark.parametrize(
    ("text", "ms"), [("10s", 10_000), ("5m", 300_000), ("2h", 7_200_000), ("3w", 21 * DAY_MS)]
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration(text) == ms


def test_parse_duration_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="expected a duration such as"):
        parse_duration("fortnight")


def test_shards_split_customers_and_payments_without_overlap() -> None:
    config = SimConfig(seed=5, events=20_001, start_ms=START, shards=2)
    from dataclasses import replace

    from fraudlake.simulator.generator import all_customers

    shard_items = [list(Simulation(replace(config, shard=k)).items()) for k in range(2)]
    payments = [[item.payment for item in items if item.payment] for items in shard_items]
    assert [len(p) for p in payments] == [10_001, 10_000]
    customers = [{p.customer_id for p in shard} for shard in payments]
    assert not customers[0] & customers[1]
    ids = [p.payment_id for shard in payments for p in shard]
    assert len(set(ids)) == len(ids)
    known = {c.profile.customer_id for c in all_customers(config)}
    assert customers[0] | customers[1] <= known
    frauds = sum(item.is_fraud for items in shard_items for item in items if item.payment)
    assert frauds / 20_001 == pytest.approx(0.02, rel=0.3)
