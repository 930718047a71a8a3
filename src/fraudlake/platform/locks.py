"""Exclusive file locks between fraudlake's own processes (CLI commands, Airflow tasks, the
supervisor): whoever holds one works alone; the others wait their turn."""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def held(lock_file: Path, wait: bool = True) -> Iterator[bool]:
    """Hold `lock_file` exclusively (flock: released by the kernel if the holder dies); True. With
    `wait=False`, False at once while another holds it (the lock is then not held)."""
    lock_file.parent.mkdir(parents=True, exist_ok=True)
    with lock_file.open("a") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
