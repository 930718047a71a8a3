"""A rules version scored over a replay with arrays: the rules file's semantics (points of the
rules that fire, capped; alert at the threshold or when an `alert.always` rule fires; severity by
the bands), as `rules.engine.evaluate` applies them to one payment. A unit test holds the two equal."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from fraudlake.backtest.replay import Mask, Replay
from fraudlake.rules.ruleset import RuleSet

SEVERITIES = np.array(["LOW", "MEDIUM", "HIGH"])


@dataclass(frozen=True)
class Scores:
    score: npt.NDArray[np.int64]
    alert: Mask
    fired: dict[str, Mask]
    """Rule id -> where it fired, in the rules file's order."""

    def severity(self, rules: RuleSet) -> npt.NDArray[np.str_]:
        level = (self.score >= rules.medium_from).astype(np.int64) + (self.score >= rules.high_from)
        return SEVERITIES[level]


def score(replay: Replay, rules: RuleSet) -> Scores:
    fired = {rule_id: replay.hits(rule_id, rule.params) for rule_id, rule in rules.rules.items()}
    total = np.zeros(len(replay), np.int64)
    for rule_id, hits in fired.items():
        total += hits * rules.rules[rule_id].points
    total = np.minimum(total, rules.score_cap)
    alert = total >= rules.alert_threshold
    for rule_id in rules.always_alert:
        alert |= fired[rule_id]
    return Scores(total, alert, fired)
