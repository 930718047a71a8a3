"""MinIO: the platform buckets work with the generated credentials and refuse anonymous access;
each service's own user can do its job and nothing beyond it."""

from __future__ import annotations

import functools
import io
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable

import pytest
from minio import Minio as MinioClient
from minio.error import S3Error

from fraudlake.platform.minio import BUCKETS, FLINK, LAKE, SINK, Identity, Minio, read_object


def test_buckets_exist(minio: Minio) -> None:
    assert {bucket.name for bucket in minio.client().list_buckets()} >= set(BUCKETS)


def test_put_list_get_delete_in_bronze(minio: Minio) -> None:
    client = minio.client()
    key = f"tests/{uuid.uuid4()}.json"
    body = b'{"payment_id": "p-1"}'
    client.put_object("bronze", key, io.BytesIO(body), len(body), content_type="application/json")
    listed = [obj.object_name for obj in client.list_objects("bronze", prefix="tests/", recursive=True)]
    assert key in listed
    response = client.get_object("bronze", key)
    try:
        assert response.read() == body
    finally:
        response.close()
        response.release_conn()
    client.remove_object("bronze", key)
    listed = [obj.object_name for obj in client.list_objects("bronze", prefix="tests/", recursive=True)]
    assert key not in listed


@pytest.mark.parametrize("path", ["/bronze", "/bronze/anything.json", "/"])
def test_anonymous_access_is_refused(minio: Minio, path: str) -> None:
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(f"{minio.endpoint}{path}", timeout=5)  # noqa: S310
    assert refused.value.code == 403


def test_credentials_file_is_private(minio: Minio) -> None:
    from fraudlake.platform.secrets import secrets_file

    path = secrets_file(minio.settings.home)
    assert path.stat().st_mode & 0o777 == 0o600
    assert minio.ctx.secrets["minio_root_password"] in path.read_text()


def _put(client: MinioClient, bucket: str, key: str) -> None:
    client.put_object(bucket, key, io.BytesIO(b"{}"), 2)


def _read(client: MinioClient, bucket: str, key: str) -> None:
    read_object(client, bucket, key)


def _list(client: MinioClient, bucket: str, key: str) -> None:
    list(client.list_objects(bucket, prefix="tests/"))


def _delete(client: MinioClient, bucket: str, key: str) -> None:
    client.remove_object(bucket, key)


def _refused(action: Callable[[], None]) -> bool:
    try:
        action()
    except S3Error as error:
        return error.code == "AccessDenied"
    return False


@pytest.mark.parametrize(
    ("identity", "allowed", "refused"),
    [
        (FLINK, {"flink": "put read list delete"}, {"bronze": "put read list"}),
        (SINK, {"bronze": "put read list"}, {"bronze": "delete", "flink": "put read list"}),
        (LAKE, {"bronze": "read list"}, {"bronze": "put delete", "flink": "read list"}),
    ],
    ids=lambda v: v.user if isinstance(v, Identity) else None,
)
def test_each_minio_user_does_its_job_and_is_refused_one_step_beyond(
    minio: Minio, identity: Identity, allowed: dict[str, str], refused: dict[str, str]
) -> None:
    admin, client = minio.client(), minio.client(identity)
    actions = {"put": _put, "read": _read, "list": _list, "delete": _delete}
    key = f"tests/{uuid.uuid4()}.json"
    for bucket in BUCKETS:
        _put(admin, bucket, key)
    try:
        for bucket, names in allowed.items():
            for name in names.split():
                actions[name](client, bucket, key)
        done = [
            f"{name} {bucket}"
            for bucket, names in refused.items()
            for name in names.split()
            if not _refused(functools.partial(actions[name], client, bucket, key))
        ]
        assert done == [], f"{identity.user} was let do what it has no business doing"
        assert _refused(lambda: client.make_bucket(f"tests-{uuid.uuid4().hex[:8]}"))
    finally:
        for bucket in BUCKETS:
            admin.remove_object(bucket, key)


def test_no_service_uses_the_root_key(minio: Minio) -> None:
    """Flink's configuration and Airflow's MinIO connection carry their own users' keys."""
    from fraudlake.platform.airflow import Airflow
    from fraudlake.platform.flink import Flink

    root = minio.ctx.secrets["minio_root_password"]
    flink_conf = (Flink(minio.ctx).conf_dir / "config.yaml").read_text()
    assert root not in flink_conf and minio.ctx.secrets[FLINK.secret] in flink_conf
    connection = json.loads(Airflow(minio.ctx).env()["AIRFLOW_CONN_FRAUDLAKE_MINIO"])
    assert (connection["login"], connection["password"]) == minio.credentials(LAKE)
