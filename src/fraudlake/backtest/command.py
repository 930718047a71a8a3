"""`fraudlake backtest`: read labelled history, replay it, measure (and tune), write the results."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from fraudlake.backtest import inputs
from fraudlake.platform.context import Context
from fraudlake.rules import ruleset


def add_parser(sub: Any) -> None:
    bt = sub.add_parser(
        "backtest", help="measure rules on labelled history; --tune proposes a better version"
    )
    bt.add_argument("--input", type=Path, required=True, help="payments Parquet (the contract's format)")
    bt.add_argument("--profiles", type=Path, required=True, help="customer profiles Parquet")
    bt.add_argument("--truth", type=Path, help="simulator ground truth Parquet (labels: simulator truth)")
    bt.add_argument(
        "--chargebacks", type=Path, help="chargebacks Parquet (labels: chargebacks, with their window)"
    )
    bt.add_argument("--labels", choices=["truth", "chargebacks"], help="default: truth when --truth is given")
    bt.add_argument("--chargeback-window-days", type=int, default=inputs.CHARGEBACK_WINDOW_DAYS)
    bt.add_argument("--as-of", help="ISO date the chargebacks are known up to (default: the data's last day)")
    bt.add_argument("--rules", type=Path, help="rules to measure (default: the live rules)")
    bt.add_argument("--live", type=Path, help="the live rules to compare with (default: the packaged v1)")
    bt.add_argument(
        "--from", dest="start", help="first ISO date measured (earlier payments still feed history)"
    )
    bt.add_argument("--to", dest="end", help="last ISO date measured")
    bt.add_argument("--budget", help="analysts' budget: alerts per day (200/day) or legitimate share (1%%)")
    bt.add_argument("--tune", action="store_true", help="search a candidate rules version (needs --budget)")
    bt.add_argument("--objective", choices=["fraud", "value"], default="fraud")
    bt.add_argument(
        "--alert-cost", type=float, default=5.0, help="EUR per legitimate payment alerted (value)"
    )
    bt.add_argument(
        "--holdout-from", help="ISO date the holdout period starts (default: its last 30%% of days)"
    )
    bt.add_argument("--version", help="the candidate's rules version (default: <live>-tuned-<holdout start>)")
    bt.add_argument("--seed", type=int, default=0, help="the search's random starts")
    bt.add_argument(
        "--out", type=Path, help="write report.md, metrics.json and the candidate rules.yaml here"
    )
    bt.add_argument("--json", action="store_true", help="print metrics.json instead of the report")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.backtest import labels, report
    from fraudlake.backtest.metrics import Budget, BudgetError
    from fraudlake.backtest.replay import Replay, date_of
    from fraudlake.backtest.run import backtest, day_ms
    from fraudlake.backtest.tune import Objective, Tuning, time_split
    from fraudlake.rules.history import velocity_count

    try:
        live = ruleset.load(args.live) if args.live else ruleset.load()
        rules = ruleset.load(args.rules) if args.rules else live
        budget = Budget.parse(args.budget) if args.budget else None
    except (ruleset.RulesError, BudgetError) as exc:
        return _fail(str(exc))
    if args.tune and budget is None:
        return _fail("--tune needs --budget (alerts per day, e.g. 200/day, or a share, e.g. 1%)")
    source = args.labels or ("truth" if args.truth else "chargebacks")
    if source == "truth" and not args.truth:
        return _fail("--labels truth needs --truth FILE")
    if source == "chargebacks" and not args.chargebacks:
        return _fail("labels: give --truth FILE (simulated traffic) or --chargebacks FILE")
    began = time.monotonic()
    history = inputs.from_files(args.input, args.profiles, args.truth, args.chargebacks)
    replay = Replay.build(history.payments, history.profiles, velocity_count(rules))
    featured = time.monotonic() - began
    if source == "truth":
        assert history.truth is not None
        labelled = labels.from_truth(replay, history.truth)
    else:
        latest = max([int(replay.event_time.max()), *(c.reported_at for c in history.chargebacks)])
        as_of = day_ms(args.as_of) if args.as_of else latest
        labelled = labels.from_chargebacks(replay, history.chargebacks, args.chargeback_window_days, as_of)
    scope = replay.between(
        day_ms(args.start) if args.start else None, day_ms(args.end) + 86_400_000 if args.end else None
    )
    tuning = None
    try:
        if args.tune:
            assert budget is not None
            split = time_split(replay, scope, day_ms(args.holdout_from) if args.holdout_from else None)
            version = (
                args.version
                or f"{live.version}-tuned-{date_of(split.holdout_from_ms // 86_400_000).replace('-', '')}"
            )
            tuning = Tuning(
                budget, Objective(args.objective, args.alert_cost), split, version, seed=args.seed
            )
        result = backtest(replay, labelled, rules, live, scope, budget, tuning)
    except ValueError as exc:
        return _fail(str(exc))
    candidate = result.pop("candidate", None)
    result["seconds"] = {"features": round(featured, 2), "total": round(time.monotonic() - began, 2)}
    candidate_file = None
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        if candidate is not None:
            candidate_file = str(args.out / "rules.yaml")
            header = (
                f"fraudlake rules, version {candidate.version}: a candidate of `fraudlake backtest --tune` "
                f"from {live.version}.\nSee report.md beside it. Not live until a person deploys it "
                "(fraudlake rules deploy)."
            )
            Path(candidate_file).write_text(ruleset.dump(candidate, header))
        (args.out / "metrics.json").write_text(json.dumps(result, indent=2) + "\n")
        (args.out / "report.md").write_text(report.markdown(result, candidate_file))
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(report.markdown(result, candidate_file))
    return 0
