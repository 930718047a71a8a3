"""Import `superset/` into a Superset, and export what analysts changed there back to it.

Superset's assets import creates or overwrites every object of the bundle (charts, datasets and
the connection too, not only dashboards) but never deletes. So each import records the UUIDs it
imported in a manifest, and the next one deletes the objects that were imported before and are no
longer in the YAML: a chart removed from `superset/` disappears, while a chart an analyst made in
the UI (never imported) is left alone until it is exported.

Nothing here knows the local platform (the Superset service passes its client and its warehouse),
so the docker-compose image runs the same import (`python -m fraudlake.dashboards`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fraudlake.dashboards import bundle
from fraudlake.dashboards.client import KINDS, SupersetClient

DATABASE_FILE = "databases/fraudlake_gold.yaml"


@dataclass(frozen=True)
class Imported:
    objects: dict[str, int]
    """kind -> objects in the bundle"""
    deleted: dict[str, int]
    """kind -> objects deleted because the YAML no longer has them"""


def import_tree(
    client: SupersetClient, warehouse: bundle.Warehouse, manifest: Path, root: Path = bundle.ASSETS
) -> Imported:
    """Import the bundle at `root` with the warehouse connection filled in, then delete what the
    imports recorded in `manifest` brought and the bundle no longer has."""
    files = bundle.read(root)
    bundle.check(files)
    client.import_bundle(bundle.to_zip(bundle.render(files, warehouse)), {DATABASE_FILE: warehouse.password})
    current = bundle.uuids(files)
    previous: dict[str, list[str]] = json.loads(manifest.read_text()) if manifest.exists() else {}
    deleted = {}
    for kind in KINDS:
        gone = set(previous.get(kind, [])) - set(current[kind])
        deleted[kind] = _delete(client, kind, gone) if gone else 0
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(current, indent=1))
    return Imported({kind: len(values) for kind, values in current.items()}, deleted)


def _delete(client: SupersetClient, kind: str, gone: set[str]) -> int:
    ids = [row["id"] for row in client.objects(kind) if str(row["uuid"]) in gone]
    for pk in ids:
        client.delete(f"/api/v1/{kind}/{pk}")
    return len(ids)


def export_tree(client: SupersetClient, root: Path = bundle.ASSETS) -> list[str]:
    """Write every dashboard, chart, dataset and connection of Superset to `root`, normalised;
    the paths that changed."""
    files = bundle.from_export(client.export_bundle(), bundle.read(root))
    bundle.check(files)
    return bundle.write(files, root)
