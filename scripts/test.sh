#!/usr/bin/env bash
# The project's test command (`./fraudlake test`, also what .ci/run calls): lint, type-check, then
# unit and integration tests against the local platform, which it starts first (`fraudlake up`, a
# no-op when it already runs) and leaves running for the next run; `./fraudlake down` stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/.venv/bin"
cd "$ROOT"

step() { printf '\n== %s\n' "$*"; }

# Test tools from Debian: docker-compose validates docker-compose.yml without a Docker engine;
# chromium is the real browser the dashboard tests drive (Playwright, no browser download).
need() {
  local command="$1" package="$2"
  command -v "$command" >/dev/null && return
  step "installing test tool: $package (Debian)"
  if [[ $(id -u) -ne 0 ]]; then
    echo "$package is missing: sudo apt-get install -y $package" >&2
    exit 1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package" >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$package" >/dev/null; }
}
need docker-compose docker-compose
need chromium chromium

step "ruff"
"$BIN/ruff" check .
"$BIN/ruff" format --check .
step "mypy"
"$BIN/mypy"
step "platform and scoring job (fraudlake up --no-demo)"
"$BIN/fraudlake" up --no-demo
step "pytest"
"$BIN/pytest" "$@"
