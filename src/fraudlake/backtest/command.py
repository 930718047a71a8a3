"""`fraudlake backtest`: labelled history from Parquet files (or the platform's Bronze), replayed,
measured and, with --tune, searched for a better rules version; the results printed and written."""

from __future__ import annotations

import argparse
import json
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from fraudlake.platform.context import Context
from fraudlake.rules import ruleset
from fraudlake.topics import CHARGEBACK_WINDOW_DAYS


def _file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text} does not exist")
    return path


def _date(text: str) -> str:
    try:
        date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an ISO date (YYYY-MM-DD)") from None
    return text


def _days(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of days (1 or more)")
    return int(text)


def add_parser(sub: Any) -> None:
    bt = sub.add_parser(
        "backtest", help="measure rules on labelled history; --tune proposes a better version"
    )
    source = bt.add_argument_group("history (default: the platform's Bronze and profiles in PostgreSQL)")
    source.add_argument("--input", type=_file, help="payments Parquet (the contract's format)")
    source.add_argument("--profiles", type=_file, help="customer profiles Parquet (with --input)")
    source.add_argument("--truth", type=_file, help="simulator ground truth Parquet")
    source.add_argument("--chargebacks", type=_file, help="chargebacks Parquet")
    bt.add_argument(
        "--labels",
        choices=["auto", "truth", "chargebacks"],
        default="auto",
        help="auto: the simulator's truth when there is any, else chargebacks",
    )
    bt.add_argument("--chargeback-window-days", type=_days, default=CHARGEBACK_WINDOW_DAYS)
    bt.add_argument(
        "--as-of",
        type=_date,
        help="ISO date chargebacks are known up to (default: now; with --input, the history's last day)",
    )
    bt.add_argument("--rules", type=_file, help="rules to measure (default: the live rules)")
    bt.add_argument(
        "--live",
        type=_file,
        help="the live rules (default: those of the scoring job's newest run; with --input or before "
        "any run, the packaged v1)",
    )
    bt.add_argument(
        "--from",
        dest="start",
        type=_date,
        help="first ISO date measured (earlier payments still feed history)",
    )
    bt.add_argument("--to", dest="end", type=_date, help="last ISO date measured")
    bt.add_argument("--budget", help="analysts' budget: alerts per day (200/day) or legitimate share (1%%)")
    bt.add_argument("--tune", action="store_true", help="search a candidate rules version (needs --budget)")
    bt.add_argument("--objective", choices=["fraud", "value"], default="fraud")
    bt.add_argument(
        "--alert-cost", type=float, default=5.0, help="EUR per legitimate payment alerted (value)"
    )
    bt.add_argument(
        "--holdout-from",
        type=_date,
        help="ISO date the holdout period starts (default: its last 30%% of days)",
    )
    bt.add_argument(
        "--version", help="the candidate's rules version (default: <rules>-tuned-<holdout start>)"
    )
    bt.add_argument("--seed", type=int, default=0, help="the search's random starts")
    bt.add_argument(
        "--out", type=Path, help="write report.md, metrics.json and the candidate rules.yaml here"
    )
    bt.add_argument("--json", action="store_true", help="print metrics.json instead of the report")


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr)
    return 2


def run(ctx: Context, args: argparse.Namespace) -> int:
    from fraudlake.backtest import inputs
    from fraudlake.backtest.figures import Budget, BudgetError
    from fraudlake.backtest.run import day_ms
    from fraudlake.backtest.runs import NothingToBacktest, Request, execute, write
    from fraudlake.backtest.tune import Objective

    if args.input and not args.profiles:
        return _fail("--input needs --profiles FILE (the customers' profiles)")
    if args.labels == "truth" and args.input and not args.truth:
        return _fail("--labels truth needs --truth FILE")
    if args.input and not (args.truth or args.chargebacks):
        return _fail("labels: give --truth FILE (simulated traffic) or --chargebacks FILE")
    try:
        live = ruleset.load(args.live) if args.live else ruleset.load()
        rules = ruleset.load(args.rules) if args.rules else live
        budget = Budget.parse(args.budget) if args.budget else None
    except (ruleset.RulesError, BudgetError) as exc:
        return _fail(str(exc))
    if args.tune and budget is None:
        return _fail("--tune needs --budget (alerts per day, e.g. 200/day, or a share, e.g. 1%)")
    began = time.monotonic()
    if args.input:
        history = inputs.from_files(args.input, args.profiles, args.truth, args.chargebacks)
    else:
        import psycopg

        from fraudlake.platform.postgres import APP_ROLE, Postgres

        try:
            with Postgres(ctx).connect(APP_ROLE) as conn:
                history = inputs.from_postgres(conn)
        except psycopg.OperationalError as exc:
            return _fail(f"the platform's PostgreSQL: {exc} (./fraudlake up starts it; or give --input FILE)")
    request = Request(
        rules=rules,
        live=live,
        labels=args.labels,
        chargeback_window_days=args.chargeback_window_days,
        as_of_ms=day_ms(args.as_of) if args.as_of else (None if args.input else int(time.time() * 1000)),
        start_ms=day_ms(args.start) if args.start else None,
        end_ms=day_ms(args.end) + 86_400_000 if args.end else None,
        budget=budget,
        tune=args.tune,
        objective=Objective(args.objective, args.alert_cost),
        holdout_from_ms=day_ms(args.holdout_from) if args.holdout_from else None,
        version=args.version,
        seed=args.seed,
    )
    try:
        result, candidate = execute(history, request)
    except NothingToBacktest as exc:
        where = (
            ""
            if args.input
            else (
                " (the platform's Bronze: ./fraudlake up runs demo traffic, or ./fraudlake simulate; then "
                "./fraudlake lake load)"
            )
        )
        return _fail(f"{exc}{where}")
    except ValueError as exc:
        return _fail(str(exc))
    result["seconds"] = round(time.monotonic() - began, 2)
    from fraudlake.backtest import report

    candidate_file = write(args.out, result, candidate, "fraudlake backtest --tune") if args.out else None
    if candidate is not None and candidate_file is None:
        print(
            "  (the candidate is only in this report: --out DIR writes it as a rules file)", file=sys.stderr
        )
    print(
        json.dumps(result, indent=2)
        if args.json
        else report.markdown(result, str(candidate_file) if candidate_file else None)
    )
    return 0
