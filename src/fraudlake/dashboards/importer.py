"""Import `superset/` into the platform's Superset, and export what analysts changed back to it.

Superset's assets import creates or overwrites every object of the bundle (charts, datasets and
the connection too, not only dashboards) but never deletes. So each import records the UUIDs it
imported (`<state>/data/superset/imported-assets.json`), and the next one deletes the objects that
were imported before and are no longer in the YAML: a chart removed from `superset/` disappears,
while a chart an analyst made in the UI (never imported) is left alone until it is exported.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from fraudlake.dashboards import bundle
from fraudlake.dashboards.client import KINDS, SupersetClient
from fraudlake.platform.context import Context
from fraudlake.platform.postgres import DASHBOARDS_ROLE, Postgres

DATABASE_FILE = "databases/fraudlake_gold.yaml"


@dataclass(frozen=True)
class Imported:
    objects: dict[str, int]
    """kind -> objects in the bundle"""
    deleted: dict[str, int]
    """kind -> objects deleted because the YAML no longer has them"""


def manifest_file(ctx: Context) -> Path:
    return ctx.data("superset") / "imported-assets.json"


def import_assets(
    ctx: Context, client: SupersetClient, root: Path = bundle.ASSETS, manifest: Path | None = None
) -> Imported:
    """Import the bundle at `root`, then delete what the imports recorded in `manifest` (default:
    the platform's) brought and the bundle no longer has."""
    files = bundle.read(root)
    bundle.check(files)
    reader = Postgres(ctx).endpoint(DASHBOARDS_ROLE)
    rendered = bundle.render(
        files, user=reader.user, host=reader.host, port=reader.port, database=reader.database
    )
    client.import_bundle(bundle.to_zip(rendered), {DATABASE_FILE: reader.password})
    current = bundle.uuids(files)
    manifest = manifest or manifest_file(ctx)
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


def export_assets(client: SupersetClient, root: Path = bundle.ASSETS) -> list[str]:
    """Write every dashboard, chart, dataset and connection of Superset to `root`, normalised;
    the paths that changed."""
    files = bundle.from_export(client.export_bundle(), bundle.read(root))
    bundle.check(files)
    return bundle.write(files, root)
