"""Cached installs: a finished build is reused; an interrupted one is never mistaken for finished."""

from __future__ import annotations

import multiprocessing
import os
import time
from pathlib import Path

import pytest

from fraudlake.platform import artifacts
from fraudlake.platform.errors import PlatformError


def test_build_once_then_cached(tmp_path: Path) -> None:
    calls: list[Path] = []

    def build(folder: Path) -> None:
        calls.append(folder)
        (folder / "tool").write_text("binary")

    dest = tmp_path / "tool" / "1.0"
    assert artifacts.ensure_dir(dest, build) is True
    assert artifacts.ensure_dir(dest, build) is False
    assert len(calls) == 1
    assert (dest / "tool").read_text() == "binary"
    assert calls[0] != dest, "built in a scratch folder, moved into place when complete"


def test_failed_build_leaves_nothing_behind(tmp_path: Path) -> None:
    def build(folder: Path) -> None:
        (folder / "half").write_text("x")
        raise PlatformError("kafka", "download failed", "retry")

    dest = tmp_path / "kafka" / "4.1.1"
    with pytest.raises(PlatformError):
        artifacts.ensure_dir(dest, build)
    assert not dest.exists()
    assert [p.name for p in dest.parent.iterdir()] == ["4.1.1.lock"], "no scratch folder left"


def _install_venv(dest: str, log: str) -> bool:
    def build(folder: Path) -> None:
        with Path(log).open("a") as out:
            out.write(f"start {os.getpid()}\n")
        time.sleep(0.5)
        (folder / "bin").mkdir()
        with Path(log).open("a") as out:
            out.write(f"end {os.getpid()}\n")

    return artifacts.ensure_dir(Path(dest), build, in_place=True)


def test_concurrent_installs_take_turns_and_build_once(tmp_path: Path) -> None:
    # the first lakehouse_refresh once ran two tasks that built dbt's venv over each other
    dest, log = tmp_path / "venvs" / "dbt-1", tmp_path / "builds.log"
    with multiprocessing.get_context("fork").Pool(3) as pool:
        built = pool.starmap(_install_venv, [(str(dest), str(log))] * 3)
    assert sorted(built) == [False, False, True]
    lines = log.read_text().split()
    assert lines[0::2] == ["start", "end"], "one build, never two at once"
    assert artifacts.is_complete(dest) and (dest / "bin").is_dir()


def test_in_place_build_without_marker_is_redone(tmp_path: Path) -> None:
    dest = tmp_path / "venv"
    dest.mkdir()
    (dest / "stale").write_text("from an interrupted run")
    assert artifacts.ensure_dir(dest, lambda f: (f / "fresh").write_text("ok"), in_place=True)
    assert sorted(p.name for p in dest.iterdir()) == [".complete", "fresh"]


def test_failed_command_names_service_cause_and_fix() -> None:
    with pytest.raises(PlatformError) as error:
        artifacts.run("minio", ["sh", "-c", "echo 'proxy refused' >&2; exit 3"], fix="check GOPROXY")
    rendered = error.value.render()
    assert rendered.startswith("error: [minio] `sh -c")
    assert "exit 3" in rendered and "proxy refused" in rendered
    assert rendered.endswith("fix: check GOPROXY")


def test_missing_command_is_a_platform_error() -> None:
    with pytest.raises(PlatformError, match="command not found: no-such-tool-xyz"):
        artifacts.run("kafka", ["no-such-tool-xyz"], fix="install it")
