"""The CLI's promises: `up` is idempotent, `status` explains a dead service, `down` leaves nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import time
from pathlib import Path

from fraudlake.platform import process
from fraudlake.platform.context import Context
from fraudlake.platform.runner import services
from fraudlake_lake import service as bronze_sink
from tests.integration.conftest import fraudlake


def _pids(ctx: Context) -> dict[str, int | None]:
    return {proc: pid for service in services(ctx) for proc, pid in service.running().items()}


def test_second_up_starts_nothing(ctx: Context) -> None:
    before = _pids(ctx)
    done = fraudlake("up", "--no-demo")
    assert done.returncode == 0, done.stderr
    assert _pids(ctx) == before
    assert all(pid is not None for pid in before.values())
    for service in ("postgres", "kafka", "minio", "flink", "airflow", "superset"):
        assert f"start {service} ..." in done.stdout
    assert done.stdout.count("(already running)") == 6
    assert done.stdout.count("(cached)") == 6
    assert "start scoring job ... " in done.stdout and "(already RUNNING)" in done.stdout
    status = json.loads(fraudlake("job", "status", "--json").stdout)
    assert status["state"] == "RUNNING" and status["name"] == "fraudlake-scoring"
    assert "scoring job fraudlake-scoring: RUNNING for " in fraudlake("status").stdout


def test_status_reports_killed_service_as_down_with_reason(ctx: Context) -> None:
    minio_pid = _pids(ctx)["minio"]
    assert minio_pid is not None
    os.kill(minio_pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _pids(ctx)["minio"] is not None and time.monotonic() < deadline:
        time.sleep(0.1)

    done = fraudlake("status", "--json")
    report = json.loads(done.stdout)
    assert done.returncode == 3
    assert report["minio"]["status"] == "down"
    assert "not running: minio" in report["minio"]["reason"]
    assert report["minio"]["last_log_lines"], "the log tail explains the death"
    assert {name: entry["status"] for name, entry in report.items() if name != "minio"} == {
        "postgres": "up",
        "kafka": "up",
        "flink": "up",
        "airflow": "up",
        "superset": "up",
    }
    assert "password" not in done.stdout and "secret_key" not in done.stdout

    text = fraudlake("status")
    assert "minio is down: not running: minio" in text.stdout

    restarted = fraudlake("up", "--no-demo")
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.count("(already running)") == 5
    assert json.loads(fraudlake("status", "--json").stdout)["minio"]["status"] == "up"


def test_status_json_gives_connection_details(ctx: Context) -> None:
    hidden = json.loads(fraudlake("status", "--json").stdout)
    shown = json.loads(fraudlake("status", "--json", "--show-secrets").stdout)
    s = ctx.settings
    assert hidden["kafka"]["connection"]["bootstrap_servers"] == f"{s.bind_host}:{s.kafka_port}"
    assert hidden["flink"]["connection"]["rest_url"] == f"http://{s.bind_host}:{s.flink_rest_port}"
    assert hidden["minio"]["connection"]["endpoint"] == f"http://{s.bind_host}:{s.minio_port}"
    assert hidden["airflow"]["connection"]["url"] == f"http://{s.bind_host}:{s.airflow_port}"
    assert "password" not in hidden["airflow"]["connection"]
    assert hidden["superset"]["connection"]["url"] == f"http://{s.bind_host}:{s.superset_port}"
    assert "password" not in hidden["superset"]["connection"]
    assert shown["superset"]["connection"]["password"] == ctx.secrets["superset_admin_password"]
    assert shown["airflow"]["connection"]["password"] == ctx.secrets["airflow_admin_password"]
    assert "secret_key" not in hidden["minio"]["connection"]
    assert shown["minio"]["connection"]["secret_key"] == ctx.secrets["minio_root_password"]
    app = shown["postgres"]["connection"]["roles"]["fraudlake_app"]
    assert app["dsn"] == (
        f"postgresql://fraudlake_app:{ctx.secrets['pg_app_password']}"
        f"@{s.bind_host}:{s.pg_port}/{s.pg_database}"
    )


def _our_processes(ctx: Context) -> list[str]:
    """Command lines of live processes that use this checkout's state folder."""
    marker = str(ctx.settings.home)
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if marker in cmdline and "pytest" not in cmdline:
            found.append(f"{entry.name}: {cmdline[:200]}")
    return found


def test_down_leaves_no_process_and_keeps_data(ctx: Context) -> None:
    before = {pid for pid in _pids(ctx).values() if pid is not None}
    assert _our_processes(ctx), "the running platform is visible by its state folder"
    sink = bronze_sink.daemon(ctx).running()
    assert sink is not None, "up starts the Bronze sink"
    assert f"bronze sink: running, pid {sink}" in fraudlake("status").stdout

    done = fraudlake("down")
    assert done.returncode == 0, done.stderr
    savepoint = re.search(r"stop scoring job \.\.\. [0-9.]+s \(savepoint (\S+)\)", done.stdout)
    assert savepoint, done.stdout
    assert all(pid is None for pid in _pids(ctx).values())
    assert not [pid for pid in before if process.alive(pid)]
    assert "stop bronze sink ... " in done.stdout and "(flushed and stopped)" in done.stdout
    assert not process.alive(sink) and bronze_sink.daemon(ctx).running() is None
    assert _our_processes(ctx) == []
    assert (ctx.settings.data_dir / "postgres" / "PG_VERSION").exists()
    assert (ctx.settings.data_dir / "kafka" / "meta.properties").exists()

    again = fraudlake("up", "--no-demo")
    assert again.returncode == 0, again.stdout + again.stderr
    assert again.stdout.count("(started)") == 6
    assert (
        "start scoring job ... " in again.stdout
        and f"(resumed from stop savepoint {savepoint[1]} " in again.stdout
    )
    assert bronze_sink.daemon(ctx).running() is not None
