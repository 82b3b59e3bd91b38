#!/bin/sh
# Creates Temporal's two databases on the compose PostgreSQL and migrates them to the server's schema version.
# Runs in temporalio/admin-tools before the server starts, on every `up`: `setup-schema -v 0.0` leaves an
# already-versioned database alone and `update-schema` applies only what is newer, so a re-run changes nothing.
set -eu

sql_tool() {
  temporal-sql-tool --plugin postgres12 --endpoint "$POSTGRES_SEEDS" --port "${DB_PORT:-5432}" \
    --user "$POSTGRES_USER" --password "$SQL_PASSWORD" "$@"
}

until nc -z -w 5 "$POSTGRES_SEEDS" "${DB_PORT:-5432}"; do
  echo "waiting for PostgreSQL at $POSTGRES_SEEDS"
  sleep 1
done

for pair in temporal:temporal temporal_visibility:visibility; do
  database=${pair%%:*}
  schema=${pair##*:}
  sql_tool --db "$database" create 2>/dev/null || echo "database $database already exists"
  sql_tool --db "$database" setup-schema -v 0.0
  sql_tool --db "$database" update-schema -d "/etc/temporal/schema/postgresql/v12/$schema/versioned"
done
echo "Temporal schema ready"
