"""Configuration: local defaults work, a bad value stops with a message naming the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from fraudlake.config import PROJECT_ROOT, VARIABLES, ConfigError, Settings, env_example, readme_table


def test_defaults_are_local_and_complete() -> None:
    settings = Settings.from_env({"HOME": "/home/analyst"})
    assert settings.home == PROJECT_ROOT / ".fraudlake"
    assert settings.cache_dir == Path("/home/analyst/.cache/fraudlake")
    assert settings.bind_host == "127.0.0.1"
    assert (
        settings.pg_port,
        settings.kafka_port,
        settings.minio_port,
        settings.flink_rest_port,
    ) == (
        15432,
        19092,
        19000,
        18081,
    )
    assert settings.flink_state_storage == "s3"


def test_environment_overrides_defaults(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {
            "FRAUDLAKE_HOME": str(tmp_path / "state"),
            "FRAUDLAKE_KAFKA_PORT": "29092",
            "FRAUDLAKE_FLINK_STATE_STORAGE": "LOCAL",
            "XDG_CACHE_HOME": str(tmp_path / "xdg"),
        }
    )
    assert settings.home == tmp_path / "state"
    assert settings.kafka_port == 29092
    assert settings.flink_state_storage == "local"
    assert settings.cache_dir == tmp_path / "xdg" / "fraudlake"
    assert settings.log_dir == tmp_path / "state" / "logs"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("FRAUDLAKE_KAFKA_PORT", "kafka", "expected an integer"),
        ("FRAUDLAKE_PG_PORT", "70000", "expected 1..65535"),
        ("FRAUDLAKE_FLINK_TASK_SLOTS", "0", "expected 1..64"),
        ("FRAUDLAKE_KAFKA_HEAP", "512", "expected a size"),
        ("FRAUDLAKE_FLINK_STATE_STORAGE", "hdfs", "expected one of s3, local"),
        ("FRAUDLAKE_PG_DATABASE", "fraud-lake; drop", "a SQL name"),
        ("FRAUDLAKE_ALLOW_REMOTE_BIND", "perhaps", "expected true or false, got 'perhaps'"),
        ("FRAUDLAKE_BIND_HOST", "::1", "expected an IPv4 address or a host name"),
    ],
)
def test_bad_value_names_the_variable(variable: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({variable: value})
    assert str(error.value).startswith(f"{variable}: ")
    assert message in str(error.value)


def test_two_services_on_one_port_is_refused() -> None:
    with pytest.raises(
        ConfigError,
        match="FRAUDLAKE_MINIO_PORT: port 19092 is already used by FRAUDLAKE_KAFKA_PORT",
    ):
        Settings.from_env({"FRAUDLAKE_MINIO_PORT": "19092"})


@pytest.mark.parametrize("host", ["0.0.0.0", "10.1.2.3", "fraudlake.internal"])  # noqa: S104
def test_a_bind_beyond_loopback_is_refused_naming_what_has_no_authentication(host: str) -> None:
    with pytest.raises(ConfigError) as error:
        Settings.from_env({"FRAUDLAKE_BIND_HOST": host})
    text = str(error.value)
    assert text.startswith(f"FRAUDLAKE_BIND_HOST: {host} is not a loopback address")
    assert "Kafka (PLAINTEXT, no authentication" in text and "Flink's REST API (job uploads" in text
    assert "FRAUDLAKE_ALLOW_REMOTE_BIND=true" in text
    opted_in = Settings.from_env({"FRAUDLAKE_BIND_HOST": host, "FRAUDLAKE_ALLOW_REMOTE_BIND": "true"})
    assert opted_in.bind_host == host


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "localhost"])
def test_a_loopback_bind_needs_no_opt_in(host: str) -> None:
    assert Settings.from_env({"FRAUDLAKE_BIND_HOST": host}).bind_host == host


def test_every_setting_is_documented_in_env_example() -> None:
    example = (PROJECT_ROOT / ".env.example").read_text()
    readme = (PROJECT_ROOT / "README.md").read_text()
    for variable in VARIABLES:
        assert f"\n{variable.name}=" in example, variable.name
        assert f"| `{variable.name}` | `{variable.default}` | {variable.help} |" in readme, variable.name


def test_documented_defaults_are_the_defaults() -> None:
    """Setting a variable to its documented default changes nothing: the table cannot drift."""
    defaults = Settings.from_env({})
    for variable in VARIABLES:
        if variable.default and variable.default[0] not in "<~(":
            assert Settings.from_env({variable.name: variable.default}) == defaults, variable.name


def test_readme_table_and_env_example_are_generated_from_the_declarations() -> None:
    assert readme_table() in (PROJECT_ROOT / "README.md").read_text(), "python -m fraudlake.config readme"
    assert env_example() in (PROJECT_ROOT / ".env.example").read_text(), "python -m fraudlake.config env"
    assert len(VARIABLES) == len(Settings.model_fields) == len({v.name for v in VARIABLES})


def test_a_blank_value_means_the_default_and_choices_ignore_case() -> None:
    settings = Settings.from_env({"FRAUDLAKE_PG_PORT": "  ", "FRAUDLAKE_JOB_ALERTS_DELIVERY": "Exactly-Once"})
    assert (settings.pg_port, settings.job_alerts_delivery) == (15432, "exactly-once")
    with pytest.raises(ConfigError, match="FRAUDLAKE_SINK_CRASH_AT: expected one of"):
        Settings.from_env({"FRAUDLAKE_SINK_CRASH_AT": "sometime"})
