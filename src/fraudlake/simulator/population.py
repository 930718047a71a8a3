"""The customer base: profiles for PostgreSQL plus each customer's private spending habits.

Personas give legitimate traffic that trips naive rules (night owls, travellers, mobile-only and
direct shoppers, genuinely new customers), so measured false positives are honest.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass

from fraudlake.contract import SCHEMA_VERSION, CustomerProfile

DAY_MS = 86_400_000

# country, time zone, currency, weight, UTC offset in hours (for local-hour behaviour; no DST)
COUNTRIES: tuple[tuple[str, str, str, float, int], ...] = (
    ("DE", "Europe/Berlin", "EUR", 0.30, 1),
    ("PL", "Europe/Warsaw", "PLN", 0.20, 1),
    ("FR", "Europe/Paris", "EUR", 0.12, 1),
    ("GB", "Europe/London", "GBP", 0.12, 0),
    ("NL", "Europe/Amsterdam", "EUR", 0.08, 1),
    ("SE", "Europe/Stockholm", "SEK", 0.06, 1),
    ("CZ", "Europe/Prague", "CZK", 0.05, 1),
    ("US", "America/New_York", "USD", 0.07, -5),
)
FRAUD_COUNTRIES = ("NG", "RU", "BR", "VN", "ID", "RO", "UA", "CN")
EMAIL_DOMAINS = ("gmail.com", "outlook.com", "yahoo.com", "web.de", "wp.pl", "orange.fr", "icloud.com")
DISPOSABLE_DOMAINS = ("mailinator.com", "tempmail.dev", "guerrillamail.com")
UTM_SOURCES = ("google", "facebook", "instagram", "newsletter", "tiktok", "affiliate")
REFERRERS = ("https://www.google.com/", "https://www.facebook.com/", "https://t.co/", "https://www.bing.com/")
PERSONAS = ("regular", "night_owl", "traveller", "mobile_only", "direct_visitor", "new_customer")
PERSONA_WEIGHTS = (0.55, 0.08, 0.08, 0.12, 0.10, 0.07)


@dataclass(frozen=True)
class Device:
    type: str
    fingerprint: str


@dataclass
class Customer:
    """A profile (what the shop stores) and the habits the simulator draws payments from."""

    profile: CustomerProfile
    persona: str
    currency: str
    utc_offset_h: int
    devices: tuple[Device, ...]
    payment_method: str
    amount_mu: float
    amount_sigma: float
    activity: float
    direct_share: float
    ip_prefix: str


def fingerprint(rng: random.Random) -> str:
    return hashlib.blake2b(rng.getrandbits(64).to_bytes(8, "big"), digest_size=8).hexdigest()


def ip_in(prefix: str, rng: random.Random) -> str:
    return f"{prefix}.{rng.randrange(1, 255)}"


def random_prefix(rng: random.Random) -> str:
    return f"{rng.randrange(11, 223)}.{rng.randrange(0, 256)}.{rng.randrange(0, 256)}"


def build_population(seed: int, size: int, start_ms: int, end_ms: int) -> list[Customer]:
    """`size` customers, deterministic for `seed`; new customers register inside the window."""
    rng = random.Random(f"population-{seed}")
    weights = [c[3] for c in COUNTRIES]
    customers = []
    for index in range(size):
        country, tz, currency, _, offset = rng.choices(COUNTRIES, weights)[0]
        persona = rng.choices(PERSONAS, PERSONA_WEIGHTS)[0]
        if persona == "new_customer":
            registered = rng.randrange(start_ms, end_ms)
        else:
            registered = start_ms - rng.randrange(7 * DAY_MS, 5 * 365 * DAY_MS)
        if persona == "mobile_only":
            kinds = [rng.choice(("ios", "android"))]
        else:
            kinds = rng.sample(["web", "web", "ios", "android"], k=rng.choice((1, 1, 2)))
        devices = tuple(Device(kind, fingerprint(rng)) for kind in kinds)
        method = rng.choices(
            ("card", "paypal", "apple_pay", "google_pay", "bank_transfer"), (55, 20, 10, 10, 5)
        )[0]
        if method == "apple_pay" and all(d.type != "ios" for d in devices):
            method = "card"
        customers.append(
            Customer(
                profile=CustomerProfile(
                    customer_id=f"cus-{seed}-{index:07d}",
                    country=country,
                    timezone=tz,
                    registered_at=registered,
                    email_domain=rng.choice(EMAIL_DOMAINS),
                    schema_version=SCHEMA_VERSION,
                ),
                persona=persona,
                currency=currency,
                utc_offset_h=offset,
                devices=devices,
                payment_method=method,
                amount_mu=rng.gauss(3.6, 0.6),
                amount_sigma=rng.uniform(0.3, 0.8),
                activity=rng.paretovariate(2.0),
                direct_share=0.85 if persona == "direct_visitor" else rng.uniform(0.05, 0.3),
                ip_prefix=random_prefix(rng),
            )
        )
    return customers


def build_fraud_accounts(seed: int, count: int, start_ms: int, end_ms: int, shard: int = 0) -> list[Customer]:
    """Accounts fraudsters open (new-account fraud, card testing): fresh, disposable, foreign IPs."""
    rng = random.Random(f"fraud-accounts-{seed}-{shard}")
    accounts = []
    for index in range(count):
        country, tz, currency, _, offset = rng.choice(COUNTRIES)
        accounts.append(
            Customer(
                profile=CustomerProfile(
                    customer_id=f"cus-{seed}-f{shard}-{index:06d}",
                    country=country,
                    timezone=tz,
                    registered_at=rng.randrange(start_ms, end_ms),
                    email_domain=rng.choice(DISPOSABLE_DOMAINS + EMAIL_DOMAINS[:2]),
                    schema_version=SCHEMA_VERSION,
                ),
                persona="fraudster",
                currency=currency,
                utc_offset_h=offset,
                devices=(Device(rng.choice(("web", "android")), fingerprint(rng)),),
                payment_method="card",
                amount_mu=5.5,
                amount_sigma=0.5,
                activity=0.0,
                direct_share=0.9,
                ip_prefix=random_prefix(rng),
            )
        )
    return accounts
