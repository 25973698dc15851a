#!/usr/bin/env bash
# Backs up and restores the cluster's conversations (tables conversations and turns).
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/postgres/conversations.sh backup FILE [--dbname CONNINFO]
       deploy/postgres/conversations.sh restore FILE [--dbname CONNINFO] [--replace]

backup   writes every conversation and turn to FILE (pg_dump custom format), from one
         consistent snapshot: a turn is in the backup together with its conversation's version.
         The silos keep serving meanwhile.
restore  loads FILE into a database whose schema is in place (deploy/postgres/setup.sh), in
         one transaction. It refuses a database that already holds conversations unless
         --replace is given, which deletes them first. Stop the silos before --replace: a
         silo's cached conversation would not match the restored one.

Cluster membership is not in the database (it lives in Redis) and needs no backup: silos
register again when they start.
Connection: --dbname "host=db port=5432 dbname=qwen user=qwen" or the libpq variables
(PGHOST, PGPORT, PGDATABASE, PGUSER, PGPASSWORD or ~/.pgpass).

Exit codes: 0 done, 1 PostgreSQL refused or failed, 2 bad arguments.
EOF
}

fail_usage() { echo "conversations.sh: $*" >&2; echo "Try 'conversations.sh --help'." >&2; exit 2; }
fail() { echo "conversations.sh: error: $*" >&2; exit 1; }

[ $# -ge 1 ] || fail_usage "give backup or restore"
case "$1" in
  -h|--help) usage; exit 0 ;;
  backup|restore) action="$1"; shift ;;
  *) fail_usage "unknown action '$1' (backup or restore)" ;;
esac
if [ $# -lt 1 ] || [[ "$1" == -* ]]; then fail_usage "$action needs a FILE"; fi
file="$1"; shift
dbname=()
replace=false
while [ $# -gt 0 ]; do
  case "$1" in
    --dbname) if [ $# -lt 2 ] || [ -z "$2" ]; then fail_usage "--dbname needs a value"; fi; dbname=(--dbname "$2"); shift 2 ;;
    --replace) [ "$action" = restore ] || fail_usage "--replace applies to restore only"; replace=true; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail_usage "unknown argument '$1'" ;;
  esac
done

tables=(--table=conversations --table=turns)

if [ "$action" = backup ]; then
  command -v pg_dump >/dev/null 2>&1 || fail "pg_dump is not installed (apt-get install postgresql-client)"
  pg_dump "${dbname[@]}" --format=custom --no-owner --no-privileges "${tables[@]}" --file="$file.partial" \
    || { rm -f "$file.partial"; fail "pg_dump failed (see the message above)"; }
  mv "$file.partial" "$file"
  echo "backed up conversations and turns to $file"
  exit 0
fi

[ -r "$file" ] || fail_usage "cannot read '$file'"
command -v pg_restore >/dev/null 2>&1 || fail "pg_restore is not installed (apt-get install postgresql-client)"
psql_run() { psql "${dbname[@]}" -X -q -At -v ON_ERROR_STOP=1 "$@"; }

existing=$(psql_run -c "SELECT count(*) FROM conversations") \
  || fail "cannot read the conversations table: is the schema in place (deploy/postgres/setup.sh)?"
if [ "$existing" != 0 ] && [ "$replace" = false ]; then
  fail "the database already holds $existing conversations; restore with --replace to delete them first"
fi

# The backup is read whole before anything changes; then one transaction deletes the old
# conversations and loads the backup's, or nothing changes.
sql=$(mktemp)
trap 'rm -f "$sql"' EXIT
pg_restore --data-only --no-owner --no-privileges "${tables[@]}" --file="$sql" "$file" \
  || fail "cannot read the backup '$file' (see the message above)"
psql_run --single-transaction -c "TRUNCATE turns, conversations" -f "$sql" \
  || fail "the restore failed and was rolled back (see the message above)"
restored=$(psql_run -c "SELECT count(*) FROM conversations")
echo "restored $restored conversations from $file"
