"""Search a better rules version on a training period, under an alert budget, for an objective.

The search moves one thing at a time from a start (the live rules, then seeded random starts):
a rule's points (0 to the score cap, steps of 5) together with one of its parameter variants (the
catalog's `tuning` values), an `alert.always` rule in or out. For each such move, every threshold
is weighed at once from per-score counts, and the move is kept if it ranks higher: within budget
first, then the objective, then fewer alerts. Severity bands follow the result: MEDIUM from the
threshold, HIGH from the lowest score at which at least half of the training period's labelled
alerts are fraud.

Only the training period's payments and labels enter the search. The candidate keeps the live
rules' ids and VELOCITY.min_payments (a rule at 0 points stays in the file), so the job restores
it from a savepoint like any deploy.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

from fraudlake.backtest.figures import Budget
from fraudlake.backtest.labels import Labels
from fraudlake.backtest.replay import Mask, Replay
from fraudlake.rules.catalog import CATALOG
from fraudlake.rules.definition import DAY_MS, Params
from fraudlake.rules.ruleset import RuleSet, RuleSetting, content_sha256

POINT_STEP = 5
HIGH_PRECISION = 0.5
"""HIGH starts where at least this share of the training period's labelled alerts are fraud."""


@dataclass(frozen=True)
class Objective:
    """`fraud`: frauds caught. `value`: fraud value caught (EUR) minus `alert_cost_eur` per
    legitimate payment alerted (an analyst's review, a customer bothered)."""

    name: str = "fraud"
    alert_cost_eur: float = 0.0

    def describe(self) -> str:
        if self.name == "value":
            return f"fraud value caught minus {self.alert_cost_eur:g} EUR per legitimate payment alerted"
        return "frauds caught"


@dataclass(frozen=True)
class Split:
    """A time split: the search sees only `train`; the report measures `holdout`, which is later."""

    train: Mask
    holdout: Mask
    holdout_from_ms: int


def time_split(
    replay: Replay, scope: Mask, holdout_from_ms: int | None = None, holdout_share: float = 0.3
) -> Split:
    """Split `scope` at `holdout_from_ms`, or at the day boundary leaving the last `holdout_share` of
    its days (at least one) to the holdout."""
    if holdout_from_ms is None:
        days = np.unique(replay.day[scope])
        if len(days) < 2:
            raise ValueError(f"a time split needs at least 2 days of payments, the period has {len(days)}")
        held = max(1, round(len(days) * holdout_share))
        holdout_from_ms = int(days[-held]) * DAY_MS
    later = replay.event_time >= holdout_from_ms
    split = Split(scope & ~later, scope & later, holdout_from_ms)
    if not split.train.any() or not split.holdout.any():
        raise ValueError("the split leaves the training or the holdout period without payments")
    return split


def variants(setting: RuleSetting) -> list[Params]:
    """The rule's parameters as set, then each combination of its catalog tuning values."""
    rule = CATALOG[setting.id]
    found = [setting.params]
    names = list(rule.tuning)
    for values in itertools.product(*(rule.tuning[n] for n in names)):
        candidate = setting.params.model_dump() | dict(zip(names, values, strict=True))
        if setting.id == "UNUSUAL_HOUR" and candidate["from_hour"] >= candidate["to_hour"]:
            continue
        params = rule.params.model_validate(candidate)
        if params not in found:
            found.append(params)
    return found


@dataclass
class _Train:
    """The training period as arrays the search reads."""

    fraud: npt.NDArray[np.bool_]
    legit: npt.NDArray[np.bool_]
    unflagged: npt.NDArray[np.bool_]
    """Not known to be fraud: legitimate, or pending (what the budget and an alert's cost count)."""
    eur: npt.NDArray[np.float64]
    days: int


@dataclass
class _State:
    choice: dict[str, tuple[int, int]]
    """Rule id -> (variant index, points)."""
    always: frozenset[str]


