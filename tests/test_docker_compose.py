"""docker-compose.yml is valid for both the Compose Specification and Debian's docker-compose 1.29."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from fraudlake.platform.superset import PINS

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


def _docker_compose(path: Path) -> subprocess.CompletedProcess[str]:
    cli = shutil.which("docker-compose")
    assert cli, "Debian's docker-compose is installed by scripts/test.sh"
    return subprocess.run(
        [cli, "-f", str(path), "--env-file", str(ROOT / ".env.example"), "config", "-q"],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize("validate", [_check_jsonschema, _docker_compose])
def test_compose_file_validates(validate) -> None:  # type: ignore[no-untyped-def]
    done = validate(COMPOSE)
    assert done.returncode == 0, done.stdout + done.stderr


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


def test_the_superset_image_installs_the_pins_of_the_local_platform() -> None:
    dockerfile = (ROOT / "docker" / "superset" / "Dockerfile").read_text()
    installed = dockerfile.split("pip install --no-cache-dir", 1)[1].split("\nCOPY", 1)[0]
    assert sorted(installed.replace("\\", " ").split()) == sorted(PINS)
