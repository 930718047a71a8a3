"""The CLI turns bad configuration and a taken port into one clear message, not a stack trace."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from fraudlake import cli
from fraudlake.config import Settings
from fraudlake.platform.context import Context
from fraudlake.platform.errors import PlatformError
from fraudlake.platform.minio import Minio


def test_bad_config_exits_2_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRAUDLAKE_KAFKA_PORT", "ninety")
    assert cli.main(["status"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "error: configuration: FRAUDLAKE_KAFKA_PORT: expected an integer, got 'ninety'"


def test_taken_port_names_service_cause_and_fix(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        port = squatter.getsockname()[1]
        settings = Settings.from_env({"FRAUDLAKE_HOME": str(tmp_path), "FRAUDLAKE_MINIO_PORT": str(port)})
        with pytest.raises(PlatformError) as error:
            Minio(Context(settings)).check_ports_free()
    assert error.value.service == "minio"
    assert error.value.cause == f"port {port} is already in use by another program"
    assert "FRAUDLAKE_MINIO_PORT" in error.value.fix


def test_reset_without_terminal_or_yes_refuses(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    Context(Settings.from_env({"FRAUDLAKE_HOME": str(state)})).ensure_dirs()
    monkeypatch.setenv("FRAUDLAKE_HOME", str(state))
    monkeypatch.setattr("sys.stdin.isatty", lambda: False)
    assert cli.main(["reset"]) == 1
    assert (state / "data").exists()
    assert "pass --yes" in capsys.readouterr().err


def test_reset_yes_wipes_state_folder(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    state = tmp_path / "state"
    Context(Settings.from_env({"FRAUDLAKE_HOME": str(state)})).ensure_dirs()
    (state / "data" / "kafka.log").write_text("x")
    assert (state / ".fraudlake-state").is_file()
    monkeypatch.setenv("FRAUDLAKE_HOME", str(state))
    assert cli.main(["reset", "--yes"]) == 0
    assert not state.exists()


def test_reset_yes_adopts_a_state_folder_from_before_the_marker(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    (state / "data").mkdir(parents=True)
    (state / "secrets.json").write_text("{}")
    monkeypatch.setenv("FRAUDLAKE_HOME", str(state))
    assert cli.main(["reset", "--yes"]) == 0
    assert not state.exists()


def test_reset_yes_refuses_a_folder_fraudlake_did_not_make(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    someones_home = tmp_path / "ana"
    (someones_home / "thesis").mkdir(parents=True)
    (someones_home / ".bashrc").write_text("export EDITOR=vi\n")
    monkeypatch.setenv("FRAUDLAKE_HOME", str(someones_home))
    assert cli.main(["reset", "--yes"]) == 1
    assert sorted(p.name for p in someones_home.iterdir()) == [".bashrc", "thesis"]
    err = capsys.readouterr().err
    assert f"FRAUDLAKE_HOME={someones_home} holds other files and no .fraudlake-state" in err
    with pytest.raises(PlatformError, match="not a fraudlake state folder"):
        Context(Settings.from_env({"FRAUDLAKE_HOME": str(someones_home)})).ensure_dirs()


def test_simulate_without_platform_says_how_to_fix(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path))
    monkeypatch.setenv("FRAUDLAKE_PG_PORT", "29998")
    monkeypatch.setenv("FRAUDLAKE_KAFKA_PORT", "29999")
    assert cli.main(["simulate", "--events", "10", "--no-postgres"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: [kafka] cannot produce: nothing listens on 127.0.0.1:29999")
    assert "fix: start the platform (`fraudlake up`) or pass --no-kafka" in err


def test_simulate_refuses_workers_with_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    args = ["simulate", "--workers", "2", "--out", str(tmp_path / "p.parquet")]
    assert cli.main(args) == 2
    assert "--workers > 1 is for replay into Kafka only" in capsys.readouterr().err


def test_simulate_files_only(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    args = _simulate_offline(500, out=tmp_path / "p.parquet", truth_out=tmp_path / "t.parquet")
    assert cli.main(args) == 0
    assert pq.read_table(tmp_path / "p.parquet").num_rows == 500
    assert pq.read_table(tmp_path / "t.parquet").column_names == [
        "payment_id",
        "customer_id",
        "is_fraud",
        "scenario",
        "event_time",
        "schema_version",
    ]


def test_score_with_bad_rules_file_names_the_field(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: v2\nscore_cap: 100\nalert: {threshold: 60}\nseverity: {medium: 60, high: 80}\n"
        "rules: {VELOCITY: {points: 25, min_payments: 3}}\n"
    )
    args = [
        "score",
        "--input",
        str(tmp_path / "p.parquet"),
        "--output",
        str(tmp_path / "s.parquet"),
        "--rules",
        str(rules),
        "--profiles",
        str(tmp_path / "c.parquet"),
    ]
    assert cli.main(args) == 2
    assert capsys.readouterr().err.strip() == (
        f"error: rules: {rules}.rules.VELOCITY.window_minutes: missing"
    )


def test_simulate_then_score_offline(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    outputs = {"out": tmp_path / "p.parquet", "customers_out": tmp_path / "c.parquet"}
    assert cli.main(_simulate_offline(2000, **outputs)) == 0
    assert (
        cli.main(
            [
                "score",
                "--input",
                str(tmp_path / "p.parquet"),
                "--profiles",
                str(tmp_path / "c.parquet"),
                "--output",
                str(tmp_path / "s.parquet"),
            ]
        )
        == 0
    )
    decisions = pq.read_table(tmp_path / "s.parquet").to_pylist()
    assert len(decisions) == 2000
    assert {d["rules_version"] for d in decisions} == {"v1"}
    assert any(d["is_alert"] for d in decisions) and not all(d["is_alert"] for d in decisions)


def _simulate_offline(events: int, **outputs: Path) -> list[str]:
    """`simulate` arguments that write files only, so no platform is needed."""
    args = ["simulate", "--events", str(events), "--no-kafka", "--no-postgres", "--start", "2026-01-01"]
    for flag, path in outputs.items():
        args += [f"--{flag.replace('_', '-')}", str(path)]
    return args


def test_a_reader_that_goes_away_ends_the_command_quietly(tmp_path: Path) -> None:
    """`fraudlake ... | head`: the closed pipe ends the command with 141 (as SIGPIPE would), no trace."""
    script = (
        "import sys\n"
        "from fraudlake import cli\n"
        "from fraudlake.cli import commands\n"
        "def flood(ctx, args):\n"
        "    for n in range(200_000):\n"
        "        print(f'line {n}')\n"
        "    return 0\n"
        "commands.COMMANDS['status'] = flood\n"
        "sys.exit(cli.main(['status']))\n"
    )
    done = subprocess.run(
        ["bash", "-c", f'{sys.executable} -c "$SCRIPT" | head -n 2; echo "exit ${{PIPESTATUS[0]}}" >&2'],
        env={**os.environ, "SCRIPT": script, "FRAUDLAKE_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.stdout == "line 0\nline 1\n"
    assert "Traceback" not in done.stderr and "BrokenPipeError" not in done.stderr, done.stderr
    assert done.stderr.strip().endswith("exit 141")


def test_a_new_state_folder_gets_its_marker_before_anything_else_is_written(tmp_path: Path) -> None:
    """`up` takes the lifecycle lock (a file in run/) before it makes the folders: the folder is
    claimed first, or the lock file would make it look like someone else's."""
    from fraudlake.platform.supervision import Store

    ctx = Context(Settings.from_env({"FRAUDLAKE_HOME": str(tmp_path / "new")}))
    with Store.of(ctx).lifecycle():
        ctx.ensure_dirs()
    assert (tmp_path / "new" / ".fraudlake-state").is_file()
    assert (tmp_path / "new" / "run" / "lifecycle.lock").exists()


def test_every_command_claims_a_missing_state_folder(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("FRAUDLAKE_HOME", str(tmp_path / "new"))
    monkeypatch.setenv("FRAUDLAKE_PG_PORT", "29998")
    cli.main(["status", "--json"])
    assert (tmp_path / "new" / ".fraudlake-state").is_file()
