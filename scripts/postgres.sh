#!/usr/bin/env bash
# Start a local PostgreSQL (Debian's cluster tools) and create the costplane test role and database.
# Prints the SQLAlchemy URL on stdout. Idempotent: safe to run when the server is already up.
set -euo pipefail
ver=$(ls /usr/lib/postgresql 2>/dev/null | sort -n | tail -n 1)
[ -n "$ver" ] || { echo "postgres.sh: PostgreSQL is not installed (apt-get install postgresql)" >&2; exit 1; }
if ! pg_lsclusters -h 2>/dev/null | awk '{print $1" "$2}' | grep -q "^$ver main$"; then
  pg_createcluster "$ver" main >/dev/null
fi
pg_ctlcluster "$ver" main start >/dev/null 2>&1 || true  # "already running" is fine
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 0.5
done
pg_isready -q -h 127.0.0.1 -p 5432 || { echo "postgres.sh: server did not start" >&2; exit 1; }
psql_as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -qAt $*"; }
if [ "$(psql_as_postgres "-c \"SELECT 1 FROM pg_roles WHERE rolname='costplane'\"")" != "1" ]; then
  psql_as_postgres "-c \"CREATE ROLE costplane LOGIN PASSWORD 'costplane' CREATEDB\""
fi
if [ "$(psql_as_postgres "-c \"SELECT 1 FROM pg_database WHERE datname='costplane_test'\"")" != "1" ]; then
  psql_as_postgres "-c \"CREATE DATABASE costplane_test OWNER costplane\""
fi
echo "postgresql+psycopg://costplane:costplane@127.0.0.1:5432/costplane_test"
