"""Integration tests run against the real local platform, started once per session via the CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from fraudlake.config import Settings
from fraudlake.platform.context import Context
from fraudlake.platform.flink import Flink
from fraudlake.platform.kafka import Kafka
from fraudlake.platform.minio import Minio
from fraudlake.platform.postgres import Postgres
from tests.integration.lake_harness import Landed

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if Path(str(item.fspath)).is_relative_to(Path(__file__).parent):
            item.add_marker(pytest.mark.integration)


def fraudlake(*args: str) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "fraudlake.cli", *args],
        capture_output=True,
        text=True,
        env=dict(os.environ),
        cwd=ROOT,
        timeout=1800,
        check=False,
    )


@pytest.fixture(scope="session")
def ctx() -> Iterator[Context]:
    done = fraudlake("up", "--no-demo")
    assert done.returncode == 0, f"fraudlake up failed:\n{done.stdout}\n{done.stderr}"
    yield Context(Settings.from_env())


@pytest.fixture(scope="session")
def kafka(ctx: Context) -> Kafka:
    return Kafka(ctx)


@pytest.fixture(scope="session")
def postgres(ctx: Context) -> Postgres:
    return Postgres(ctx)


@pytest.fixture(scope="session")
def minio(ctx: Context) -> Minio:
    return Minio(ctx)


@pytest.fixture(scope="session")
def flink(ctx: Context) -> Flink:
    return Flink(ctx)


@pytest.fixture
def landed(ctx: Context) -> Iterator[Landed]:
    """A private Bronze (topics, bucket, schema) and, once done, its scoped lakehouse schemas dropped."""
    made = Landed(ctx)
    yield made
    prefix = f"t{made.schema.rsplit('_', 1)[1]}_"
    made.drop(*(prefix + s for s in ("staging", "silver", "gold")))
