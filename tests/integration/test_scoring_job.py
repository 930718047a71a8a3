"""The streaming scoring job on the real cluster: exact decisions, DLQ, savepoint resume, and parity.

Each test runs its own job on private topics (tests/integration/scoring_harness.py), submitted by
the same code as `fraudlake job start`.
"""

from __future__ import annotations

import io
import time
import uuid
from collections.abc import Iterator
from dataclasses import asdict, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import yaml

from fraudlake.contract import (
    DECISION,
    PAYMENT,
    SCHEMA_VERSION,
    CustomerProfile,
    Decision,
    GroundTruth,
    Payment,
    alert_id_of,
)
from fraudlake.parquet import ParquetSink
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import APP_ROLE, STREAM_ROLE, Postgres
from fraudlake.rules import ruleset
from fraudlake.rules.batch import prior_from_postgres
from fraudlake.rules.history import PriorActivity, score_stream
from fraudlake.simulator.generator import SimConfig, Simulation, all_customers
from fraudlake.simulator.run import Sinks, run
from fraudlake.simulator.sinks import KafkaSink
from fraudlake_flink.control import JobError
from fraudlake_flink.registry import JobRun
from fraudlake_flink.sql import PLAN_VERSION
from tests.factories import payment
from tests.integration.conftest import fraudlake
from tests.integration.scoring_harness import FLUSH, ScoringJob

DAY = 86_400_000
MINUTE = 60_000


@pytest.fixture
def job(ctx: Context) -> Iterator[ScoringJob]:
    scoring = ScoringJob.create(ctx)
    yield scoring
    scoring.close()


def _profile(customer_id: str, t: int) -> CustomerProfile:
    return CustomerProfile(customer_id, "DE", "Europe/Berlin", t - 400 * DAY, "web.de", SCHEMA_VERSION)


def _pay(customer_id: str, t: int, name: str, **changes: Any) -> Payment:
    return payment(
        payment_id=f"pay-{name}", order_id=f"ord-{name}", customer_id=customer_id, event_time=t, **changes
    )


