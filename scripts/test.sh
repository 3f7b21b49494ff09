#!/usr/bin/env bash
# The whole test suite on a fresh machine: system services, the virtual environment, then pytest.
# Used as-is by CI (.ci/run). Needs root (or sudo-less apt) only for the system packages.
set -euo pipefail
cd "$(dirname "$0")/.."

# 1. System packages the tests run for real: PostgreSQL, Prometheus, Chromium (Debian's packages).
need=()
command -v pg_ctlcluster >/dev/null 2>&1 || need+=(postgresql)
command -v prometheus >/dev/null 2>&1 || need+=(prometheus)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "test.sh: missing system packages ${need[*]} (install them as root); their tests will skip outside CI" >&2
  fi
fi

# 2. PostgreSQL for the store tests (COSTPLANE_TEST_POSTGRES_URL may point at another server).
if [ -z "${COSTPLANE_TEST_POSTGRES_URL:-}" ] && [ "$(id -u)" = 0 ] && command -v pg_ctlcluster >/dev/null 2>&1; then
  COSTPLANE_TEST_POSTGRES_URL=$(bash scripts/postgres.sh) && export COSTPLANE_TEST_POSTGRES_URL
fi

# 3. The package and its test dependencies in .venv.
[ -x .venv/bin/python ] || python3 -m venv .venv
.venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'

# 3b. SkyPilot for the hand-off test, in its own venv: it pins click<8.2 and uvicorn<0.36, older than ours.
[ -x .venv-sky/bin/python ] || { python3 -m venv .venv-sky && .venv-sky/bin/python -m pip install -q \
  --disable-pip-version-check 'skypilot==0.14.1'; } || { rm -rf .venv-sky; echo "test.sh: SkyPilot install failed; its test skips outside CI" >&2; }

# 4. The suite. pytest exits non-zero on any failure and (exit 5) when no test ran.
exec .venv/bin/python -m pytest "$@"
