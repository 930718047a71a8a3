#!/usr/bin/env bash
# The project's test command (`./fraudlake test`, also what .ci/run calls): lint, type-check, then
# unit and integration tests against the local platform, which it starts first (`fraudlake up`, a
# no-op when it already runs) and leaves running for the next run; `./fraudlake down` stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
cd "$ROOT"

step() { printf '\n== %s\n' "$*"; }

# Debian's docker-compose validates docker-compose.yml without a Docker engine.
if ! command -v docker-compose >/dev/null; then
  step "installing test tool: docker-compose (Debian)"
  if [[ $(id -u) -eq 0 ]]; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >/dev/null \
      || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends docker-compose >/dev/null; }
  else
    echo "docker-compose is missing: sudo apt-get install -y docker-compose" >&2
    exit 1
  fi
fi

step "ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
step "mypy"
"$BIN/mypy"
step "platform and scoring job (fraudlake up --no-demo)"
"$BIN/fraudlake" up --no-demo
step "pytest"
"$BIN/pytest" "$@"
