"""docker-compose.yml is valid for both the Compose Specification and Debian's docker-compose 1.29."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

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
        *FRAUDLAKE_SERVICES,
    } <= set(services)
    for name, service in services.items():
        image = service.get("image", "")
        assert ":" in image and not image.endswith(":latest"), f"{name} pins its image tag"
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name} binds {port} to localhost only"
    for name in (
        "postgres",
        "minio",
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "flink-jobmanager",
        "superset",
        "airflow-api-server",
    ):
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
    assert "COPY flink/java/ /build/java/" in dockerfile and "/jars/fraudlake-udfs.jar" in dockerfile, (
        "the job's Java functions, as flink.py builds them"
    )
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


def _container_env(service: dict[str, Any]) -> dict[str, str]:
    """A service's environment as compose would give it, each `${NAME:?...}` set to `value-NAME`."""

    def resolve(value: object) -> str:
        def one(match: re.Match[str]) -> str:
            name, op, rest = match.group(1), match.group(2) or "", match.group(3) or ""
            return rest if op == ":-" else f"value-{name}"

        return re.sub(r"\$\{(\w+)(:[-?])?([^}]*)\}", one, str(value))

    return {key: resolve(value) for key, value in service.get("environment", {}).items()}


FRAUDLAKE_SERVICES = (
    "platform-init",
    "bronze-sink",
    "scoring-job",
    "airflow-migrate",
    "airflow-api-server",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "fraudlake",
)


@pytest.fixture
def in_container(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """A Context built from a compose service's environment alone, as its container builds it."""
    from fraudlake.config import Settings
    from fraudlake.platform.context import Context

    services = yaml.safe_load(COMPOSE.read_text())["services"]

    def context(name: str) -> Context:
        for variable in [v for v in os.environ if v.startswith("FRAUDLAKE_")]:
            monkeypatch.delenv(variable)
        env = _container_env(services[name]) | {"FRAUDLAKE_HOME": str(tmp_path / name)}
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        return Context(Settings.from_env())

    return context


def test_the_platform_image_installs_through_the_installer_up_runs() -> None:
    """Its venvs and jars come from `fraudlake install` (the pins of airflow.py, dbt.py and
    flink.py by construction), over a copy of every source folder the engines import from."""
    from fraudlake.config import SOURCE_ROOTS

    dockerfile = (ROOT / "docker" / "platform" / "Dockerfile").read_text()
    assert re.search(r"^ && fraudlake install flink airflow \\$", dockerfile, re.M)
    copied = set(re.findall(r"^COPY (\S+)/ ", dockerfile, re.M))
    assert copied == {root.name for root in SOURCE_ROOTS} | {"dags", "dbt"}
    services = yaml.safe_load(COMPOSE.read_text())["services"]
    for name in FRAUDLAKE_SERVICES:
        assert services[name]["image"] == "fraudlake/platform:0.1.0", name
    flink = (ROOT / "docker" / "flink" / "Dockerfile").read_text()
    python = _container_env(services["scoring-job"])["FRAUDLAKE_FLINK_PYTHON"]
    venv = python.removesuffix("/bin/python")
    assert f"python3.11 -m venv {venv}" in flink, "the UDFs' Python exists there, the client's version"
    assert f"PYTHONPATH={venv}/lib/python3.11/site-packages" in flink, "and pemja imports from it"


def test_each_fraudlake_container_is_given_the_secrets_its_code_asks_for(in_container: Any) -> None:
    """What each container runs, asked of the code itself: a secret it was not given would stop it
    (FRAUDLAKE_SECRETS_SOURCE=env), and what it reaches is the compose service, not localhost."""
    from fraudlake.platform.airflow import Airflow
    from fraudlake.platform.flink import Flink
    from fraudlake.platform.minio import FLINK, LAKE, SINK, Minio
    from fraudlake.platform.postgres import APP_ROLE, STREAM_ROLE, Postgres
    from fraudlake_flink.spec import JobSpec

    sink = in_container("bronze-sink")
    assert Minio(sink).credentials(SINK) == ("fraudlake-sink", "value-MINIO_SINK_PASSWORD")
    assert sink.settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
    assert set(sink.secrets) == {"minio_sink_password"}, "the sink holds its own key only"

    init = in_container("platform-init")
    assert Postgres(init).endpoint(APP_ROLE).host == "postgres"
    assert set(init.secrets) == {"pg_app_password"}

    job = in_container("scoring-job")
    spec = JobSpec.from_settings(job.settings)
    assert spec.jdbc_url == "jdbc:postgresql://postgres:5432/fraudlake"
    assert spec.bootstrap == "kafka-1:9092,kafka-2:9092,kafka-3:9092" and spec.parallelism == 2
    config = Flink(job)._config()
    assert config["rest.address"] == "flink-jobmanager" and config["rest.port"] == 8081
    assert (
        config["s3.endpoint"] == "http://minio:9000"
        and config["s3.secret-key"] == "value-MINIO_FLINK_PASSWORD"
    )
    assert config["python.executable"] == "/opt/pyflink/bin/python"
    for role in (APP_ROLE, STREAM_ROLE):
        Postgres(job).endpoint(role)
    Minio(job).credentials(FLINK)
    assert set(job.secrets) == {"pg_app_password", "pg_stream_password", "minio_flink_password"}

    for name in FRAUDLAKE_SERVICES:
        if name.startswith("airflow-"):
            airflow = in_container(name)
            env = Airflow(airflow).env()
            assert "@postgres:5432/airflow" in env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"], name
            assert json.loads(env["AIRFLOW_CONN_FRAUDLAKE_MINIO"])["host"] == "http://minio:9000"
            assert json.loads(env["AIRFLOW_CONN_FRAUDLAKE_FLINK"])["host"] == "http://flink-jobmanager:8081"
            assert env["AIRFLOW__API__BASE_URL"] == "http://127.0.0.1:18080", "the address published"
            execution = env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"]
            assert execution == "http://airflow-api-server:18080/execution/", "tasks reach the API server"
            Minio(airflow).credentials(LAKE)
            assert airflow.secrets["airflow_admin_password"] == "value-AIRFLOW_ADMIN_PASSWORD"
            Flink(airflow)._config()  # rules_deploy and flink_savepoints submit and list as the job does
            Postgres(airflow).endpoint(STREAM_ROLE)
    api = yaml.safe_load(COMPOSE.read_text())["services"]["airflow-api-server"]
    assert api["ports"] == ["127.0.0.1:18080:18080"]
