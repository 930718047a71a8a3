"""The rule catalog: every rule the engines know, each one class (parameters, Python check, SQL).

A new rule is one class here, added to `CATALOG`: the rules file's schema, the batch scorer, the
streaming job's SQL, dbt's accepted rule ids and docs/rules.md all read it from the catalog. The
catalog's order is the job's fixed column order (its state layout), so new rules go at the end.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Annotated, Any

from pydantic import Field

from fraudlake.contract import Payment
from fraudlake.rules.definition import (
    DAY_MS,
    HOUR_MS,
    MINUTE_MS,
    Features,
    Params,
    Rule,
    SqlRule,
    half_up,
    literal,
    local_hour,
    text,
)
from fraudlake.validation import between

Count = Annotated[int, between(0, 10**6)]
Hour = Annotated[int, between(0, 24)]
Positive = Annotated[float, Field(gt=0)]


class FirstPayment(Rule[Params]):
    """No earlier successful payment by the customer (failed ones are counted in the reason)."""

    id = "FIRST_PAYMENT"

    def check(self, params: Params, payment: Payment, f: Features) -> str | None:
        if f.prior_successes:
            return None
        failed = f.prior_payments
        return "no earlier successful payment" + (f" ({failed} failed before)" if failed else "")

    def sql(self, params: Params) -> SqlRule:
        return SqlRule(
            "prior_successes = 0",
            "CONCAT('no earlier successful payment', CASE WHEN prior_payments > 0 THEN "
            f"CONCAT(' (', {text('prior_payments')}, ' failed before)') ELSE '' END)",
        )


class NewCustomerParams(Params):
    max_account_age_days: Positive = Field(description="registered less than this before the payment")


class NewCustomer(Rule[NewCustomerParams]):
    """A customer registered only recently, or one without a profile."""

    id = "NEW_CUSTOMER"
    params = NewCustomerParams
    tuning = {"max_account_age_days": (1, 3, 7, 14, 30)}

    def check(self, params: NewCustomerParams, payment: Payment, f: Features) -> str | None:
        if f.profile is None:
            return "no customer profile"
        age_ms = payment.event_time - f.profile.registered_at
        if age_ms >= round(params.max_account_age_days * DAY_MS):
            return None
        age_ms = max(age_ms, 0)
        return f"registered {age_ms // DAY_MS}d {age_ms % DAY_MS // HOUR_MS}h before"

    def sql(self, params: NewCustomerParams) -> SqlRule:
        limit_ms = round(params.max_account_age_days * DAY_MS)
        age = "GREATEST(event_time - profile_registered_ms, 0)"
        days, hours = text(f"{age} / {DAY_MS}"), text(f"MOD({age}, {DAY_MS}) / {HOUR_MS}")
        return SqlRule(
            f"profile_customer_id IS NULL OR event_time - profile_registered_ms < {limit_ms}",
            "CASE WHEN profile_customer_id IS NULL THEN 'no customer profile' ELSE CONCAT('registered ', "
            f"{days}, 'd ', {hours}, 'h before') END",
        )


class UnusualHourParams(Params):
    from_hour: Hour = Field(description="first local hour of the window, in [from_hour, to_hour)")
    to_hour: Hour = Field(description="local hour the window ends before (a window may wrap midnight)")


class UnusualHour(Rule[UnusualHourParams]):
    """A payment at night in the customer's own time zone (UTC when the customer is unknown)."""

    id = "UNUSUAL_HOUR"
    params = UnusualHourParams
    tuning = {"from_hour": (0, 1, 2, 3), "to_hour": (4, 5, 6)}

    def check(self, params: UnusualHourParams, payment: Payment, f: Features) -> str | None:
        timezone = f.profile.timezone if f.profile else None
        hour = local_hour(payment.event_time, timezone)
        start, end = params.from_hour, params.to_hour
        inside = start <= hour < end if start <= end else (hour >= start or hour < end)
        return f"{hour:02d}h local ({timezone or 'UTC'})" if inside else None

    def sql(self, params: UnusualHourParams) -> SqlRule:
        start, end = params.from_hour, params.to_hour
        inside = (
            f"local_hour >= {start} AND local_hour < {end}"
            if start <= end
            else f"(local_hour >= {start} OR local_hour < {end})"
        )
        return SqlRule(
            inside,
            "CONCAT(LPAD(CAST(local_hour AS STRING), 2, '0'), 'h local (', "
            "COALESCE(profile_timezone, 'UTC'), ')')",
        )


