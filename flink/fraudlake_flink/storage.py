"""The job's checkpoints and savepoints where Flink wrote them: MinIO (`s3://`) or local disk (`file://`).

Flink lays a retained checkpoint out as `<checkpoint dir>/<job id>/chk-<n>/_metadata` and a
savepoint as `<savepoint dir>/savepoint-<job id[:6]>-<random>/_metadata`, the `_metadata` written
last: it marks a completed one even after the JobManager that wrote it is gone (it forgets its
jobs when it dies: there is no HA store on this single-node cluster), and even when whoever
triggered a savepoint died before recording it. Its modified time dates both kinds on one clock.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

CHECKPOINT = re.compile(r"chk-(\d+)/_metadata$")
SAVEPOINT = re.compile(r"/savepoint-([0-9a-f]{6})-[0-9a-f]+/_metadata$")
"""Flink names a savepoint's folder by the first 6 hex digits of its job id."""


@dataclass(frozen=True)
class Stored:
    location: str
    """As Flink names it, e.g. s3://flink/checkpoints/<job id>/chk-12 (what `flink run -s` takes)."""
    modified: datetime


class StateStorage:
    """Reads and deletes checkpoint and savepoint data; `client` is a MinIO client for s3:// ones."""

    def __init__(self, client: Any = None) -> None:
        self.client = client

    def latest_checkpoint(self, checkpoint_dir: str, job_id: str) -> Stored | None:
        """The job's completed checkpoint with the highest number, if any is retained."""
        found: list[tuple[int, Stored]] = []
        for name, modified in self._list(f"{checkpoint_dir.rstrip('/')}/{job_id}"):
            match = CHECKPOINT.search(name)
            if match:
                location = name.removesuffix("/_metadata")
                found.append((int(match.group(1)), Stored(location, modified)))
        return max(found, key=lambda pair: pair[0])[1] if found else None

    def savepoints(self, savepoint_dir: str, job_ids: set[str]) -> list[tuple[str, Stored]]:
        """(job id, savepoint) of every completed savepoint of these jobs found under the folder,
        whether or not anyone recorded it."""
        by_prefix = {job_id[:6]: job_id for job_id in sorted(job_ids)}
        found = []
        for name, modified in self._list(savepoint_dir):
            match = SAVEPOINT.search(name)
            if match and match.group(1) in by_prefix:
                found.append((by_prefix[match.group(1)], Stored(name.removesuffix("/_metadata"), modified)))
        return found

    def size(self, location: str) -> int:
        return sum(size for _, size in self._sizes(location))

    def exists(self, location: str) -> bool:
        return any(True for _ in self._list(location))

    def delete(self, location: str) -> int:
        """Delete everything under `location`; how many objects (files) went. Missing is fine."""
        scheme, bucket, key = _split(location)
        if scheme == "file":
            path = Path(key)
            count = sum(1 for p in path.rglob("*") if p.is_file()) if path.exists() else 0
            shutil.rmtree(path, ignore_errors=True)
            return count
        from minio.deleteobjects import DeleteObject

        names = [o.object_name for o in self.client.list_objects(bucket, prefix=f"{key}/", recursive=True)]
        errors = list(self.client.remove_objects(bucket, (DeleteObject(n) for n in names)))
        if errors:
            raise OSError(f"deleting {location}: {errors[0]}")
        return len(names)

    def _list(self, location: str) -> list[tuple[str, datetime]]:
        """Every object under `location` as (location of the object, modified time)."""
        scheme, bucket, key = _split(location)
        if scheme == "file":
            root = Path(key)
            if not root.exists():
                return []
            return [
                (p.as_uri(), datetime.fromtimestamp(p.stat().st_mtime, UTC))
                for p in root.rglob("*")
                if p.is_file()
            ]
        objects = self.client.list_objects(bucket, prefix=f"{key}/", recursive=True)
        return [(f"s3://{bucket}/{o.object_name}", o.last_modified) for o in objects]

    def _sizes(self, location: str) -> list[tuple[str, int]]:
        scheme, bucket, key = _split(location)
        if scheme == "file":
            root = Path(key)
            return (
                [(str(p), p.stat().st_size) for p in root.rglob("*") if p.is_file()] if root.exists() else []
            )
        return [
            (o.object_name, o.size)
            for o in self.client.list_objects(bucket, prefix=f"{key}/", recursive=True)
        ]


def same_location(a: str, b: str) -> bool:
    """Flink writes file:/x where a listing says file:///x."""
    return _split(a) == _split(b)


def _split(location: str) -> tuple[str, str, str]:
    """(scheme, bucket, key without trailing slash) of s3://bucket/key; (file, "", path) of file:///path."""
    parsed = urlparse(location)
    if parsed.scheme == "file":
        return "file", "", unquote(parsed.path).rstrip("/")
    if parsed.scheme in {"s3", "s3a"}:
        return "s3", parsed.netloc, parsed.path.strip("/")
    raise ValueError(f"{location}: not an s3:// or file:// location")
