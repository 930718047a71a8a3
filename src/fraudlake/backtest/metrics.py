"""The figures of one rules version on one period: detection, the analysts' load, value, per rule,
per scenario or persona, per day. Only payments with a known label enter a rate; pending ones
are counted apart.

Money is compared across currencies in EUR (`Replay.amount_eur`).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from fraudlake.backtest.figures import Budget, Figures
from fraudlake.backtest.labels import Labels
from fraudlake.backtest.replay import Mask, Replay, date_of
from fraudlake.backtest.scoring import Scores


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


def figures(
    replay: Replay, scores: Scores, labels: Labels, scope: Mask, budget: Budget | None = None
) -> Figures:
    known, fraud, alert = labels.known & scope, labels.fraud & labels.known & scope, scores.alert & scope
    legit = known & ~labels.fraud
    eur = replay.amount_eur
    days = len(np.unique(replay.day[scope]))
    caught, false_alerts = int((alert & fraud).sum()), int((alert & legit).sum())
    k = budget.alerts_per_day if budget else None
    return Figures(
        payments=int(scope.sum()),
        labelled=int(known.sum()),
        pending=int((scope & ~labels.known).sum()),
        frauds=int(fraud.sum()),
        legit=int(legit.sum()),
        alerts=int(alert.sum()),
        caught=caught,
        false_alerts=false_alerts,
        recall=_rate(caught, int(fraud.sum())),
        precision=_rate(caught, caught + false_alerts),
        legit_alerted=_rate(false_alerts, int(legit.sum())),
        days=days,
        alerts_per_day=int(alert.sum()) / days if days else 0.0,
        fraud_value_eur=round(float(eur[fraud].sum()), 2),
        fraud_value_caught_eur=round(float(eur[alert & fraud].sum()), 2),
        good_value_alerted_eur=round(float(eur[alert & legit].sum()), 2),
        top_k=k,
        top_k_precision=_top_k_precision(replay, scores, labels, alert, int(k)) if k else None,
    )


def _top_k_precision(replay: Replay, scores: Scores, labels: Labels, alert: Mask, k: int) -> float | None:
    """Each day's k highest-scored alerts (ties: earlier first), precision over their labelled ones."""
    index = np.flatnonzero(alert)
    if not len(index) or k < 1:
        return None
    order = index[np.lexsort((replay.event_time[index], -scores.score[index], replay.day[index]))]
    day = replay.day[order]
    starts = np.r_[0, np.flatnonzero(np.diff(day)) + 1]
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    top = order[rank < k]
    labelled = top[labels.known[top]]
    return _rate(int(labels.fraud[labelled].sum()), len(labelled))


def per_rule(scores: Scores, labels: Labels, scope: Mask) -> list[dict[str, Any]]:
    """Each rule alone: how often it fires on fraud and on legitimate payments, and in alerts."""
    fraud, legit = labels.known & labels.fraud & scope, labels.legit & scope
    rows = []
    for rule_id, hits in scores.fired.items():
        hit = hits & scope
        on_fraud, on_legit = int((hit & fraud).sum()), int((hit & legit).sum())
        rows.append(
            {
                "rule": rule_id,
                "hits": int(hit.sum()),
                "in_alerts": int((hit & scores.alert).sum()),
                "fraud_hit": _rate(on_fraud, int(fraud.sum())),
                "legit_hit": _rate(on_legit, int(legit.sum())),
                "precision": _rate(on_fraud, on_fraud + on_legit),
            }
        )
    return rows


def per_group(scores: Scores, labels: Labels, scope: Mask) -> list[dict[str, Any]]:
    """Per simulator scenario (recall) and legitimate persona (share alerted); empty without truth."""
    if labels.group is None:
        return []
    rows = []
    known = labels.known & scope
    for group in sorted(set(labels.group[known].tolist())):
        members = known & (labels.group == group)
        is_fraud = bool(labels.fraud[members].any())
        alerted = int((members & scores.alert).sum())
        rows.append(
            {
                "group": group,
                "kind": "fraud scenario" if is_fraud else "legitimate persona",
                "payments": int(members.sum()),
                "alerted": alerted,
                "share_alerted": _rate(alerted, int(members.sum())),
            }
        )
    return rows


def per_day(replay: Replay, scores: Scores, labels: Labels, scope: Mask) -> list[dict[str, Any]]:
    rows = []
    for day in np.unique(replay.day[scope]).tolist():
        today = scope & (replay.day == day)
        fraud, legit, alert = labels.known & labels.fraud & today, labels.legit & today, scores.alert & today
        rows.append(
            {
                "day": date_of(day),
                "payments": int(today.sum()),
                "pending": int((today & ~labels.known).sum()),
                "alerts": int(alert.sum()),
                "frauds": int(fraud.sum()),
                "caught": int((alert & fraud).sum()),
                "recall": _rate(int((alert & fraud).sum()), int(fraud.sum())),
                "legit_alerted": _rate(int((alert & legit).sum()), int(legit.sum())),
            }
        )
    return rows