class Search:
    def __init__(
        self, replay: Replay, labels: Labels, live: RuleSet, train: Mask, budget: Budget, objective: Objective
    ) -> None:
        self.live, self.budget, self.objective, self.cap = live, budget, objective, live.score_cap
        index = np.flatnonzero(train)
        self.variants = {rule_id: variants(setting) for rule_id, setting in live.rules.items()}
        self.hits = {
            rule_id: [replay.hits(rule_id, params)[index] for params in found]
            for rule_id, found in self.variants.items()
        }
        fraud = (labels.known & labels.fraud)[index]
        legit = labels.legit[index]
        self.train = _Train(fraud, legit, ~fraud, replay.amount_eur[index], len(np.unique(replay.day[index])))
        self.points = range(0, self.cap + 1, POINT_STEP)
        self.evaluations = 0

    def _total(self, state: _State, skip: str | None = None) -> npt.NDArray[np.int64]:
        total = np.zeros(len(self.train.fraud), np.int64)
        for rule_id, (variant, points) in state.choice.items():
            if rule_id != skip and points:
                total += self.hits[rule_id][variant] * points
        return total

    def _always(self, state: _State) -> npt.NDArray[np.bool_]:
        hit = np.zeros(len(self.train.fraud), np.bool_)
        for rule_id in state.always:
            hit |= self.hits[rule_id][state.choice[rule_id][0]]
        return hit

    def _best_threshold(
        self, total: npt.NDArray[np.int64], always: npt.NDArray[np.bool_]
    ) -> tuple[tuple[Any, ...], int]:
        """The rank of the best threshold for these scores, and that threshold (1..cap)."""
        self.evaluations += 1
        t = self.train
        score = np.minimum(total, self.cap)
        rest = ~always

        def from_top(
            weights: npt.NDArray[Any] | None, mask: npt.NDArray[np.bool_]
        ) -> npt.NDArray[np.float64]:
            counts = np.bincount(
                score[mask], weights=None if weights is None else weights[mask], minlength=self.cap + 1
            )
            return np.cumsum(counts[::-1])[::-1].astype(np.float64)

        alerts = from_top(None, rest) + always.sum()
        caught = from_top(None, rest & t.fraud) + (always & t.fraud).sum()
        false = from_top(None, rest & t.unflagged) + (always & t.unflagged).sum()
        if self.objective.name == "value":
            value = from_top(t.eur, rest & t.fraud) + t.eur[always & t.fraud].sum()
            gain = value - self.objective.alert_cost_eur * false
        else:
            gain = caught
        if self.budget.alerts_per_day is not None:
            excess = np.maximum(alerts / max(t.days, 1) / self.budget.alerts_per_day - 1, 0)
        else:
            share = false / max(int(t.unflagged.sum()), 1)
            excess = np.maximum(share / (self.budget.legit_share or 1) - 1, 0)
        best: tuple[tuple[Any, ...], int] | None = None
        for threshold in range(1, self.cap + 1):
            feasible = excess[threshold] == 0
            rank = (
                feasible,
                gain[threshold] if feasible else -excess[threshold],
                -alerts[threshold],
                threshold,
            )
            if best is None or rank > best[0]:
                best = (rank, threshold)
        assert best is not None
        return best

    def _climb(self, state: _State) -> tuple[tuple[Any, ...], _State, int]:
        rank, threshold = self._best_threshold(self._total(state), self._always(state))
        improved = True
        while improved:
            improved = False
            for rule_id in self.live.rules:
                base, always = self._total(state, skip=rule_id), self._always(state)
                for variant, hits in enumerate(self.hits[rule_id]):
                    trial_always = always
                    if rule_id in state.always and variant != state.choice[rule_id][0]:
                        trial = _State(state.choice | {rule_id: (variant, 0)}, state.always)
                        trial_always = self._always(trial)
                    for points in self.points:
                        found = self._best_threshold(base + hits * points, trial_always)
                        if found[0] > rank:
                            rank, threshold = found
                            state = _State(state.choice | {rule_id: (variant, points)}, state.always)
                            improved = True
            for always_id in self.live.always_alert:
                trial = _State(state.choice, state.always ^ {always_id})
                found = self._best_threshold(self._total(trial), self._always(trial))
                if found[0] > rank:
                    rank, threshold, state, improved = found[0], found[1], trial, True
        return rank, state, threshold

    def run(self, starts: int = 4, seed: int = 0) -> tuple[_State, int]:
        rng = random.Random(seed)  # noqa: S311 (a seeded search, not a secret)
        live = {rule_id: (0, setting.points) for rule_id, setting in self.live.rules.items()}
        best = self._climb(_State(live, self.live.always_alert))
        for _ in range(starts):
            start = {
                rule_id: (rng.randrange(len(found)), rng.choice(list(self.points)))
                for rule_id, found in self.variants.items()
            }
            found = self._climb(_State(start, self.live.always_alert))
            if found[0] > best[0]:
                best = found
        return best[1], best[2]

    def rules(self, state: _State, threshold: int, version: str) -> RuleSet:
        settings = {
            rule_id: RuleSetting(rule_id, points, self.variants[rule_id][variant])
            for rule_id, (variant, points) in state.choice.items()
        }
        candidate = replace(
            self.live,
            version=version,
            alert_threshold=threshold,
            always_alert=state.always,
            rules=settings,
        )
        return replace(candidate, medium_from=threshold, high_from=self._high_from(state, threshold))

    def _high_from(self, state: _State, threshold: int) -> int:
        score = np.minimum(self._total(state), self.cap)
        labelled = self.train.fraud | self.train.legit
        for level in range(threshold, self.cap + 1):
            above = labelled & (score >= level)
            if above.any() and self.train.fraud[above].mean() >= HIGH_PRECISION:
                return level
        return self.cap


@dataclass(frozen=True)
class Tuning:
    """What a tuning run searches for, and on which training period."""

    budget: Budget
    objective: Objective
    split: Split
    version: str | None
    """The candidate's rules version (None: `<rules>-tuned-<holdout start>-<content digest>`, so
    two different candidates never share a version)."""
    starts: int = 4
    """Random starts beside the live rules."""
    seed: int = 0
    train_labels: Labels | None = None
    """The labels known when the holdout begins (chargebacks reported later are the holdout's), for
    the search and the training figures; default: the run's."""


def tune(replay: Replay, labels: Labels, live: RuleSet, tuning: Tuning) -> tuple[RuleSet, int]:
    """The candidate rules version found on the training period, and how many configurations the
    search weighed."""
    search = Search(replay, labels, live, tuning.split.train, tuning.budget, tuning.objective)
    state, threshold = search.run(tuning.starts, tuning.seed)
    candidate = search.rules(state, threshold, tuning.version or "")
    if tuning.version is None:
        held = datetime.fromtimestamp(tuning.split.holdout_from_ms / 1000, UTC).strftime("%Y%m%d")
        digest = content_sha256(candidate)[:6]
        candidate = replace(candidate, version=f"{live.version}-tuned-{held}-{digest}")
    return candidate, search.evaluations * live.score_cap