def _yesterday_noon() -> int:
    """Recent, and far from the UNUSUAL_HOUR night in Berlin."""
    return (int(time.time() * 1000) // DAY - 1) * DAY + 12 * 3_600_000


def _without_scored_at(decisions: list[Decision]) -> dict[str, Decision]:
    return {d.payment_id: replace(d, scored_at=0) for d in decisions}


def test_scripted_sequence_gives_exact_decisions_alerts_and_dead_letters(job: ScoringJob) -> None:
    job.start()
    s = job.suffix
    t = _yesterday_noon()
    alice, bob, unknown = f"cus-alice-{s}", f"cus-bob-{s}", f"cus-unknown-{s}"
    job.profiles([_profile(alice, t), _profile(bob, t)])
    a = [
        _pay(alice, t - 3 * DAY, f"{s}-a1"),
        _pay(alice, t - 2 * DAY, f"{s}-a2"),
        _pay(alice, t, f"{s}-a3", amount=Decimal("200.00")),
        _pay(alice, t + 4 * MINUTE, f"{s}-a4"),
        _pay(alice, t + 9 * MINUTE, f"{s}-a5"),
        _pay(alice, t + 9 * MINUTE + 100, f"{s}-a6", device_fingerprint="fp-new", device_type="ios"),
    ]
    others = [
        _pay(unknown, t + 5 * MINUTE, f"{s}-u1"),
        _pay(bob, t + 6 * MINUTE, f"{s}-b1", status="failed", failure_reason="do_not_honor"),
        # the same millisecond as b1, sent after it: b1 must not count it, b2 counts b1
        _pay(bob, t + 6 * MINUTE, f"{s}-b2", device_fingerprint="fp-tie"),
    ]
    # In event-time order, but a6 before a5: out of order by 100 ms, inside the 200 ms bound. (The
    # customers share 2 partitions: `others` sent after a6 were 3-4 minutes late whenever one shared
    # alice's partition and a periodic watermark fell between them, and went to the DLQ.)
    job.send([*a[:4], *others, a[5], a[4]])
    flush = job.advance(t + 20 * MINUTE)
    # once these are decided, the job's watermark has passed them: an hour-old payment is then late
    assert len(job.decisions(len(a) + len(others))) >= len(a) + len(others)
    late = _pay(alice, t - 3_600_000, f"{s}-late")
    broken = (alice, b'{"payment_id": "broken')
    wrong_currency = (
        alice,
        PAYMENT.to_json(_pay(alice, t + 21 * MINUTE, f"{s}-xyz")).replace(b"EUR", b"XYZ"),
    )
    job.send([late, broken, wrong_currency])
    flush += job.advance(t + 30 * MINUTE)

    valid = sorted([*a, *others, *flush], key=lambda p: p.event_time)
    profiles = {alice: _profile(alice, t), bob: _profile(bob, t)}
    scored = score_stream(valid, profiles, ruleset.load(), scored_at=0)
    expected = _without_scored_at([d for d in scored if not d.payment_id.startswith("flush-")])
    got = _without_scored_at(job.decisions(len(expected)))
    assert got == expected

    by_id = {p.payment_id: got[p.payment_id] for p in a}
    assert by_id[f"pay-{s}-a1"].reasons == ("FIRST_PAYMENT: no earlier successful payment",)
    assert "UNUSUAL_AMOUNT: 200.00 EUR = 4.0x the average 50.00" in by_id[f"pay-{s}-a3"].reasons
    assert "VELOCITY: 3 payments in 9m 0s" in by_id[f"pay-{s}-a5"].reasons
    assert by_id[f"pay-{s}-a6"].reasons == (
        "MOBILE_DEVICE: ios",
        "VELOCITY: 3 payments in 5m 0s",
        "NEW_DEVICE: ios fp-new not seen in 5 earlier payments",
    )
    assert "NEW_CUSTOMER: no customer profile" in got[f"pay-{s}-u1"].reasons
    failed = got[f"pay-{s}-b1"]
    assert failed.reasons == (
        "FIRST_PAYMENT: no earlier successful payment",
        "PAYMENT_FAILED: do_not_honor",
    )
    assert (failed.score, failed.severity, failed.is_alert) == (90, "HIGH", True)
    assert "NEW_DEVICE: web fp-tie not seen in 1 earlier payments" in got[f"pay-{s}-b2"].reasons

    expected_alerts = sum(d.is_alert for d in expected.values())
    alerts = job.alerts(expected_alerts)
    assert sorted(a.payment_id for a in alerts) == sorted(pid for pid, d in expected.items() if d.is_alert)
    for alert in alerts:
        assert alert.alert_id == alert_id_of(alert.payment_id, "v1")
        assert (
            replace(DECISION.cls(**{n: getattr(alert, n) for n in DECISION.names}), scored_at=0)
            == (expected[alert.payment_id])
        )

    letters = job.dead_letters(3)
    assert [raw for _, raw in letters] == [PAYMENT.to_json(late), broken[1], wrong_currency[1]]
    reasons = [letter.reason for letter, _ in letters]
    assert reasons[0].startswith("late: event_time more than 200 ms behind")
    assert reasons[1].startswith("invalid JSON")
    assert reasons[2].startswith("field 'currency': unknown value 'XYZ'")
    assert {letter.source_topic for letter, _ in letters} == {job.spec.payments_topic}


def _rules_with(tmp_path: Path, version: str, velocity_points: int) -> Path:
    document = yaml.safe_load(ruleset.DEFAULT_RULES.read_text())
    document["version"] = version
    document["rules"]["VELOCITY"]["points"] = velocity_points
    path = tmp_path / f"{version}.yaml"
    path.write_text(yaml.safe_dump(document))
    return path


def test_savepoint_restart_keeps_history_across_a_rules_change(job: ScoringJob, tmp_path: Path) -> None:
    job.start()
    s = job.suffix
    t = _yesterday_noon()
    carol = f"cus-carol-{s}"
    job.profiles([_profile(carol, t)])
    job.send([_pay(carol, t, f"{s}-c1"), _pay(carol, t + MINUTE, f"{s}-c2")])
    job.advance(t + 2 * MINUTE)
    before = job.decisions(2)
    assert "VELOCITY" not in " ".join(next(d for d in before if d.payment_id == f"pay-{s}-c2").reasons)

    location = job.jobs.stop(job.spec.name, savepoint=True)
    assert location
    point = job.jobs.resume_point(job.spec.name)
    assert point is not None and (point.location, point.kind) == (location, "stop savepoint")
    assert job.jobs.registry.savepoints(job.spec.name)[0].plan_version == PLAN_VERSION
    job.start(rules=_rules_with(tmp_path, "v1-restart", velocity_points=45), savepoint=location)
    job.send([_pay(carol, t + 3 * MINUTE, f"{s}-c3")])
    job.advance(t + 4 * MINUTE)

    decisions = job.decisions(3)
    ids = [d.payment_id for d in decisions]
    assert len(ids) == len(set(ids)) == 3, ids
    third = next(d for d in decisions if d.payment_id == f"pay-{s}-c3")
    assert third.rules_version == "v1-restart"
    assert third.reasons == ("VELOCITY: 3 payments in 3m 0s",)  # no FIRST_PAYMENT: history survived
    assert third.score == 45
    alerts = [alert.alert_id for alert in job.alerts(0, timeout=5)]
    assert len(alerts) == len(set(alerts))


def test_a_fresh_start_takes_earlier_history_from_bronze_once(job: ScoringJob, tmp_path: Path) -> None:
    """An earlier job read three payments of dave and the lakehouse loaded them; a job that starts
    without state looks them up in ops.customer_history at dave's first payment and keeps them in
    its state: a savepoint resume does not add them again."""
    s, t = job.suffix, _yesterday_noon()
    dave = f"cus-dave-{s}"
    job.profiles([_profile(dave, t)])
    old = {"device_fingerprint": "fp-old", "device_type": "android"}
    job.consumed_and_landed(
        [
            _pay(dave, t - 3 * DAY, f"{s}-d1", amount=Decimal("40.00")),
            _pay(dave, t - 2 * DAY, f"{s}-d2", amount=Decimal("60.00")),
            _pay(dave, t - DAY, f"{s}-d3", status="failed", failure_reason="do_not_honor", **old),
        ]
    )
    with Postgres(job.ctx).connect(APP_ROLE) as conn:  # another job's history of dave: not this one's
        conn.execute(
            "insert into ops.customer_history values (%s, %s, 'fp-x', 100, 100, 5000)", [f"other-{s}", dave]
        )
    started = job.start()
    assert started.history is not None
    assert (started.history.customers, started.history.payments) == (1, 3)
    assert sum(started.history.start_offsets.values()) == 3 and not any(started.history.behind.values())
    with Postgres(job.ctx).connect(STREAM_ROLE) as conn:
        prior = prior_from_postgres(conn, job.spec.name)
    assert sorted(prior, key=lambda a: a.device_fingerprint) == [
        PriorActivity(dave, "fp-home", 2, 2, Decimal("100.00")),
        PriorActivity(dave, "fp-old", 1, 0, Decimal("0.00")),
    ]

    later = [
        _pay(dave, t, f"{s}-d4", amount=Decimal("200.00")),
        _pay(dave, t + MINUTE, f"{s}-d5", **old),
        _pay(dave, t + 2 * MINUTE, f"{s}-d6", device_fingerprint="fp-new", device_type="ios"),
    ]
    job.send(later)
    flush = job.advance(t + 3 * MINUTE)
    # the batch scorer, started from the same history, agrees
    payments_file, scores_file = tmp_path / "later.parquet", tmp_path / "scores.parquet"
    sink = ParquetSink(payments_file, PAYMENT)
    for p in [*later, *flush]:
        sink.add(p)
    sink.close()
    done = fraudlake(
        "score", "--input", str(payments_file), "--output", str(scores_file), "--history-of", job.spec.name
    )
    assert done.returncode == 0, done.stderr
    import pyarrow.parquet as pq

    batch = _without_scored_at(DECISION.from_arrow(pq.read_table(scores_file)))
    got = _without_scored_at(job.decisions(3))
    assert got == {pid: d for pid, d in batch.items() if not pid.startswith("flush-")}
    assert got[f"pay-{s}-d4"].reasons == ("UNUSUAL_AMOUNT: 200.00 EUR = 4.0x the average 50.00",)
    assert got[f"pay-{s}-d5"].reasons == ("MOBILE_DEVICE: android",)  # fp-old: seen before the job
    assert "NEW_DEVICE: ios fp-new not seen in 5 earlier payments" in got[f"pay-{s}-d6"].reasons

    location = job.jobs.stop(job.spec.name, savepoint=True)
    assert location
    resumed = job.start(savepoint=location)
    assert resumed.history is None
    job.send([_pay(dave, t + 4 * MINUTE, f"{s}-d7", device_fingerprint="fp-x")])
    job.advance(t + 5 * MINUTE)
    seventh = next(d for d in job.decisions(4) if d.payment_id == f"pay-{s}-d7")
    assert "NEW_DEVICE: web fp-x not seen in 6 earlier payments" in seventh.reasons
    with Postgres(job.ctx).connect(APP_ROLE) as conn:
        conn.execute("delete from ops.customer_history where job_name = %s", [f"other-{s}"])


def test_payments_after_a_quiet_start_are_scored_with_a_partition_that_stays_idle(ctx: Context) -> None:
    """Idle partitions release the watermark (after 1 s here), and nothing else may then push it
    past what comes later: a finished bounded source once did, and the job dropped every payment."""
    job = ScoringJob.create(ctx, idle_timeout_ms=1_000)
    try:
        job.start()
        time.sleep(5)  # every partition idle
        s, t = job.suffix, _yesterday_noon()
        erin = f"cus-erin-{s}"
        job.profiles([_profile(erin, t)])
        flush = _pay(f"{FLUSH.decode()}-{s}", t + MINUTE, f"{s}-flush")
        job.send([_pay(erin, t, f"{s}-e1"), _pay(erin, t + 1000, f"{s}-e2"), flush], partition=0)
        decided = job.decisions(2, timeout=60)
        assert sorted(d.payment_id for d in decided) == [f"pay-{s}-e1", f"pay-{s}-e2"]
    finally:
        job.close()


def _tuned_candidate(folder: Path) -> Path:
    """A candidate `backtest --tune` finds on other simulated traffic (issue 17: the stream runs it
    unchanged)."""
    from fraudlake.backtest import labels
    from fraudlake.backtest.figures import Budget
    from fraudlake.backtest.replay import Replay
    from fraudlake.backtest.tune import Objective, Tuning, time_split, tune
    from fraudlake.rules.history import velocity_count

    config = SimConfig(seed=11, events=20_000)
    items = [i for i in Simulation(config).items() if i.payment is not None]
    live = ruleset.load()
    profiles = {c.profile.customer_id: c.profile for c in all_customers(config)}
    replay = Replay.build([i.payment for i in items if i.payment], profiles, velocity_count(live))
    truth = [GroundTruth(i.payment.payment_id, "", i.is_fraud, "", 0, 1) for i in items if i.payment]
    split = time_split(replay, replay.between(None, None))
    tuning = Tuning(Budget(legit_share=0.01), Objective(), split, "v1-tuned")
    candidate = tune(replay, labels.from_truth(replay, truth), live, tuning)[0]
    assert candidate != live
    path = folder / "tuned.yaml"
    path.write_text(ruleset.dump(candidate))
    return path


@pytest.fixture
def parallel_job(ctx: Context, request: pytest.FixtureRequest) -> Iterator[ScoringJob]:
    scoring = ScoringJob.create(ctx, parallelism=request.param)
    yield scoring
    scoring.close()


@pytest.mark.parametrize(
    ("rules", "parallel_job"), [("v1", 1), ("tuned", 2)], indirect=["parallel_job"], ids=["v1-p1", "tuned-p2"]
)
def test_parity_with_batch_scorer_on_10k_simulated_payments(
    parallel_job: ScoringJob, ctx: Context, tmp_path: Path, rules: str
) -> None:
    """At parallelism 2 (two slots, customers split between them by key) as at 1, the stream's
    decisions equal the batch scorer's."""
    job = parallel_job
    rules_file = _tuned_candidate(tmp_path) if rules == "tuned" else ruleset.DEFAULT_RULES
    job.start(rules_file)
    if job.spec.parallelism > 1:
        found = job.jobs.find(job.spec.name)
        assert found is not None
        detail = job.jobs.flink.rest(f"/jobs/{found['jid']}")
        assert 2 in {v["parallelism"] for v in detail["vertices"]}, detail["vertices"]
    now = int(time.time() * 1000)
    # another seed per rules file: other customers, whose profiles no earlier run left behind
    seed = {"v1": 4, "tuned": 5}[rules]
    config = SimConfig(seed=seed, events=10_000, start_ms=now - 6 * DAY, window_ms=6 * DAY - 2 * MINUTE)
    config = replace(config, malformed_rate=0.01)
    job.profiles([c.profile for c in all_customers(config)])
    payments_file = tmp_path / "payments.parquet"
    sinks = Sinks(
        kafka=KafkaSink(ctx.settings.kafka_bootstrap),
        payments_topic=job.spec.payments_topic,
        payments=ParquetSink(payments_file, PAYMENT),
    )
    stats = run(Simulation(config), sinks)
    assert stats.payments == 10_000 and stats.malformed > 50
    job.advance(now)

    scores_file = tmp_path / "scores.parquet"
    done = fraudlake(
        "score", "--input", str(payments_file), "--output", str(scores_file), "--rules", str(rules_file)
    )
    assert done.returncode == 0, done.stderr
    import pyarrow.parquet as pq

    batch = _without_scored_at(DECISION.from_arrow(pq.read_table(scores_file)))
    stream = _without_scored_at(job.decisions(10_000, timeout=300))
    assert len(stream) == 10_000
    differing = [pid for pid in batch if stream.get(pid) != batch[pid]]
    assert not differing, [(stream.get(pid), batch[pid]) for pid in differing[:3]]
    assert sum(d.is_alert for d in batch.values()) > 100
    assert len(job.dead_letters(stats.malformed)) == stats.malformed


def test_a_savepoint_of_an_older_plan_is_refused_with_the_way_out(job: ScoringJob) -> None:
    name = job.spec.name
    registry, storage = job.jobs.registry, job.jobs.storage
    old = JobRun(
        job_id=uuid.uuid4().hex,
        job_name=name,
        plan_version=1,
        rules_version="v1",
        rules_sha256="",
        rules_path=str(ruleset.DEFAULT_RULES),
        spec=asdict(job.spec),
        started_from=None,
        started_by="test",
    )
    registry.record_run(old)
    # what that run's `job stop --savepoint` left in storage, and its row
    location = f"{job.jobs.flink.savepoint_dir}/savepoint-{old.job_id[:6]}-{uuid.uuid4().hex[:12]}"
    if storage.client is not None:
        bucket, key = location.removeprefix("s3://").split("/", 1)
        storage.client.put_object(bucket, f"{key}/_metadata", io.BytesIO(b"meta"), 4)
    else:
        folder = Path(location.removeprefix("file://"))
        folder.mkdir(parents=True)
        (folder / "_metadata").write_bytes(b"meta")
    registry.savepoint_ended(registry.savepoint_started(old, "stop"), location, 4)
    with pytest.raises(JobError) as refused:
        job.jobs.start(job.spec)  # resumes the newest point, as `up` does
    assert f"written by job plan 1; this version runs plan {PLAN_VERSION}" in refused.value.cause
    assert f"stop savepoint {location}" in refused.value.cause
    assert "fraudlake job start --fresh" in refused.value.fix
    assert job.jobs.find(name) is None
    started = job.start()  # --fresh: the old savepoint is history now, and `up` must not resume it
    point = job.jobs.resume_point(name)
    assert point is None or point.job_id == started.job_id
