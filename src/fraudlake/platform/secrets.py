"""Credentials generated on the first `up` and kept in the state folder, readable by the owner only,
or (FRAUDLAKE_SECRETS_SOURCE=env, in containers) given one by one as environment variables, so that
each container holds only the secrets of its own job."""

from __future__ import annotations

import json
import os
import secrets
from collections.abc import Mapping
from pathlib import Path

from fraudlake.config import PREFIX
from fraudlake.platform.errors import PlatformError

_NAMES = (
    "pg_superuser_password",
    "pg_app_password",
    "pg_stream_password",
    "pg_airflow_password",
    "airflow_admin_password",
    "pg_superset_password",
    "pg_dashboards_password",
    "pg_transform_password",
    "superset_admin_password",
    "superset_secret_key",
    "minio_root_user",
    "minio_root_password",
    "minio_flink_password",
    "minio_sink_password",
    "minio_lake_password",
)


def secrets_file(home: Path) -> Path:
    return home / "secrets.json"


def load_or_create(home: Path) -> dict[str, str]:
    """Read the platform's secrets, generating any that are missing (file mode 0600)."""
    path = secrets_file(home)
    current: dict[str, str] = {}
    if path.exists():
        current = json.loads(path.read_text())
    missing = [name for name in _NAMES if not current.get(name)]
    if missing:
        for name in missing:
            current[name] = "fraudlake-admin" if name == "minio_root_user" else _token(name)
        home.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(current, handle, indent=2)
    path.chmod(0o600)
    return current


def variable(name: str) -> str:
    """The environment variable that gives secret `name`: pg_app_password -> FRAUDLAKE_PG_APP_PASSWORD."""
    return PREFIX + name.upper()


class Given(dict[str, str]):
    """Secrets given by the environment; asking for one it was not given stops, naming its variable."""

    def __missing__(self, name: str) -> str:
        raise PlatformError(
            "secrets",
            f"{variable(name)} is not set (FRAUDLAKE_SECRETS_SOURCE=env)",
            f"give this container {variable(name)}, the value the service it reaches was set up with",
        )


def from_env(env: Mapping[str, str]) -> Given:
    return Given({name: env[variable(name)] for name in _NAMES if env.get(variable(name))})


def _token(name: str) -> str:
    """A signing key gets 32 bytes of randomness (Superset refuses short SECRET_KEYs), a password 24."""
    return secrets.token_urlsafe(32 if name.endswith("_key") else 24)
