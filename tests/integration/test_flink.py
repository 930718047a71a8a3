"""Flink: the standalone cluster runs SQL jobs with the Kafka connector and savepoints to MinIO."""

from __future__ import annotations

import json
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from fraudlake.platform.flink import Flink
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio
from tests.integration import kafka_io

JOB = Path(__file__).parent / "flink_jobs" / "kafka_upper.py"


def test_overview_shows_one_taskmanager_with_its_slots(flink: Flink) -> None:
    overview = flink.rest("/overview")
    assert overview["taskmanagers"] == 1
    assert overview["slots-total"] == flink.settings.flink_task_slots
    [taskmanager] = flink.rest("/taskmanagers")["taskmanagers"]
    assert taskmanager["slotsNumber"] == flink.settings.flink_task_slots


@pytest.fixture
def topics(kafka: Kafka) -> Iterator[tuple[str, str]]:
    suffix = uuid.uuid4().hex[:8]
    names = (f"test-flink-in-{suffix}", f"test-flink-out-{suffix}")
    kafka.create_topics(dict.fromkeys(names, 2))
    yield names
    kafka.delete_topics(*names)


def _produce(kafka: Kafka, topic: str, records: list[dict[str, Any]]) -> None:
    kafka_io.produce(kafka, topic, [(r["payment_id"].encode(), json.dumps(r).encode()) for r in records])


def _consume(kafka: Kafka, topic: str, expected: int) -> list[dict[str, Any]]:
    return [json.loads(m.value()) for m in kafka_io.collect(kafka, topic, expected, timeout_s=20)]


def _submit(flink: Flink, *args: str) -> str:
    done = subprocess.run(
        ["bash", str(flink.home / "bin" / "flink"), "run", "-d", "-py", str(JOB), *args],
        env=flink.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout.split("JobID")[-1].strip().split()[0]


def _wait_job_state(flink: Flink, job_id: str, wanted: set[str], timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    state = "UNKNOWN"
    while time.monotonic() < deadline:
        state = flink.rest(f"/jobs/{job_id}")["state"]
        if state in wanted:
            return state
        if state in {"FAILED", "CANCELED"}:
            break
        time.sleep(1)
    exceptions = flink.rest(f"/jobs/{job_id}/exceptions")
    raise AssertionError(f"job {job_id} is {state}, wanted {wanted}: {exceptions}")


def test_sql_job_copies_kafka_topic_to_kafka_topic(
    flink: Flink, kafka: Kafka, topics: tuple[str, str]
) -> None:
    source, sink = topics
    records = [{"payment_id": f"p-{i}", "amount": i + 0.25} for i in range(20)]
    _produce(kafka, source, records)
    job_id = _submit(flink, kafka.bootstrap, source, sink, f"test-{source}", "bounded")
    assert _wait_job_state(flink, job_id, {"FINISHED"}) == "FINISHED"
    copied = _consume(kafka, sink, expected=len(records))
    assert sorted(copied, key=lambda r: r["payment_id"]) == sorted(
        ({"payment_id": f"P-{i}", "amount_cents": round((i + 0.25) * 100)} for i in range(20)),
        key=lambda r: r["payment_id"],
    )


def test_stop_with_savepoint_lands_in_configured_storage(
    flink: Flink, kafka: Kafka, minio: Minio, topics: tuple[str, str]
) -> None:
    """MinIO's `flink` bucket by default; local disk with FRAUDLAKE_FLINK_STATE_STORAGE=local."""
    source, sink = topics
    _produce(kafka, source, [{"payment_id": "p-1", "amount": 1.0}])
    job_id = _submit(flink, kafka.bootstrap, source, sink, f"test-{source}", "unbounded")
    _wait_job_state(flink, job_id, {"RUNNING"})
    assert _consume(kafka, sink, expected=1) == [{"payment_id": "P-1", "amount_cents": 100}]
    trigger = flink.rest(f"/jobs/{job_id}/stop", {"drain": False})
    deadline = time.monotonic() + 120
    status: dict[str, Any] = {}
    while time.monotonic() < deadline:
        status = flink.rest(f"/jobs/{job_id}/savepoints/{trigger['request-id']}")
        if status["status"]["id"] == "COMPLETED":
            break
        time.sleep(1)
    location = status["operation"].get("location")
    assert location, f"savepoint failed: {status}"
    assert location.startswith(flink.connection(show_secrets=False)["savepoints"] + "/")
    if location.startswith("s3://"):
        key = location.removeprefix("s3://flink/")
        objects = [o.object_name for o in minio.client().list_objects("flink", prefix=key, recursive=True)]
        assert any(name.endswith("_metadata") for name in objects), objects
    else:
        assert (Path(location.removeprefix("file:")) / "_metadata").is_file()
    _wait_job_state(flink, job_id, {"FINISHED"})


def test_job_venv_has_what_fraudlake_jobs_import(flink: Flink) -> None:
    done = subprocess.run(
        [str(flink.python), "-c", "import orjson, yaml, pyflink.version as v; print(v.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "2.2.0"
