"""The CLI's promises: `up` is idempotent, a dead service comes back by itself (or is left down and
explained), `down` leaves nothing."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from fraudlake.platform import process
from fraudlake.platform.context import Context
from fraudlake.platform.runner import services
from fraudlake.platform.supervision import Store
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
    secret = {name: v for name, v in ctx.secrets.items() if name.endswith(("_password", "_key"))}
    assert len(secret) == 14
    assert [name for name, v in secret.items() if v in done.stdout + done.stderr] == [], "up prints no secret"
    assert f"passwords: in {ctx.settings.home / 'secrets.json'} (mode 0600)" in done.stdout
    status = json.loads(fraudlake("job", "status", "--json").stdout)
    assert status["state"] == "RUNNING" and status["name"] == "fraudlake-scoring"
    assert "scoring job fraudlake-scoring: RUNNING for " in fraudlake("status").stdout


def _wait(what: str, check: Callable[[], bool], timeout: float) -> float:
    """Seconds until `check()` holds; fails after `timeout`."""
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, f"{what} not within {timeout:.0f} s"
        time.sleep(0.2)
    return time.monotonic() - began


def _bind(address: tuple[str, int], timeout: float) -> socket.socket:
    """A listening socket on `address`, once the killed process's threads have all exited (its
    main thread is a zombie, and counts as dead, before the last one closes the listener)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return socket.create_server(address)
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def _kill(ctx: Context, proc: str) -> int:
    pid = _pids(ctx)[proc]
    assert pid is not None, f"{proc} is not running"
    os.kill(pid, signal.SIGKILL)
    return pid


def test_a_killed_service_is_back_by_itself_and_one_that_keeps_dying_is_left_down(ctx: Context) -> None:
    killed = _kill(ctx, "minio")
    took = _wait("minio restarted", lambda: _pids(ctx)["minio"] not in (None, killed), 30)
    _wait("minio up", lambda: json.loads(fraudlake("status", "--json").stdout)["minio"]["status"] == "up", 30)
    print(f"minio back {took:.1f} s after kill -9, without a person")
    assert "minio: 1 restart(s) lately; restarted in " in fraudlake("status").stdout

    s, store = ctx.settings, Store.of(ctx)
    with store.paused("minio"):
        killed = _kill(ctx, "minio")
        _wait("minio gone", lambda: _pids(ctx)["minio"] is None, 10)
        squatter = _bind((s.bind_host, s.minio_port), 10)  # every restart now fails
    with squatter:
        _wait("minio left down", lambda: "left down" in str(store.states().get("minio")), 120)
        assert _pids(ctx)["minio"] is None

        done = fraudlake("status", "--json")
        report = json.loads(done.stdout)
        assert done.returncode == 3
        assert report["minio"]["status"] == "down"
        assert report["minio"]["reason"].startswith("not running: minio; left down: it needed 5 restarts")
        assert f"port {s.minio_port} is already in use" in report["minio"]["reason"], "the last failure"
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
        assert "minio is down: not running: minio; left down" in text.stdout
        assert "minio was left down: it needed 5 restarts in 10 min" in text.stdout
        time.sleep(5)
        assert _pids(ctx)["minio"] is None, "left down, not looping"

    restarted = fraudlake("up", "--no-demo")  # the cause is gone: a person starts it again
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.count("(already running)") == 5
    assert json.loads(fraudlake("status", "--json").stdout)["minio"]["status"] == "up"
    assert "minio" not in Store.of(ctx).states(), "up clears the verdict"


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
