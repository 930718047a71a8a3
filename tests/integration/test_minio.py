"""MinIO: the platform buckets work with the generated credentials and refuse anonymous access."""

from __future__ import annotations

import io
import urllib.error
import urllib.request
import uuid

import pytest

from fraudlake.platform.minio import BUCKETS, Minio


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
