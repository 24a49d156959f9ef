#!/usr/bin/env bash
# Run a command with TEST_DATABASE_URL set to a throwaway database on the local
# PostgreSQL server (127.0.0.1:5432, user postgres); the database is dropped after.
set -euo pipefail
PGHOST=${PGHOST:-127.0.0.1}
PGUSER=${PGUSER:-postgres}
export PGHOST PGUSER
if ! pg_isready -q -h "$PGHOST" 2>/dev/null; then
  echo "PostgreSQL is not reachable at $PGHOST: skipping the PostgreSQL run" >&2
  exit 0
fi
db="moralbank_test_$$_$RANDOM"
createdb "$db"
trap 'dropdb --if-exists "$db"' EXIT
TEST_DATABASE_URL="postgresql://$PGUSER@$PGHOST/$db" "$@"
