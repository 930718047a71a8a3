"""A small client of Superset's REST API (`/api/v1`): log in, import and export assets, list and
delete objects, and run a chart's query. Plain urllib with a cookie jar: Superset's CSRF check
wants the session cookie beside the token on every write."""

from __future__ import annotations

import http.cookiejar
import json
import urllib.error
import urllib.parse
import urllib.request
import uuid
from functools import cached_property
from typing import Any

from fraudlake.platform.errors import PlatformError

KINDS = ("dashboard", "chart", "dataset", "database")
"""Superset's object kinds, in the order they may be deleted (a chart before its dataset)."""


class SupersetClient:
    def __init__(self, url: str, user: str, password: str) -> None:
        self.url = url.rstrip("/")
        self._user = user
        self._password = password
        self._opener = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
        )

    @cached_property
    def _token(self) -> str:
        body = {"username": self._user, "password": self._password, "provider": "db", "refresh": False}
        return str(
            self._call("POST", "/api/v1/security/login", json.dumps(body).encode(), auth=False)[
                "access_token"
            ]
        )

    @cached_property
    def _csrf(self) -> str:
        return str(self.get("/api/v1/security/csrf_token/")["result"])

    def _call(
        self,
        method: str,
        path: str,
        data: bytes | None = None,
        content_type: str = "application/json",
        *,
        auth: bool = True,
        raw: bool = False,
    ) -> Any:
        headers = {"Content-Type": content_type, "Referer": self.url}
        if auth:
            headers["Authorization"] = f"Bearer {self._token}"
            if method != "GET":
                headers["X-CSRFToken"] = self._csrf
        request = urllib.request.Request(self.url + path, data=data, headers=headers, method=method)  # noqa: S310
        try:
            with self._opener.open(request, timeout=120) as response:
                body = response.read()
        except urllib.error.HTTPError as exc:
            raise PlatformError(
                "superset",
                f"{method} {path} answered {exc.code}: {exc.read().decode(errors='replace')[:800]}",
                "see `fraudlake logs superset`",
            ) from exc
        return body if raw else json.loads(body or b"{}")

    def get(self, path: str) -> Any:
        return self._call("GET", path)

    def post(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("POST", path, json.dumps(body).encode())

    def put(self, path: str, body: dict[str, Any]) -> Any:
        return self._call("PUT", path, json.dumps(body).encode())

    def delete(self, path: str) -> Any:
        return self._call("DELETE", path)

    def import_bundle(self, bundle: bytes, passwords: dict[str, str]) -> None:
        """POST /api/v1/assets/import/: creates or overwrites every object of the bundle."""
        boundary = uuid.uuid4().hex
        parts = [
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="bundle"; filename="bundle.zip"\r\n'
                "Content-Type: application/zip\r\n\r\n"
            ).encode()
            + bundle
            + b"\r\n",
            (
                f'--{boundary}\r\nContent-Disposition: form-data; name="passwords"\r\n\r\n'
                f"{json.dumps(passwords)}\r\n"
            ).encode(),
            f"--{boundary}--\r\n".encode(),
        ]
        self._call(
            "POST", "/api/v1/assets/import/", b"".join(parts), f"multipart/form-data; boundary={boundary}"
        )

    def export_bundle(self) -> bytes:
        """GET /api/v1/assets/export/: every dashboard, chart, dataset and database, as one zip."""
        data: bytes = self._call("GET", "/api/v1/assets/export/", raw=True)
        return data

    def objects(self, kind: str) -> list[dict[str, Any]]:
        """Every object of `kind` with its id and uuid (all pages)."""
        rows: list[dict[str, Any]] = []
        page = 0
        while True:
            query = urllib.parse.quote(f"(columns:!(id,uuid),page:{page},page_size:100)")
            answer = self.get(f"/api/v1/{kind}/?q={query}")
            rows += answer["result"]
            if len(rows) >= answer["count"] or not answer["result"]:
                return rows
            page += 1

    def chart_data(self, query_context: dict[str, Any]) -> list[dict[str, Any]]:
        """Run a chart's query context through Superset (POST /api/v1/chart/data); its rows."""
        answer = self.post("/api/v1/chart/data", query_context)
        return [row for result in answer["result"] for row in result["data"]]