class MobileDeviceParams(Params):
    device_types: list[str] = Field(min_length=1, description="device types that count as mobile")


class MobileDevice(Rule[MobileDeviceParams]):
    """A payment from a mobile device."""

    id = "MOBILE_DEVICE"
    params = MobileDeviceParams

    def check(self, params: MobileDeviceParams, payment: Payment, f: Features) -> str | None:
        return payment.device_type if payment.device_type in params.device_types else None

    def sql(self, params: MobileDeviceParams) -> SqlRule:
        types = ", ".join(literal(t) for t in params.device_types)
        return SqlRule(f"device_type IN ({types})", "device_type")


class DirectTraffic(Rule[Params]):
    """No UTM source and no referrer: the customer did not arrive through any campaign or link."""

    id = "DIRECT_TRAFFIC"

    def check(self, params: Params, payment: Payment, f: Features) -> str | None:
        direct = payment.utm_source is None and payment.referrer is None
        return "no UTM source or referrer" if direct else None

    def sql(self, params: Params) -> SqlRule:
        return SqlRule("utm_source IS NULL AND referrer IS NULL", "'no UTM source or referrer'")


class PaymentFailed(Rule[Params]):
    """The payment failed (the reason names the failure)."""

    id = "PAYMENT_FAILED"

    def check(self, params: Params, payment: Payment, f: Features) -> str | None:
        return payment.failure_reason or "failed" if payment.status == "failed" else None

    def sql(self, params: Params) -> SqlRule:
        return SqlRule("status = 'failed'", "COALESCE(failure_reason, 'failed')")


class VelocityParams(Params):
    min_payments: Count = Field(description="this many payments (any status, this one included) ...")
    window_minutes: Count = Field(description="... within this many minutes up to this one (inclusive)")


class Velocity(Rule[VelocityParams]):
    """Many payments by one customer in a short time."""

    id = "VELOCITY"
    params = VelocityParams
    # min_payments is the job's LAG offset, part of its state: a deploy cannot change it
    tuning = {"window_minutes": (2, 5, 10, 20, 30, 60)}

    def check(self, params: VelocityParams, payment: Payment, f: Features) -> str | None:
        span = f.velocity_span_ms
        if span is None or span > params.window_minutes * MINUTE_MS:
            return None
        return f"{params.min_payments} payments in {span // MINUTE_MS}m {span % MINUTE_MS // 1000}s"

    def sql(self, params: VelocityParams) -> SqlRule:
        return SqlRule(
            f"velocity_span_ms <= {params.window_minutes * MINUTE_MS}",
            f"CONCAT('{params.min_payments} payments in ', {text(f'velocity_span_ms / {MINUTE_MS}')}, "
            f"'m ', {text(f'MOD(velocity_span_ms, {MINUTE_MS}) / 1000')}, 's')",
        )


class GeoMismatch(Rule[Params]):
    """The IP's country differs from the customer's country."""

    id = "GEO_MISMATCH"

    def check(self, params: Params, payment: Payment, f: Features) -> str | None:
        if f.profile is None or payment.ip_country == f.profile.country:
            return None
        return f"IP in {payment.ip_country}, customer in {f.profile.country}"

    def sql(self, params: Params) -> SqlRule:
        return SqlRule(
            "profile_customer_id IS NOT NULL AND ip_country <> profile_country",
            "CONCAT('IP in ', ip_country, ', customer in ', profile_country)",
        )


