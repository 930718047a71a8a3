"""`fraudlake up | down | status | reset`: the local platform as one unit.

Start order follows dependencies (Flink checkpoints to MinIO); stop order is the reverse.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TextIO

from fraudlake.platform import state_folder
from fraudlake.platform.airflow import Airflow
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.flink import Flink
from fraudlake.platform.footprint import tree_rss_bytes
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio
from fraudlake.platform.postgres import Postgres
from fraudlake.platform.process import tail
from fraudlake.platform.service import Service
from fraudlake.platform.superset import Superset
from fraudlake.platform.supervision import Store

SERVICES: tuple[type[Service], ...] = (Postgres, Kafka, Minio, Flink, Airflow, Superset)
"""The engines, in the order `up` starts them."""
SERVICE_NAMES = tuple(service.name for service in SERVICES)


def services(ctx: Context) -> list[Service]:
    return [service(ctx) for service in SERVICES]


def service_by_name(ctx: Context, name: str) -> Service:
    for service in services(ctx):
        if service.name == name:
            return service
    raise KeyError(name)


@dataclass
class Progress:
    """Prints one line per step with its duration."""

    out: TextIO

    @contextmanager
    def step(self, label: str) -> Iterator[list[str]]:
        notes: list[str] = []
        started = time.monotonic()
        self.out.write(f"  {label} ...")
        self.out.flush()
        try:
            yield notes
        except BaseException:
            self.out.write(f" failed after {time.monotonic() - started:.1f}s\n")
            raise
        suffix = f" ({'; '.join(notes)})" if notes else ""
        self.out.write(f" {time.monotonic() - started:.1f}s{suffix}\n")
        self.out.flush()


def up(ctx: Context, out: TextIO, skip: frozenset[str] = frozenset()) -> list[Service]:
    """Install what is missing, start what is down, provision everything but the services named
    in `skip`; idempotent."""
    progress = Progress(out)
    ctx.ensure_dirs()
    all_services = [service for service in services(ctx) if service.name not in skip]
    with progress.step("secrets"):
        ctx.secrets  # noqa: B018 (generated on first access)
    with progress.step("java") as notes:
        notes.append(str(ctx.java_home))
    for service in all_services:
        with progress.step(f"install {service.name}") as notes, _explained(service, "install"):
            notes.append("installed" if service.install() else "cached")
    for service in all_services:
        with progress.step(f"start {service.name}") as notes, _explained(service, "start"):
            was_running = all(pid is not None for pid in service.running().values())
            service.start()
            notes.append("already running" if was_running else "started")
        with progress.step(f"provision {service.name}"), _explained(service, "provision"):
            service.provision()
    return all_services


@contextmanager
def _explained(service: Service, step: str) -> Iterator[None]:
    """Turn an unexpected error inside a step into a PlatformError naming the service."""
    try:
        yield
    except PlatformError:
        raise
    except Exception as exc:
        raise PlatformError(
            service.name,
            f"{step} failed: {type(exc).__name__}: {exc}",
            f"read `fraudlake logs {service.name}`; `fraudlake up` again retries the step",
        ) from exc


def down(ctx: Context, out: TextIO) -> None:
    progress = Progress(out)
    for service in reversed(services(ctx)):
        with progress.step(f"stop {service.name}") as notes:
            notes.append("stopped" if service.stop() else "was not running")


def status(ctx: Context, show_secrets: bool = False) -> dict[str, dict[str, Any]]:
    """Per service: up/down, pids, why it is down (log tail), and how to connect."""
    report: dict[str, dict[str, Any]] = {}
    states = Store.of(ctx).states()
    for service in services(ctx):
        health = service.health()
        entry: dict[str, Any] = {
            "status": "up" if health.up else "down",
            "pids": health.processes,
            "rss_mb": round(
                sum(tree_rss_bytes(pid) for pid in health.processes.values() if pid is not None) / 2**20
            ),
            "logs": [str(service.log_file(proc)) for proc in service.processes],
            "connection": service.connection(show_secrets),
        }
        state = states.get(service.name)
        if state is not None and (state.restarts or state.left_down):
            entry["supervision"] = {"restarts": len(state.restarts), "last": state.last}
        if not health.up:
            entry["reason"] = health.detail
            entry["last_log_lines"] = [
                line for proc in service.processes for line in tail(service.log_file(proc), 5)
            ]
            if state is not None and state.left_down:
                entry["reason"] += f"; {state.left_down['reason']}"
                entry["last_log_lines"] = state.left_down["last_log_lines"]
        report[service.name] = entry
    return report


def reset(ctx: Context, out: TextIO, confirm: Callable[[str], bool]) -> bool:
    """Stop everything and delete data, logs and secrets of this checkout (not the cache): the
    state folder, once it shows it is one (`state_folder.claim`)."""
    home = ctx.settings.home
    elsewhere = [path for service in services(ctx) for path in service.owned_paths() if path.exists()]
    if not home.exists() and not elsewhere:
        out.write(f"  nothing to delete: {home} does not exist\n")
        return True
    if home.exists():
        state_folder.claim(home)
    where = ", ".join(map(str, [home, *elsewhere]))
    if not confirm(f"Delete all fraudlake data, logs and secrets under {where}?"):
        return False
    if home.exists():
        down(ctx, out)
    for path in [*elsewhere, home]:
        shutil.rmtree(path, ignore_errors=True)
        out.write(f"  removed {path}\n")
    return True
