"""Engine configuration derived from settings: Flink's config, Kafka's cluster id, the JDK."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudlake.config import Settings
from fraudlake.platform import kafka
from fraudlake.platform.context import Context, find_java_home
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.flink import Flink, flatten


def _flink(tmp_path: Path, **env: str) -> Flink:
    settings = Settings.from_env({"FRAUDLAKE_HOME": str(tmp_path), "HOME": str(tmp_path), **env})
    ctx = Context(settings)
    ctx.__dict__["secrets"] = {
        "minio_root_user": "u",
        "minio_root_password": "p",
        "minio_flink_password": "f",
    }
    ctx.__dict__["java_home"] = Path("/jdk")
    return Flink(ctx)


def test_flatten_nested_yaml() -> None:
    assert flatten({"env": {"java": {"opts": {"all": "--x"}}}, "a": 1}) == {
        "env.java.opts.all": "--x",
        "a": 1,
    }


def test_flink_checkpoints_go_to_minio_by_default(tmp_path: Path) -> None:
    config = _flink(tmp_path)._config()
    assert config["execution.checkpointing.dir"] == "s3://flink/checkpoints"
    assert config["execution.checkpointing.savepoint-dir"] == "s3://flink/savepoints"
    assert config["s3.endpoint"] == "http://127.0.0.1:19000"
    assert config["s3.path.style.access"] is True
    assert (config["s3.access-key"], config["s3.secret-key"]) == ("fraudlake-flink", "f"), "not the root key"
    assert config["rest.bind-address"] == config["taskmanager.bind-host"] == "127.0.0.1"
    assert config["taskmanager.numberOfTaskSlots"] == 4


def test_flink_local_state_storage_has_no_s3_keys(tmp_path: Path) -> None:
    config = _flink(tmp_path, FRAUDLAKE_FLINK_STATE_STORAGE="local")._config()
    assert config["execution.checkpointing.dir"] == (tmp_path / "data/flink/checkpoints").as_uri()
    assert not any(key.startswith("s3.") for key in config)


def test_kafka_cluster_id_format() -> None:
    ids = {kafka._cluster_id() for _ in range(5000)}
    assert len(ids) == 5000
    assert all(len(i) == 22 and "=" not in i for i in ids)
    assert not [i for i in ids if i.startswith("-")], "the storage tool takes '-...' for an option"


def test_configured_java_home_must_be_jdk_17_to_21(tmp_path: Path) -> None:
    jdk = tmp_path / "jdk25"
    jdk.mkdir()
    (jdk / "release").write_text('JAVA_VERSION="25.0.1"\n')
    with pytest.raises(PlatformError, match="not a JDK 17-21 \\(found 25\\)"):
        find_java_home(jdk)
    (jdk / "release").write_text('JAVA_VERSION="17.0.15"\n')
    assert find_java_home(jdk) == jdk
