"""`fraudlake simulate`: wire options, the platform's connections and the sinks together."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from fraudlake.contract import CHARGEBACK, CUSTOMER_PROFILE, GROUND_TRUTH, PAYMENT
from fraudlake.parquet import ParquetSink
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.postgres import APP_ROLE, Postgres
from fraudlake.platform.service import Service
from fraudlake.simulator.generator import Simulation, all_customers
from fraudlake.simulator.options import Request, parse_duration, parse_start, to_config
from fraudlake.simulator.run import Sinks, run, run_sharded
from fraudlake.simulator.sinks import KafkaSink, write_customers
from fraudlake.topics import GROUND_TRUTH as GROUND_TRUTH_TOPIC


def simulate(ctx: Context, args: argparse.Namespace) -> int:
    try:
        config = to_config(
            Request(
                seed=args.seed,
                events=args.events,
                duration_ms=parse_duration(args.duration) if args.duration else None,
                rate=args.rate,
                realtime=args.realtime,
                start_ms=parse_start(args.start) if args.start else None,
                customers=args.customers,
                population_seed=args.population_seed,
                fraud_rate=args.fraud_rate,
                malformed_rate=args.malformed_rate,
            )
        )
    except ValueError as exc:
        print(f"error: simulate: {exc}", file=sys.stderr)
        return 2
    if args.workers > 1 and (
        args.realtime or args.no_kafka or args.out or args.chargebacks_out or args.truth_out
    ):
        print(
            "error: simulate: --workers > 1 is for replay into Kafka only; to get the files of the same run, "
            "rerun it with --workers, --no-kafka and --no-postgres plus --out/--truth-out",
            file=sys.stderr,
        )
        return 2
    if args.workers < 1:
        print("error: simulate: --workers must be at least 1", file=sys.stderr)
        return 2
    config = replace(config, shards=args.workers)
    if args.workers > 1 and not args.no_kafka:
        print(
            "  note: with --workers > 1 each partition mixes several event-time orders; the scoring job "
            "sends payments more than FRAUDLAKE_JOB_WATERMARK_DELAY_MS out of order to payments-dlq as late",
            file=sys.stderr,
        )
    if not args.no_postgres:
        postgres = Postgres(ctx)
        _require(postgres, "cannot write customer profiles", "--no-postgres")
        with postgres.connect(APP_ROLE) as conn:
            written = write_customers(conn, all_customers(config))
        print(f"  {written:,} customer profiles upserted into ops.customer_profiles")
    if args.customers_out:
        profiles = ParquetSink(args.customers_out, CUSTOMER_PROFILE)
        for customer in all_customers(config):
            profiles.add(customer.profile)
        profiles.close()
    sinks = Sinks(
        truth_topic=None if args.no_truth_topic else GROUND_TRUTH_TOPIC.name,
        payments=ParquetSink(args.out, PAYMENT) if args.out else None,
        chargebacks=ParquetSink(args.chargebacks_out, CHARGEBACK) if args.chargebacks_out else None,
        truth=ParquetSink(args.truth_out, GROUND_TRUTH) if args.truth_out else None,
    )
    bootstrap = None
    if not args.no_kafka:
        kafka = Kafka(ctx)
        _require(kafka, "cannot produce", "--no-kafka")
        bootstrap = kafka.bootstrap
    mode = "real time" if args.realtime else "replay"
    print(f"  simulating {config.events:,} payments ({mode}, seed {config.seed}, {args.workers} worker(s))")
    if args.workers > 1 and bootstrap is not None:
        stats = run_sharded(config, args.workers, bootstrap, topics=Sinks(truth_topic=sinks.truth_topic))
    else:
        sinks.kafka = KafkaSink(bootstrap) if bootstrap else None
        stats = run(Simulation(config), sinks, realtime=args.realtime, progress=sys.stderr)
    print(
        f"  done: {stats.payments:,} payments ({stats.frauds:,} fraud), {stats.chargebacks:,} chargebacks, "
        f"{stats.malformed:,} malformed in {stats.seconds:.1f}s ({stats.rate:,.0f} payments/s)"
    )
    return 0


def _require(service: Service, need: str, flag: str) -> None:
    problem = service.probe()
    if problem:
        raise PlatformError(
            service.name, f"{need}: {problem}", f"start the platform (`fraudlake up`) or pass {flag}"
        )
