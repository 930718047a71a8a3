"""MinIO, built from source with `go install` (the community edition ships as source only)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from minio import Minio as MinioClient

from fraudlake.platform import artifacts, process
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import MINIO_MODULE, MINIO_VERSION

BUCKETS = ("bronze", "flink")


class Minio(Service):
    name = "minio"
    processes = ("minio",)

    @property
    def binary(self) -> Path:
        return self.ctx.cache("minio", MINIO_VERSION, "bin", "minio")

    @property
    def endpoint(self) -> str:
        return f"http://{self.settings.bind_host}:{self.settings.minio_port}"

    def ports(self) -> list[Port]:
        return [
            Port("FRAUDLAKE_MINIO_PORT", self.settings.minio_port),
            Port("FRAUDLAKE_MINIO_CONSOLE_PORT", self.settings.minio_console_port),
        ]

    def install(self) -> bool:
        return artifacts.ensure_dir(self.binary.parent.parent, self._build)

    def _build(self, dest: Path) -> None:
        go = artifacts.require_command(self.name, "go", "install Go 1.24+ (apt-get install -y golang)")
        env = {
            **os.environ,
            "GOBIN": str(dest / "bin"),
            "CGO_ENABLED": "0",
            "GOFLAGS": "-buildvcs=false",
        }
        artifacts.run(
            self.name,
            [go, "install", f"{MINIO_MODULE}@{MINIO_VERSION}"],
            fix="check that the Go module proxy is reachable (go env GOPROXY)",
            env=env,
        )

    def start(self) -> None:
        if self.running()["minio"] is None:
            self.check_ports_free()
            host = self.settings.bind_host
            env = {
                **os.environ,
                "MINIO_ROOT_USER": self.ctx.secrets["minio_root_user"],
                "MINIO_ROOT_PASSWORD": self.ctx.secrets["minio_root_password"],
                "MINIO_UPDATE": "off",
                "MINIO_BROWSER_REDIRECT": "off",
            }
            process.start_detached(
                [
                    str(self.binary),
                    "server",
                    "--quiet",
                    "--address",
                    f"{host}:{self.settings.minio_port}",
                    "--console-address",
                    f"{host}:{self.settings.minio_console_port}",
                    str(self.ctx.data("minio")),
                ],
                pid_file=self.pid_file("minio"),
                log_file=self.log_file("minio"),
                env=env,
            )
        self.wait_until("minio", self.probe)

    def probe(self) -> str | None:
        url = f"{self.endpoint}/minio/health/ready"
        try:
            with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 (http to localhost)
                return None if response.status == 200 else f"{url} answered {response.status}"
        except (urllib.error.URLError, OSError) as exc:
            return f"{url}: {exc}"

    def client(self) -> MinioClient:
        return client_for(
            self.endpoint, self.ctx.secrets["minio_root_user"], self.ctx.secrets["minio_root_password"]
        )

    def provision(self) -> None:
        client = self.client()
        for bucket in BUCKETS:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        details: dict[str, Any] = {
            "endpoint": self.endpoint,
            "console": f"http://{self.settings.bind_host}:{self.settings.minio_console_port}",
            "buckets": list(BUCKETS),
            "access_key": self.ctx.secrets["minio_root_user"],
        }
        if show_secrets:
            details["secret_key"] = self.ctx.secrets["minio_root_password"]
        return details


CONNECT_TIMEOUT_S = 5
READ_TIMEOUT_S = 60
"""Per socket read, not per object. The library's default (300 s, retried 5 times) let a MinIO
that accepts connections but never answers hang `fraudlake status` for half an hour; callers
that must outlast an outage retry within their own deadlines (fraudlake/retry.py)."""


def client_for(endpoint: str, access_key: str, secret_key: str) -> MinioClient:
    """A client of the MinIO at `endpoint` (http://host:port, as an Airflow connection holds it too)."""
    import urllib3

    address = endpoint.removeprefix("http://")
    http = urllib3.PoolManager(
        timeout=urllib3.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S),
        maxsize=10,
        retries=urllib3.Retry(total=2, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]),
    )
    return MinioClient(address, access_key=access_key, secret_key=secret_key, secure=False, http_client=http)


def read_object(client: MinioClient, bucket: str, name: str) -> bytes:
    """One object's bytes, the connection returned to the pool."""
    return read_object_and_etag(client, bucket, name)[0]


def read_object_and_etag(client: MinioClient, bucket: str, name: str) -> tuple[bytes, str]:
    """One object's bytes and the etag of exactly those bytes (one request, not a GET and a HEAD)."""
    response = client.get_object(bucket, name)
    try:
        data: bytes = response.read()
        return data, str(response.headers.get("etag", "")).strip('"')
    finally:
        response.close()
        response.release_conn()
