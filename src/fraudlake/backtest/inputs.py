"""What a backtest reads: payments, customer profiles and labels, from the contract's Parquet files
(the simulator's `--out`, `--customers-out`, `--truth-out`, `--chargebacks-out`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from fraudlake.contract import (
    CHARGEBACK,
    GROUND_TRUTH,
    PAYMENT,
    Chargeback,
    CustomerProfile,
    GroundTruth,
    Payment,
)
from fraudlake.rules.batch import read_profiles

CHARGEBACK_WINDOW_DAYS = 90
"""Days after a payment in which a chargeback may still come (dbt's var `chargeback_window_days`)."""


@dataclass
class History:
    payments: list[Payment]
    profiles: dict[str, CustomerProfile]
    truth: list[GroundTruth] | None = None
    chargebacks: list[Chargeback] = field(default_factory=list)


def _table(path: Path) -> object:
    import pyarrow.parquet as pq

    return pq.read_table(path)


def from_files(
    payments: Path, profiles: Path, truth: Path | None = None, chargebacks: Path | None = None
) -> History:
    return History(
        PAYMENT.from_arrow(_table(payments)),
        read_profiles(profiles),
        GROUND_TRUTH.from_arrow(_table(truth)) if truth else None,
        CHARGEBACK.from_arrow(_table(chargebacks)) if chargebacks else [],
    )
