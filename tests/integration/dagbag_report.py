"""Run by the Airflow venv's python: what DagBag makes of dags/, as JSON on stdout."""

from __future__ import annotations

import json
import sys

from airflow.dag_processing.dagbag import DagBag

HEAVY = ("pyarrow", "psycopg", "minio", "fraudlake_lake", "fraudlake.platform")

bag = DagBag(dag_folder=sys.argv[1])
report = {
    "import_errors": {path: str(error) for path, error in bag.import_errors.items()},
    "heavy_modules_loaded": sorted(
        m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY)
    ),
    "dags": {
        dag_id: {
            "tags": sorted(dag.tags),
            "schedule": str(dag.schedule),
            "catchup": dag.catchup,
            "max_active_runs": dag.max_active_runs,
            "doc_md": dag.doc_md or "",
            "tasks": {
                t.task_id: {"retries": t.retries, "downstream": sorted(t.downstream_task_ids)}
                for t in dag.tasks
            },
            "outlets": {t.task_id: [str(getattr(o, "uri", o)) for o in t.outlets] for t in dag.tasks},
        }
        for dag_id, dag in bag.dags.items()
    },
}
print(json.dumps(report))