class NewDevice(Rule[Params]):
    """A device fingerprint never seen for a customer who has paid before."""

    id = "NEW_DEVICE"

    def check(self, params: Params, payment: Payment, f: Features) -> str | None:
        if f.device_seen or not f.prior_payments:
            return None
        return (
            f"{payment.device_type} {payment.device_fingerprint} not seen in "
            f"{f.prior_payments} earlier payments"
        )

    def sql(self, params: Params) -> SqlRule:
        return SqlRule(
            "NOT device_seen AND prior_payments > 0",
            "CONCAT(device_type, ' ', device_fingerprint, ' not seen in ', "
            f"{text('prior_payments')}, ' earlier payments')",
        )


class UnusualAmountParams(Params):
    ratio: Positive = Field(description="amount > ratio x the customer's average successful amount")
    min_history: Count = Field(description="only once the average rests on this many successful payments")


class UnusualAmount(Rule[UnusualAmountParams]):
    """An amount far above the customer's average successful payment."""

    id = "UNUSUAL_AMOUNT"
    params = UnusualAmountParams
    tuning = {"ratio": (2.0, 3.0, 4.0, 6.0, 10.0), "min_history": (1, 2, 3, 5)}

    def check(self, params: UnusualAmountParams, payment: Payment, f: Features) -> str | None:
        n, total = f.prior_successes, f.prior_success_sum
        if n < max(params.min_history, 1):
            return None
        if payment.amount * n <= Decimal(str(params.ratio)) * total:
            return None
        ratio = half_up(payment.amount * n / total, "0.1")
        return f"{payment.amount} {payment.currency} = {ratio}x the average {half_up(total / n, '0.01')}"

    def sql(self, params: UnusualAmountParams) -> SqlRule:
        ratio = Decimal(str(params.ratio))
        return SqlRule(
            f"prior_successes >= {max(params.min_history, 1)} AND amount * prior_successes > "
            f"CAST({ratio} AS DECIMAL(20, 6)) * prior_success_sum",
            f"CONCAT({text('amount')}, ' ', currency, ' = ', "
            f"{text('ROUND(amount * prior_successes / prior_success_sum, 1)')}, 'x the average ', "
            f"{text('ROUND(prior_success_sum / prior_successes, 2)')})",
        )


CATALOG: dict[str, Rule[Any]] = {
    rule.id: rule
    for rule in (
        FirstPayment(),
        NewCustomer(),
        UnusualHour(),
        MobileDevice(),
        DirectTraffic(),
        PaymentFailed(),
        Velocity(),
        GeoMismatch(),
        NewDevice(),
        UnusualAmount(),
    )
}


@contextmanager
def extended(rule: Rule[Any]) -> Iterator[None]:
    """The catalog with one more rule for the duration (tests that add a rule)."""
    if rule.id in CATALOG:
        raise ValueError(f"{rule.id} is already in the catalog")
    CATALOG[rule.id] = rule
    try:
        yield
    finally:
        del CATALOG[rule.id]


def markdown() -> str:
    """The catalog as a documentation page (docs/rules.md is this output; a test keeps it so)."""
    lines = [
        "# The rule catalog",
        "",
        "Every rule the engines know, in the job's fixed order. A rules file picks rules from here and",
        "sets their points and parameters ([the shipped v1](../src/fraudlake/rules/default.yaml)).",
        "Generated by `python -m fraudlake.rules.catalog > docs/rules.md`; do not edit by hand.",
    ]
    for rule in CATALOG.values():
        lines += ["", f"## {rule.id}", "", rule.summary(), ""]
        parameters = rule.parameter_docs()
        if not parameters:
            lines.append("Parameters: none (only `points`).")
            continue
        lines += ["| parameter | type | meaning |", "|---|---|---|"]
        lines += [f"| `{name}` | {kind} | {doc} |" for name, (doc, kind) in parameters.items()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown(), end="")
