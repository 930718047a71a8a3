"""What is known about each replayed payment, and from where, said plainly in every report.

- Chargebacks: a charged-back payment is fraud. A payment without a chargeback is only known to be
  legitimate once its chargeback window has closed; until then it is `pending`, counted in the
  report and kept out of every rate (counted as legitimate, it would lower recall's denominator
  and inflate the false-positive rate with frauds whose chargeback has not come yet).
- Simulator truth: every simulated payment's real outcome and its scenario or persona. It exists
  only for simulated traffic and is always named as such.
Analyst decisions are a third source once analysts record them; none exist yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fraudlake.backtest.replay import Mask, Replay, date_of
from fraudlake.contract import Chargeback, GroundTruth
from fraudlake.rules.definition import DAY_MS


@dataclass(frozen=True)
class Labels:
    source: str
    """How the labels were obtained, as the report names them."""
    fraud: Mask
    known: Mask
    """False where the label is not known yet (pending) or missing."""
    group: npt.NDArray[np.str_] | None = None
    """The simulator's fraud scenario or legitimate persona of each payment, when known."""

    @property
    def legit(self) -> Mask:
        return self.known & ~self.fraud


def from_truth(replay: Replay, truth: Iterable[GroundTruth]) -> Labels:
    """Labels from the simulator's ground truth (payments it has no record of are unknown)."""
    by_id = {t.payment_id: t for t in truth}
    found = [by_id.get(p.payment_id) for p in replay.payments]
    return Labels(
        "simulator truth (simulated traffic only)",
        np.array([t is not None and t.is_fraud for t in found], np.bool_),
        np.array([t is not None for t in found], np.bool_),
        np.array([t.scenario if t else "" for t in found], dtype=np.str_),
    )


def from_chargebacks(
    replay: Replay, chargebacks: Iterable[Chargeback], window_days: int, as_of_ms: int
) -> Labels:
    """Labels from the chargebacks reported by `as_of_ms`: fraud when charged back, legitimate once
    the payment's chargeback window closed without one, pending otherwise."""
    charged = {c.payment_id for c in chargebacks if c.reported_at <= as_of_ms}
    fraud = np.array([p.payment_id in charged for p in replay.payments], np.bool_)
    closed = replay.event_time + window_days * DAY_MS <= as_of_ms
    return Labels(
        f"chargebacks reported by {date_of(as_of_ms // DAY_MS)} (window {window_days} days)",
        fraud,
        fraud | closed,
    )
