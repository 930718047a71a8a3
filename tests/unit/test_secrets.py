"""Secrets are generated once, kept private (0600), and never change between runs."""

from __future__ import annotations

import json
from pathlib import Path

from fraudlake.platform import secrets


def test_generated_once_private_and_stable(tmp_path: Path) -> None:
    first = secrets.load_or_create(tmp_path)
    path = secrets.secrets_file(tmp_path)
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(first["minio_root_password"]) >= 24
    assert len(set(first.values())) == len(first), "every secret is distinct"
    assert secrets.load_or_create(tmp_path) == first


def test_missing_entries_are_filled_existing_kept(tmp_path: Path) -> None:
    path = secrets.secrets_file(tmp_path)
    path.write_text(json.dumps({"pg_app_password": "chosen-by-operator"}))
    path.chmod(0o644)
    loaded = secrets.load_or_create(tmp_path)
    assert loaded["pg_app_password"] == "chosen-by-operator"
    assert loaded["pg_stream_password"]
    assert path.stat().st_mode & 0o777 == 0o600


def test_secrets_from_the_environment_are_only_those_given(tmp_path: Path) -> None:
    """A container (FRAUDLAKE_SECRETS_SOURCE=env) holds the secrets of its own job; asking for
    another stops with the variable's name, and nothing is written to the state folder."""
    import pytest

    from fraudlake.platform.errors import PlatformError

    given = secrets.from_env({"FRAUDLAKE_MINIO_SINK_PASSWORD": "s3cret", "FRAUDLAKE_PG_APP_PASSWORD": ""})
    assert dict(given) == {"minio_sink_password": "s3cret"}
    with pytest.raises(PlatformError, match="FRAUDLAKE_PG_APP_PASSWORD is not set"):
        given["pg_app_password"]
    assert not secrets.secrets_file(tmp_path).exists()
