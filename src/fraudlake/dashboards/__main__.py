"""`python -m fraudlake.dashboards`: import superset/ into a Superset reached by URL, where
`fraudlake up` does not run Superset itself (the docker-compose image runs this after start).

Everything comes from the environment (the compose file sets it): SUPERSET_URL,
SUPERSET_ADMIN_PASSWORD, DASHBOARDS_PG_HOST/PORT/DATABASE/PASSWORD (role fraudlake_dashboards),
and DASHBOARDS_MANIFEST, the file that remembers what was imported so the next import can delete
what the YAML dropped.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from fraudlake.dashboards import bundle, importer
from fraudlake.dashboards.client import SupersetClient


def main() -> int:
    missing = [
        name
        for name in (
            "SUPERSET_URL",
            "SUPERSET_ADMIN_PASSWORD",
            "DASHBOARDS_PG_HOST",
            "DASHBOARDS_PG_PASSWORD",
        )
        if not os.environ.get(name)
    ]
    if missing:
        print(f"error: set {', '.join(missing)}", file=sys.stderr)
        return 2
    env = os.environ
    warehouse = bundle.Warehouse(
        "fraudlake_dashboards",
        env["DASHBOARDS_PG_PASSWORD"],
        env["DASHBOARDS_PG_HOST"],
        int(env.get("DASHBOARDS_PG_PORT", "5432")),
        env.get("DASHBOARDS_PG_DATABASE", "fraudlake"),
    )
    client = SupersetClient(env["SUPERSET_URL"], "admin", env["SUPERSET_ADMIN_PASSWORD"])
    manifest = Path(env.get("DASHBOARDS_MANIFEST", "imported-assets.json"))
    done = importer.import_tree(client, warehouse, manifest)
    print(f"imported {done.objects}; deleted {done.deleted}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
