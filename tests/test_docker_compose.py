"""docker-compose.yml is valid for both the Compose Specification and Debian's docker-compose 1.29."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fraudlake.platform.superset import PINS
from fraudlake.topics import TOPICS

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"


def _check_jsonschema(path: Path) -> subprocess.CompletedProcess[str]:
    cli = Path(sys.executable).parent / "check-jsonschema"
    return subprocess.run(
        [str(cli), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )


def _filled_env(tmp: Path) -> Path:
    """.env.example with every empty value set, as an operator's .env would be."""
    lines = [
        f"{line}secret-{n}" if re.fullmatch(r"[A-Z_]+=", line) else line
        for n, line in enumerate((ROOT / ".env.example").read_text().splitlines())
    ]
    path = tmp / ".env"
    path.write_text("\n".join(lines) + "\n")
    return path


def _docker_compose(path: Path, env_file: Path | None = None) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("docker-compose")
    assert cli, "Debian's docker-compose is installed by scripts/test.sh"
    env_file = env_file or _filled_env(path.parent)
    return subprocess.run(
        [cli, "-f", str(path), "--env-file", str(env_file), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("validate", [_check_jsonschema, _docker_compose])
def test_compose_file_validates(validate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "docker-compose.yml"
    path.write_text(COMPOSE.read_text())
    (tmp_path / "docker").symlink_to(ROOT / "docker")
    done = validate(path)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_example_env_file_starts_nothing_until_each_password_is_set(tmp_path: Path) -> None:
    done = _docker_compose(COMPOSE, ROOT / ".env.example")
    assert done.returncode != 0
    assert re.search(r"set \w+_(PASSWORD|KEY) in \.env", done.stderr), done.stderr


@pytest.mark.parametrize("validate", [_check_jsonschema, _docker_compose])
def test_validators_reject_a_broken_file(validate, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    broken = yaml.safe_load(COMPOSE.read_text())
    broken["services"]["postgres"]["healthcheck"]["intervall"] = "5s"
    path = tmp_path / "docker-compose.yml"
    path.write_text(yaml.safe_dump(broken))
    assert validate(path).returncode != 0


def test_compose_runs_the_same_system() -> None:
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    assert {
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "postgres",
        "minio",
        "minio-init",
        "flink-jobmanager",
        "flink-taskmanager",
        "superset",
    } <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name} pins its image tag"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} binds {port} to localhost only"
    for name in ("postgres", "minio", "kafka-1", "kafka-2", "kafka-3", "flink-jobmanager", "superset"):
        assert "healthcheck" in services[name], f"{name} has a health check"


def _installed(image: str) -> list[str]:
    dockerfile = (ROOT / "docker" / image / "Dockerfile").read_text()
    installed = dockerfile.split("pip install --no-cache-dir", 1)[1].split("\nCOPY", 1)[0]
    return sorted(installed.replace("\\", " ").split())


def test_the_superset_image_installs_the_pins_of_the_local_platform() -> None:
    assert _installed("superset") == sorted(PINS)


def test_the_flink_image_has_the_versions_and_python_packages_of_the_local_platform() -> None:
    """The job imports orjson, pydantic, PyYAML and tenacity (its client side and its UDF): the
    image installs what the local PyFlink venv does, and builds from versions.py's versions."""
    from fraudlake.platform import versions
    from fraudlake.platform.flink import FLINK_VENV_REQUIREMENTS

    assert _installed("flink") == sorted(FLINK_VENV_REQUIREMENTS)
    dockerfile = (ROOT / "docker" / "flink" / "Dockerfile").read_text()
    args = dict(re.findall(r"^ARG (\w+)=(\S+)$", dockerfile, re.M))
    assert args == {name: getattr(versions, name) for name in args} and len(args) == 4
    images = {n: s.get("image", "") for n, s in yaml.safe_load(COMPOSE.read_text())["services"].items()}
    assert images["kafka-1"] == f"apache/kafka:{versions.KAFKA_VERSION}"
    assert images["postgres"].startswith(f"postgres:{versions.POSTGRES_MAJOR}.")
    assert images["flink-jobmanager"] == f"fraudlake/flink:{versions.FLINK_VERSION}"
    assert images["superset"] == f"fraudlake/superset:{versions.SUPERSET_VERSION}"


def test_the_compose_cluster_gets_the_topics_of_the_local_platform() -> None:
    """docker/kafka/create-topics.sh creates exactly topics.py's topics, partitions and retention."""
    script = (ROOT / "docker" / "kafka" / "create-topics.sh").read_text()
    day = 86_400_000
    created = {
        name: (int(partitions), int(days) * day)
        for name, partitions, days in re.findall(r"^create (\S+) (\d+) \$\(\((\d+) \* DAY\)\)$", script, re.M)
    }
    assert created == {t.name: (t.partitions, t.retention_ms) for t in TOPICS}


def test_the_compose_database_gets_the_roles_and_grants_of_the_local_platform() -> None:
    """docker/postgres's script creates the local platform's roles and runs the statements
    `Postgres.provision` runs on the platform database (SCHEMA_GRANTS), names filled in."""
    from fraudlake.platform.postgres import (
        AIRFLOW_ROLE,
        APP_ROLE,
        DASHBOARDS_ROLE,
        NAMES,
        SCHEMA_GRANTS,
        STREAM_ROLE,
        SUPERSET_ROLE,
        TRANSFORM_ROLE,
    )

    script = (ROOT / "docker" / "postgres" / "10-fraudlake-roles.sh").read_text()
    body = script.split("<<'SQL'", 1)[1].rsplit("\nSQL", 1)[0]
    commands = "\n".join(line for line in body.splitlines() if not line.startswith("\\"))
    statements = [" ".join(s.split()) for s in commands.split(";")]
    roles = {APP_ROLE, STREAM_ROLE, DASHBOARDS_ROLE, TRANSFORM_ROLE, AIRFLOW_ROLE, SUPERSET_ROLE}
    assert set(re.findall(r"^create role (\w+)", script, re.M)) == roles
    granted = [s for s in statements if s in {" ".join(t.format(**NAMES).split()) for t in SCHEMA_GRANTS}]
    assert granted == [" ".join(t.format(**NAMES).split()) for t in SCHEMA_GRANTS], "the same, in order"
    assert f'grant connect, create, temporary on database :"db" to {TRANSFORM_ROLE}' in statements


def test_the_compose_minio_gets_the_users_and_policies_of_the_local_platform() -> None:
    from fraudlake.platform.minio import USERS

    init = (ROOT / "docker" / "minio" / "init.sh").read_text()
    assert set(re.findall(r"^add (\S+) ", init, re.M)) == {identity.user for identity in USERS}
    for identity in USERS:
        policy = json.loads((ROOT / "docker" / "minio" / f"{identity.user}.json").read_text())
        assert policy == identity.policy(), identity.user
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    flink = services["flink-jobmanager"]["environment"]["FLINK_PROPERTIES"]
    assert "s3.access-key: fraudlake-flink" in flink and "MINIO_ROOT" not in flink
