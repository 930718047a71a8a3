"""The dashboards as files: Superset's native export format, kept in `superset/` and normalised so
that an export of what was imported gives back the same files.

Pure functions (no Superset, no network): read the tree, render it for one platform (the
warehouse URI; the password goes separately, at import), zip it, list its UUIDs, and normalise an
export. Normalising removes what differs between two Superset instances holding the same
objects: numeric ids (charts are renumbered in dashboard order; imports map ids by UUID anyway),
the export's timestamp, the connection's address, the order of a dataset's columns and metrics,
and what the frontend recomputes on every load (filter scopes, label colours).
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from fraudlake.config import PROJECT_ROOT

ASSETS = PROJECT_ROOT / "superset"
FOLDERS = ("databases", "datasets", "charts", "dashboards")
KIND_OF_FOLDER = {
    "databases": "database",
    "datasets": "dataset",
    "charts": "chart",
    "dashboards": "dashboard",
}
URI_TEMPLATE = "postgresql+psycopg2://{user}:XXXXXXXXXX@{host}:{port}/{database}"
"""The warehouse connection as the YAML keeps it: placeholders, filled from the platform at import
(XXXXXXXXXX is Superset's own placeholder for the password it takes separately)."""
DATABASE_NAME = "fraudlake Gold"
"""The name of the connection to Gold (Superset keys connections by name as well as UUID)."""
METADATA = {"version": "1.0.0", "type": "assets", "timestamp": "2026-12-02T00:00:00+00:00"}

Files = dict[str, dict[str, Any]]
"""Relative path (e.g. `charts/payments.yaml`) -> the parsed YAML document."""


@dataclass(frozen=True)
class Warehouse:
    """Superset's connection to Gold on one platform."""

    user: str
    password: str
    host: str
    port: int
    database: str


class BundleError(ValueError):
    """The tree is not a valid bundle; the message names the file and the field."""


def read(root: Path = ASSETS) -> Files:
    files: Files = {}
    for folder in FOLDERS:
        for path in sorted((root / folder).rglob("*.yaml")):
            relative = path.relative_to(root).as_posix()
            document = yaml.safe_load(path.read_text())
            if not isinstance(document, dict) or "uuid" not in document:
                raise BundleError(f"{relative}: not a Superset asset (no uuid)")
            files[relative] = document
    return files


def check(files: Files) -> None:
    """Every reference resolves (chart -> dataset -> database, dashboard -> chart and filter
    datasets), UUIDs are unique, and no password is stored."""
    uuids: dict[str, str] = {}
    for path, document in files.items():
        if document["uuid"] in uuids:
            raise BundleError(f"{path}: uuid {document['uuid']} is also {uuids[document['uuid']]}")
        uuids[document["uuid"]] = path
    by_kind = {
        kind: {d["uuid"] for p, d in files.items() if _kind(p) == kind} for kind in KIND_OF_FOLDER.values()
    }
    for path, document in files.items():
        kind = _kind(path)
        if kind == "database" and document.get("sqlalchemy_uri") != URI_TEMPLATE:
            raise BundleError(
                f"{path}: sqlalchemy_uri must be the template {URI_TEMPLATE!r} (no address, no password)"
            )
        if kind == "database" and "password" in document:
            raise BundleError(f"{path}: stores a password")
        wanted: list[tuple[str, Any, str]] = []
        if kind == "dataset":
            wanted = [("database_uuid", document.get("database_uuid"), "database")]
        elif kind == "chart":
            wanted = [("dataset_uuid", document.get("dataset_uuid"), "dataset")]
        elif kind == "dashboard":
            wanted = [("position chart", u, "chart") for u in chart_uuids(document)]
            wanted += [("filter dataset", u, "dataset") for u in _filter_datasets(document)]
        for field, value, target in wanted:
            if value not in by_kind[target]:
                raise BundleError(f"{path}: {field} {value} is no {target} of the bundle")


def uuids(files: Files) -> dict[str, list[str]]:
    """Kind -> the UUIDs of the bundle's objects of that kind."""
    found: dict[str, list[str]] = {kind: [] for kind in KIND_OF_FOLDER.values()}
    for path, document in files.items():
        found[_kind(path)].append(str(document["uuid"]))
    return {kind: sorted(values) for kind, values in found.items()}


def render(files: Files, warehouse: Warehouse) -> Files:
    """The bundle for one platform: the warehouse URI filled in (the password stays a placeholder,
    the import takes it apart)."""
    rendered = json.loads(json.dumps(files))
    for path, document in rendered.items():
        if _kind(path) == "database":
            document["sqlalchemy_uri"] = URI_TEMPLATE.format(
                user=warehouse.user, host=warehouse.host, port=warehouse.port, database=warehouse.database
            )
    return dict(rendered)


def to_zip(files: Files) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("fraudlake_dashboards/metadata.yaml", dump(METADATA))
        for path, document in sorted(files.items()):
            archive.writestr(f"fraudlake_dashboards/{path}", dump(document))
    return buffer.getvalue()


def dump(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(dict(document), sort_keys=False, allow_unicode=True, width=110)


def from_export(archive: bytes, known: Files) -> Files:
    """An export zip, normalised, at the paths the objects already have in `known` (new objects
    get a path from their name); only the connections `known` has and what is built on them."""
    path_of = {str(document["uuid"]): path for path, document in known.items()}
    files: Files = {}
    with zipfile.ZipFile(io.BytesIO(archive)) as zipped:
        for name in zipped.namelist():
            relative = name.split("/", 1)[1] if "/" in name else name
            folder = relative.split("/", 1)[0]
            if folder not in FOLDERS or not relative.endswith(".yaml"):
                continue
            document = normalise(folder, yaml.safe_load(zipped.read(name)))
            files[path_of.get(str(document["uuid"])) or _new_path(folder, document, files)] = document
    names = {d["database_name"] for p, d in known.items() if _kind(p) == "database"} or {DATABASE_NAME}
    return _built_on(files, names)


def _built_on(files: Files, names: set[str]) -> Files:
    """The connections named `names` (those the tree has: the one to Gold) and what is built on
    them; other connections an instance has, and their datasets and charts, are not ours to write."""
    databases = {
        d["uuid"] for p, d in files.items() if _kind(p) == "database" and d["database_name"] in names
    }
    datasets = {
        d["uuid"] for p, d in files.items() if _kind(p) == "dataset" and d["database_uuid"] in databases
    }
    charts = {d["uuid"] for p, d in files.items() if _kind(p) == "chart" and d["dataset_uuid"] in datasets}
    keep = {"database": databases, "dataset": datasets, "chart": charts}
    return {
        path: document
        for path, document in files.items()
        if (_kind(path) == "dashboard" and set(chart_uuids(document)) <= charts)
        or document["uuid"] in keep.get(_kind(path), set())
    }


def normalise(folder: str, document: dict[str, Any]) -> dict[str, Any]:
    kind = KIND_OF_FOLDER[folder]
    if kind == "database":
        document["sqlalchemy_uri"] = URI_TEMPLATE
        document.pop("password", None)
    elif kind == "dataset":
        document["catalog"] = None
        document["columns"] = sorted(document.get("columns") or [], key=lambda c: str(c["column_name"]))
        document["metrics"] = sorted(document.get("metrics") or [], key=lambda m: str(m["metric_name"]))
    elif kind == "chart":
        document["params"]["datasource"] = "0__table"
        if document.get("query_context"):
            context = json.loads(document["query_context"])
            context["datasource"] = {"id": 0, "type": "table"}
            if "form_data" in context:
                context["form_data"]["datasource"] = "0__table"
            for query in context.get("queries", []):
                if "datasource" in query:
                    query["datasource"] = context["datasource"]
            document["query_context"] = json.dumps(context)
    elif kind == "dashboard":
        _renumber_charts(document)
    return document


def _renumber_charts(dashboard: dict[str, Any]) -> None:
    """Chart ids 1..n in layout order, and every id reference in the metadata mapped alike."""
    charts = [node for node in dashboard.get("position", {}).values() if is_chart(node)]
    ids = {node["meta"]["chartId"]: n for n, node in enumerate(charts, start=1)}
    for node in charts:
        node["meta"]["chartId"] = ids[node["meta"]["chartId"]]
    metadata = dashboard.setdefault("metadata", {})
    metadata["chart_configuration"] = {
        str(ids[int(key)]): {**value, "id": ids[int(key)]}
        if isinstance(value, dict) and "id" in value
        else value
        for key, value in metadata.get("chart_configuration", {}).items()
        if int(key) in ids
    }
    metadata["expanded_slices"] = {
        str(ids[int(key)]): value
        for key, value in metadata.get("expanded_slices", {}).items()
        if int(key) in ids
    }
    metadata["timed_refresh_immune_slices"] = [
        ids[old] for old in metadata.get("timed_refresh_immune_slices", []) if old in ids
    ]
    for scoped in [
        *metadata.get("native_filter_configuration", []),
        metadata.get("global_chart_configuration", {}),
    ]:
        scoped.pop("chartsInScope", None)
        scoped.pop("tabsInScope", None)
        scope = scoped.get("scope", {})
        if "excluded" in scope:
            scope["excluded"] = [ids[old] for old in scope["excluded"] if old in ids]
    for computed in ("positions", "shared_label_colors", "color_scheme_domain", "map_label_colors"):
        metadata.pop(computed, None)  # the frontend recomputes (and re-saves) these on every load


def is_chart(node: Any) -> bool:
    return isinstance(node, dict) and node.get("type") == "CHART"


def chart_uuids(dashboard: dict[str, Any]) -> list[str]:
    return [n["meta"].get("uuid") for n in dashboard.get("position", {}).values() if is_chart(n)]


def _filter_datasets(dashboard: dict[str, Any]) -> list[str]:
    filters = dashboard.get("metadata", {}).get("native_filter_configuration", [])
    return [t["datasetUuid"] for f in filters for t in f.get("targets", []) if "datasetUuid" in t]


def _kind(path: str) -> str:
    return KIND_OF_FOLDER[path.split("/", 1)[0]]


def _new_path(folder: str, document: dict[str, Any], taken: Files) -> str:
    name = next(
        (
            document[k]
            for k in ("slice_name", "dashboard_title", "table_name", "database_name")
            if document.get(k)
        ),
        None,
    )
    stem = re.sub(r"[^a-z0-9]+", "_", str(name or document["uuid"]).lower()).strip("_")
    if folder == "datasets":
        stem = f"fraudlake_gold/{stem}"
    path = f"{folder}/{stem}.yaml"
    return path if path not in taken else f"{folder}/{stem}_{str(document['uuid'])[:8]}.yaml"


def write(files: Files, root: Path = ASSETS) -> list[str]:
    """Write `files` under `root` and delete the asset files it no longer has; the paths changed."""
    changed = []
    for path, document in {"metadata.yaml": METADATA, **files}.items():
        target = root / path
        text = dump(document)
        if not target.exists() or target.read_text() != text:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
            changed.append(path)
    for folder in FOLDERS:
        for stale in (root / folder).rglob("*.yaml"):
            relative = stale.relative_to(root).as_posix()
            if relative not in files:
                stale.unlink()
                changed.append(relative)
    return sorted(changed)
