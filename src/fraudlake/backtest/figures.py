"""What a backtest reports, as plain data: the analysts' budget and one rules version's figures on
one period (`metrics.py` computes them; `record.py` stores them with these fields as columns)."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any


class BudgetError(ValueError):
    """A budget that is not `N/day` or `X%`."""


@dataclass(frozen=True)
class Budget:
    """What the analysts can work: alerts per day, or a share of legitimate payments alerted.

    A share counts the payments whose label is pending as legitimate: most are, and under
    chargeback labels no recent payment is known legitimate yet, so a share of the known ones alone
    would bind nothing. With complete labels (the simulator's truth) the two are the same."""

    alerts_per_day: float | None = None
    legit_share: float | None = None

    @classmethod
    def parse(cls, text: str) -> Budget:
        per_day = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*/\s*day\s*", text)
        share = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", text)
        if per_day and float(per_day.group(1)) > 0:
            return cls(alerts_per_day=float(per_day.group(1)))
        if share and 0 < float(share.group(1)) < 100:
            return cls(legit_share=float(share.group(1)) / 100)
        raise BudgetError(
            "budget: expected alerts per day (e.g. 200/day) or a share of legitimate payments "
            f"(e.g. 1%), got {text!r}"
        )

    def describe(self) -> str:
        if self.alerts_per_day is not None:
            return f"{self.alerts_per_day:g} alerts/day"
        return f"{(self.legit_share or 0) * 100:g}% of legitimate payments alerted (pending ones counted)"


@dataclass(frozen=True)
class Figures:
    payments: int
    labelled: int
    pending: int
    """Payments whose label is not known yet (their chargeback window is open): in no rate."""
    frauds: int
    legit: int
    alerts: int
    caught: int
    """Alerted frauds."""
    false_alerts: int
    """Alerted legitimate payments."""
    recall: float | None
    precision: float | None
    legit_alerted: float | None
    """Share of legitimate payments alerted (the false-positive rate)."""
    days: int
    alerts_per_day: float
    fraud_value_eur: float
    fraud_value_caught_eur: float
    good_value_alerted_eur: float
    top_k: float | None
    """The analysts' daily budget the next figure is measured at (alerts per day), if any."""
    top_k_precision: float | None
    """Frauds among each day's top_k alerts by score (labelled ones), all days together."""

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)
