"""Superset's configuration for the local platform (SUPERSET_CONFIG_PATH points here).

Secrets and addresses arrive as environment variables set by `fraudlake up`; nothing secret is
written into this file or next to it.
"""

import os

SECRET_KEY = os.environ["FRAUDLAKE_SUPERSET_SECRET_KEY"]
SQLALCHEMY_DATABASE_URI = os.environ["FRAUDLAKE_SUPERSET_METADATA_URI"]

# Gold changes with every lakehouse refresh (minutes): query it live, cache nothing.
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}

# No telemetry pixel, no example data, no background workers (no Celery on the local platform).
SCARF_ANALYTICS = False
SUPERSET_LOAD_EXAMPLES = False
FEATURE_FLAGS = {"ALERT_REPORTS": False, "THUMBNAILS": False}

# The warehouse connection is open to SQL Lab: its role reads Gold only and can write nothing.
ROW_LIMIT = 50000
SUPERSET_WEBSERVER_TIMEOUT = 120
