"""fraudlake's Superset dashboards kept as code in `superset/` (Superset's native export format):
the bundle (read, render, zip, normalise an export) and the import that also deletes what the
YAML no longer has."""
