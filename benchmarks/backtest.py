"""Benchmark: backtests on simulated history, no platform needed.

In one command, on N simulated payments (default 1,000,000):
  1. the feature pass (every payment's features in event-time order) and the rules' hits;
  2. one configuration scored per payment by the engine (`rules.engine.evaluate`, the batch
     scorer's way): the baseline;
  3. the same configuration scored with arrays over the hits (`backtest.scoring`), 20 runs;
  4. a 1,000-configuration random search: each a full rules version (points, parameter variant,
     threshold) scored and measured on the training period;
  5. the tuning run (`--tune --budget 1%`), with its holdout figures beside v1's.
Prints the figures and writes benchmarks/results/backtest.json. Target (issue 17): >= 1,000,000
payments scored per second per configuration once features exist.
Usage: python benchmarks/backtest.py [PAYMENTS]
"""

from __future__ import annotations

import json
import random
import resource
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "backtest.json"


def main(events: int) -> dict[str, object]:
    from fraudlake.backtest import inputs, labels, metrics, scoring
    from fraudlake.backtest.figures import Budget
    from fraudlake.backtest.replay import Replay
    from fraudlake.backtest.tune import Objective, Tuning, time_split, tune, variants
    from fraudlake.rules import ruleset
    from fraudlake.rules.engine import evaluate
    from fraudlake.rules.history import velocity_count
    from fraudlake.rules.ruleset import RuleSetting
    from fraudlake.simulator.generator import SimConfig

    live = ruleset.load()
    config = SimConfig(seed=11, events=events, start_ms=1_790_000_000_000)
    began = time.perf_counter()
    history = inputs.from_simulation(config)
    payments, truth, profiles = history.payments, history.truth or [], history.profiles
    simulated = time.perf_counter() - began

    began = time.perf_counter()
    replay = Replay.build(payments, profiles, velocity_count(live))
    feature_pass = time.perf_counter() - began
    began = time.perf_counter()
    scoring.score(replay, live)
    hits = time.perf_counter() - began

    sample = min(len(replay), 200_000)
    began = time.perf_counter()
    for p, f in zip(replay.payments[:sample], replay.features[:sample], strict=True):
        evaluate(live, p, f, 0)
    engine_rate = sample / (time.perf_counter() - began)
    runs = []
    for _ in range(20):
        began = time.perf_counter()
        scoring.score(replay, live)
        runs.append(time.perf_counter() - began)
    array_rate = len(replay) / statistics.median(runs)

    truth_labels = labels.from_truth(replay, truth)
    split = time_split(replay, replay.between(None, None))
    rng = random.Random(1)  # noqa: S311 (benchmark configurations)
    choices = {rule_id: variants(setting) for rule_id, setting in live.rules.items()}
    began = time.perf_counter()
    for _ in range(1000):
        settings = {
            rule_id: RuleSetting(rule_id, rng.randrange(0, 101, 5), rng.choice(found))
            for rule_id, found in choices.items()
        }
        candidate = replace(live, rules=settings, alert_threshold=rng.randrange(5, 101, 5))
        metrics.figures(replay, scoring.score(replay, candidate), truth_labels, split.train)
    search_1000 = time.perf_counter() - began

    began = time.perf_counter()
    tuned, weighed = tune(
        replay, truth_labels, live, Tuning(Budget(legit_share=0.01), Objective(), split, "v1-tuned")
    )
    tuning = time.perf_counter() - began
    holdout = {
        r.version: metrics.figures(replay, scoring.score(replay, r), truth_labels, split.holdout)
        for r in (live, tuned)
    }
    return {
        "payments": len(replay),
        "simulation_s": round(simulated, 1),
        "feature_pass_s": round(feature_pass, 1),
        "feature_pass_payments_per_s": round(len(replay) / feature_pass),
        "v1_hits_s": round(hits, 1),
        "engine_payments_per_s": round(engine_rate),
        "array_payments_per_s_per_configuration": round(array_rate),
        "array_vs_engine": round(array_rate / engine_rate, 1),
        "search_1000_configurations_s": round(search_1000, 1),
        "tuning_s": round(tuning, 1),
        "tuning_configurations_weighed": weighed,
        "holdout": {
            version: {
                "from_day": split.holdout_from_ms // 86_400_000,
                "recall": round(f.recall or 0, 4),
                "legit_alerted": round(f.legit_alerted or 0, 4),
                "precision": round(f.precision or 0, 4),
                "alerts_per_day": round(f.alerts_per_day, 1),
            }
            for version, f in holdout.items()
        },
        "candidate": ruleset.document(tuned),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
    }


if __name__ == "__main__":
    figures = main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
    print(json.dumps(figures, indent=2))
    RESULTS.write_text(json.dumps(figures, indent=2) + "\n")
