#!/usr/bin/env bash
# Applies the central schema's migrations (db/migrations/NNNN_*.sql) in order, each once.
#   scripts/db-migrate.sh [DATABASE_URL]     (or set VOICED_DATABASE_URL)
# Run it as the database's owner (it creates the voiced schema, the voiced_device role and
# functions). Each migration runs in one transaction together with its row in
# public.schema_migrations, so a failed migration leaves nothing behind and a rerun goes on
# where the last one stopped. Needs psql (Debian: postgresql-client).
set -euo pipefail
url="${1:-${VOICED_DATABASE_URL:-}}"
if [ -z "$url" ]; then
  echo "usage: $0 DATABASE_URL   (or set VOICED_DATABASE_URL)" >&2
  exit 2
fi
dir="$(cd "$(dirname "$0")/.." && pwd)/db/migrations"

run_psql() { psql "$url" -X -q -v ON_ERROR_STOP=1 "$@"; }

run_psql -c "CREATE TABLE IF NOT EXISTS public.schema_migrations (
  version text PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())" 2>&1 | grep -v "already exists, skipping" || true

applied=0
for file in "$dir"/[0-9][0-9][0-9][0-9]_*.sql; do
  version="$(basename "$file" .sql)"
  done_already="$(run_psql -tA -c "SELECT 1 FROM public.schema_migrations WHERE version = '$version'")"
  [ "$done_already" = "1" ] && continue
  echo "db-migrate: applying $version"
  run_psql --single-transaction -f "$file" -c "INSERT INTO public.schema_migrations (version) VALUES ('$version')"
  applied=$((applied + 1))
done
echo "db-migrate: $applied migration(s) applied; schema at $(run_psql -tA -c "SELECT max(version) FROM public.schema_migrations")"
