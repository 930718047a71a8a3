"""MinIO, built from source with `go install` (the community edition ships as source only)."""

from __future__ import annotations

import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from minio import Minio as MinioClient
from minio.credentials.providers import StaticProvider
from minio.minioadmin import MinioAdmin

from fraudlake.platform import artifacts, process
from fraudlake.platform.service import Port, Service
from fraudlake.platform.versions import MINIO_MODULE, MINIO_VERSION

BUCKETS = ("bronze", "flink")

_READ = ("s3:GetBucketLocation", "s3:ListBucket", "s3:GetObject")


@dataclass(frozen=True)
class Identity:
    """Who talks to MinIO: the root user (ADMIN: provisioning and tests only), or a user whose
    policy allows `actions` on `buckets` and nothing else."""

    user: str
    secret: str
    """Its key in the platform's secrets."""
    buckets: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    purpose: str = ""

    def policy(self) -> dict[str, Any]:
        resources = [f"arn:aws:s3:::{b}{tail}" for b in self.buckets for tail in ("", "/*")]
        statement = {"Effect": "Allow", "Action": list(self.actions), "Resource": resources}
        return {"Version": "2012-10-17", "Statement": [statement]}


ADMIN = Identity("", "minio_root_password", purpose="root: provisioning")
_MULTIPART = ("s3:ListBucketMultipartUploads", "s3:ListMultipartUploadParts", "s3:AbortMultipartUpload")
FLINK = Identity(
    "fraudlake-flink",
    "minio_flink_password",
    ("flink",),
    (*_READ, *_MULTIPART, "s3:PutObject", "s3:DeleteObject"),
    "Flink's checkpoints and savepoints (written, read, deleted; the bucket's settings untouched)",
)
SINK = Identity(
    "fraudlake-sink",
    "minio_sink_password",
    ("bronze",),
    (*_READ, "s3:PutObject", "s3:AbortMultipartUpload"),
    "the Bronze sink: writes and re-reads bronze, deletes nothing",
)
LAKE = Identity(
    "fraudlake-lake", "minio_lake_password", ("bronze",), _READ, "the loader and lake stats: reads bronze"
)
USERS = (FLINK, SINK, LAKE)


class Minio(Service):
    name = "minio"
    processes = ("minio",)

    @property
    def binary(self) -> Path:
        return self.ctx.cache("minio", MINIO_VERSION, "bin", "minio")

    @property
    def endpoint(self) -> str:
        return f"http://{self.settings.reach('minio')}:{self.settings.minio_port}"

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

    def credentials(self, identity: Identity) -> tuple[str, str]:
        """(access key, secret key) of `identity`."""
        user = identity.user or self.ctx.secrets["minio_root_user"]
        return user, self.ctx.secrets[identity.secret]

    def client(self, identity: Identity = ADMIN) -> MinioClient:
        return client_for(self.endpoint, *self.credentials(identity))

    def provision(self) -> None:
        """The buckets, and each user with exactly its policy (set again on every `up`)."""
        client = self.client()
        for bucket in BUCKETS:
            if not client.bucket_exists(bucket):
                client.make_bucket(bucket)
        admin = MinioAdmin(
            endpoint=self.endpoint.removeprefix("http://"),
            credentials=StaticProvider(*self.credentials(ADMIN)),
            secure=False,
        )
        for identity in USERS:
            admin.policy_add(identity.user, policy=identity.policy())
            admin.user_add(*self.credentials(identity))
            admin.policy_set(identity.user, user=identity.user)

    def connection(self, show_secrets: bool) -> dict[str, Any]:
        details: dict[str, Any] = {
            "endpoint": self.endpoint,
            "console": f"http://{self.settings.reach('minio')}:{self.settings.minio_console_port}",
            "buckets": list(BUCKETS),
            "access_key": self.ctx.secrets["minio_root_user"],
            "users": {identity.user: {"purpose": identity.purpose} for identity in USERS},
        }
        if show_secrets:
            details["secret_key"] = self.ctx.secrets["minio_root_password"]
            for identity in USERS:
                details["users"][identity.user]["secret_key"] = self.ctx.secrets[identity.secret]
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
