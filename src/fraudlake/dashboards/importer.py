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
from fraudlake.platform.errors import PlatformError

DATABASE_FILE = "databases/fraudlake_gold.yaml"


@dataclass(frozen=True)
class Imported:
    objects: dict[str, int]
    """kind -> objects in the bundle"""
    deleted: dict[str, int]
    """kind -> objects deleted because the YAML no longer has them"""
    kept: list[str]
    """objects Superset refused to delete (e.g. a connection that still has datasets made in the
    UI), with why; they stay in the manifest, so the next import tries again"""


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
    deleted: dict[str, int] = {}
    kept: list[str] = []
    remember = {kind: list(values) for kind, values in current.items()}
    for kind in KINDS:
        gone = set(previous.get(kind, [])) - set(current[kind])
        deleted[kind] = 0
        for row in client.objects(kind) if gone else []:
            if str(row["uuid"]) not in gone:
                continue
            try:
                client.delete(f"/api/v1/{kind}/{row['id']}")
                deleted[kind] += 1
            except PlatformError as exc:
                kept.append(f"{kind} {row['uuid']}: {exc.cause}")
                remember[kind].append(str(row["uuid"]))
    manifest.parent.mkdir(parents=True, exist_ok=True)
    manifest.write_text(json.dumps(remember, indent=1))
    return Imported({kind: len(values) for kind, values in current.items()}, deleted, kept)


def export_tree(client: SupersetClient, root: Path = bundle.ASSETS) -> list[str]:
    """Write the connection to Gold and every dataset, chart and dashboard built on it to `root`,
    normalised; the paths that changed."""
    files = bundle.from_export(client.export_bundle(), bundle.read(root))
    bundle.check(files)
    return bundle.write(files, root)
