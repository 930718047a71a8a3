"""Pid files: only the very process `up` started is ours; `stop` ends it and its children."""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from pathlib import Path

from fraudlake.platform import footprint, process


def test_start_record_and_stop(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "run" / "x.pid", tmp_path / "logs" / "x.log"
    pid = process.start_detached(
        [sys.executable, "-c", "import time; print('hello', flush=True); time.sleep(60)"],
        pid_file=pid_file,
        log_file=log_file,
    )
    assert process.running_pid(pid_file) == pid
    assert os.getsid(pid) == pid, "runs in its own session, so `down` can signal its group"
    assert process.stop(pid_file, timeout=10) is True
    assert process.running_pid(pid_file) is None
    assert not pid_file.exists()
    assert process.stop(pid_file) is False


def test_recycled_pid_is_not_ours(tmp_path: Path) -> None:
    pid_file = tmp_path / "stale.pid"
    pid_file.write_text(json.dumps({"pid": os.getpid(), "start_ticks": 1}))
    assert process.running_pid(pid_file) is None
    assert process.stop(pid_file) is False
    assert not pid_file.exists()


def test_a_restart_kills_what_a_killed_leader_left_running(tmp_path: Path) -> None:
    pid_file, log_file = tmp_path / "x.pid", tmp_path / "x.log"
    child_file = tmp_path / "child"
    script = f"sleep 300 & echo $! > {child_file}; wait"
    leader = process.start_detached(["bash", "-c", script], pid_file=pid_file, log_file=log_file)
    deadline = time.monotonic() + 10
    while not child_file.exists() or not child_file.read_text().strip():
        assert time.monotonic() < deadline
        time.sleep(0.05)
    child = int(child_file.read_text())
    bystander = process.start_detached(["sleep", "300"], pid_file=tmp_path / "y.pid", log_file=log_file)
    assert process.clear_leftovers(pid_file) == [], "nothing is left over while the leader lives"
    os.kill(leader, 9)
    os.waitpid(leader, 0)
    assert process.alive(child), "kill -9 takes the leader only"

    again = process.start_detached(["sleep", "300"], pid_file=pid_file, log_file=log_file)
    assert not process.alive(child), "the orphan of the dead run is gone"
    assert f"killed what the last run left running: pids [{child}]" in log_file.read_text()
    assert process.alive(bystander) and process.alive(again)
    for pid_path in (pid_file, tmp_path / "y.pid"):
        assert process.stop(pid_path, timeout=5)


def test_garbage_pid_file_reads_as_not_running(tmp_path: Path) -> None:
    pid_file = tmp_path / "bad.pid"
    pid_file.write_text("not json")
    assert process.running_pid(pid_file) is None


def test_stop_escalates_to_sigkill(tmp_path: Path) -> None:
    pid_file = tmp_path / "stubborn.pid"
    process.start_detached(
        [
            sys.executable,
            "-c",
            "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
            "print('ready', flush=True); time.sleep(60)",
        ],
        pid_file=pid_file,
        log_file=tmp_path / "stubborn.log",
    )
    while "ready" not in (tmp_path / "stubborn.log").read_text():
        pass
    assert process.stop(pid_file, timeout=0.5) is True
    assert process.running_pid(pid_file) is None


def test_port_open() -> None:
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        assert process.port_open("127.0.0.1", port)
    assert not process.port_open("127.0.0.1", port)


def test_tail_returns_last_nonblank_lines(tmp_path: Path) -> None:
    log = tmp_path / "a.log"
    log.write_text("".join(f"line {i}\n\n" for i in range(100)))
    assert process.tail(log, 3) == ["line 97", "line 98", "line 99"]
    assert process.tail(tmp_path / "missing.log") == []


def test_tree_rss_counts_descendants(tmp_path: Path) -> None:
    pid_file = tmp_path / "tree.pid"
    script = (
        "import subprocess, sys, time; "
        "subprocess.Popen([sys.executable, '-c', 'import time; x = bytearray(64 << 20); time.sleep(60)']); "
        "time.sleep(60)"
    )
    pid = process.start_detached(
        [sys.executable, "-c", script], pid_file=pid_file, log_file=tmp_path / "t.log"
    )
    try:
        own = int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
        deadline = time.monotonic() + 10
        while footprint.tree_rss_bytes(pid) < own + (64 << 20) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert footprint.tree_rss_bytes(pid) >= own + (64 << 20)
    finally:
        process.stop(pid_file, timeout=5)


def test_tree_cpu_counts_descendants_that_ended(tmp_path: Path) -> None:
    busy = "import time\nwhile time.process_time() < 0.6: pass"
    script = (
        f"import subprocess, sys, time; subprocess.run([sys.executable, '-c', {busy!r}]); "
        "print('child done', flush=True); time.sleep(60)"
    )
    log = tmp_path / "t.log"
    pid = process.start_detached([sys.executable, "-c", script], pid_file=tmp_path / "t.pid", log_file=log)
    try:
        deadline = time.monotonic() + 20
        while "child done" not in log.read_text() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert footprint.tree(pid) == [pid], "the busy child has ended"
        assert footprint.tree_cpu_seconds(pid) >= 0.6
    finally:
        process.stop(tmp_path / "t.pid", timeout=5)


def test_identity_drops_the_callers_groups() -> None:
    import pwd

    assert process.identity(None) == {}
    me = pwd.getpwuid(os.getuid())
    assert process.identity(me.pw_name) == {"user": me.pw_name, "group": me.pw_gid, "extra_groups": []}
