#!/usr/bin/env bash
# Creates the cluster's PostgreSQL role and database (conversations and API keys) and migrates the schema.
# Safe to run again: what exists is left as it is, and the migration applies only what is missing.
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: deploy/postgres/setup.sh [options]

Creates the login role and the database of a Qwen cluster and migrates its schema with
`qwen db migrate`: the conversations module (tables conversations and turns) and the api_keys
module (table api_keys, managed with `qwen keys`). Cluster
membership is not here: it lives in Redis. Running it again changes nothing.

Administrator connection (a superuser, or a role with CREATEROLE and CREATEDB):
  --host HOST          server host (PGHOST, default localhost)
  --port PORT          server port (PGPORT, default 5432)
  --admin-user USER    administrator role (PGUSER, default postgres); its password comes
                       from PGPASSWORD or ~/.pgpass
  --local              connect as the operating-system user postgres over the local socket
                       (run as root on the database host; no administrator password needed)

What to create:
  --database NAME      database (QWEN_DB_NAME, default qwen)
  --role NAME          login role the silos use (QWEN_DB_ROLE, default qwen)
                       its password: QWEN_DB_PASSWORD, or --password-file FILE (first line);
                       needed when the role is created or --update-password is given
  --password-file FILE read the role's password from FILE
  --update-password    set the password of a role that already exists

Migration:
  --qwen COMMAND       the qwen tool (QWEN_CLI, default /opt/qwen/cli/qwen, else qwen on PATH;
                       may be a command with arguments, e.g. "dotnet /opt/qwen/cli/qwen.dll")
  --skip-migrate       create role and database only (the first silo migrates at start)

Exit codes: 0 done, 1 PostgreSQL refused or failed, 2 bad arguments.
EOF
}

fail_usage() { echo "setup.sh: $*" >&2; echo "Try 'setup.sh --help'." >&2; exit 2; }
fail() { echo "setup.sh: error: $*" >&2; exit 1; }

host="${PGHOST:-localhost}"
port="${PGPORT:-5432}"
admin_user="${PGUSER:-postgres}"
local_socket=false
database="${QWEN_DB_NAME:-qwen}"
role="${QWEN_DB_ROLE:-qwen}"
password="${QWEN_DB_PASSWORD:-}"
update_password=false
qwen_cli="${QWEN_CLI:-}"
migrate=true

need_value() { if [ $# -lt 2 ] || [ -z "$2" ]; then fail_usage "$1 needs a value"; fi; }
while [ $# -gt 0 ]; do
  case "$1" in
    --host) need_value "$@"; host="$2"; shift 2 ;;
    --port) need_value "$@"; port="$2"; shift 2 ;;
    --admin-user) need_value "$@"; admin_user="$2"; shift 2 ;;
    --local) local_socket=true; shift ;;
    --database) need_value "$@"; database="$2"; shift 2 ;;
    --role) need_value "$@"; role="$2"; shift 2 ;;
    --password-file)
      need_value "$@"
      [ -r "$2" ] || fail_usage "cannot read the password file '$2'"
      IFS= read -r password < "$2" || true
      shift 2 ;;
    --update-password) update_password=true; shift ;;
    --qwen) need_value "$@"; qwen_cli="$2"; shift 2 ;;
    --skip-migrate) migrate=false; shift ;;
    -h|--help) usage; exit 0 ;;
    *) fail_usage "unknown argument '$1'" ;;
  esac
done

[[ "$port" =~ ^[0-9]+$ ]] || fail_usage "--port must be a number, not '$port'"
# Names are quoted as identifiers in SQL; keeping them plain keeps connection strings and docs simple.
name_rule='^[a-z_][a-z0-9_]{0,62}$'
[[ "$database" =~ $name_rule ]] || fail_usage "database name '$database' must be lower-case letters, digits and _"
[[ "$role" =~ $name_rule ]] || fail_usage "role name '$role' must be lower-case letters, digits and _"
command -v psql >/dev/null 2>&1 || fail "psql is not installed (apt-get install postgresql-client)"

if [ "$migrate" = true ]; then
  if [ -z "$qwen_cli" ]; then
    if [ -x /opt/qwen/cli/qwen ]; then qwen_cli=/opt/qwen/cli/qwen
    elif command -v qwen >/dev/null 2>&1; then qwen_cli=qwen
    else fail_usage "the qwen tool is not at /opt/qwen/cli/qwen nor on PATH: give --qwen COMMAND (or --skip-migrate)"
    fi
  fi
  read -r -a qwen_command <<< "$qwen_cli"
fi

# The role's password reaches psql through its environment (\getenv), never its command line.
export QWEN_DB_PASSWORD="$password"

admin_psql() {
  if [ "$local_socket" = true ]; then
    runuser -u postgres -- psql -X -q -At -v ON_ERROR_STOP=1 -d postgres "$@"
  else
    psql -X -q -At -v ON_ERROR_STOP=1 -h "$host" -p "$port" -U "$admin_user" -d postgres "$@"
  fi
}

target="$host:$port"
[ "$local_socket" = true ] && target="the local server"
echo "PostgreSQL: $target; role '$role', database '$database'"

role_exists=$(admin_psql -v role="$role" <<'SQL'
SELECT count(*) FROM pg_roles WHERE rolname = :'role';
SQL
) || fail "cannot connect to PostgreSQL at $target as '$admin_user' (see the message above)"

if [ "$role_exists" = 0 ]; then
  [ -n "$password" ] || fail_usage "role '$role' does not exist yet: give its password in QWEN_DB_PASSWORD or --password-file"
  admin_psql -v role="$role" <<'SQL' || fail "could not create role '$role'"
\getenv role_password QWEN_DB_PASSWORD
CREATE ROLE :"role" LOGIN PASSWORD :'role_password';
SQL
  echo "created role '$role'"
elif [ "$update_password" = true ]; then
  [ -n "$password" ] || fail_usage "--update-password needs the password in QWEN_DB_PASSWORD or --password-file"
  admin_psql -v role="$role" <<'SQL' || fail "could not set the password of role '$role'"
\getenv role_password QWEN_DB_PASSWORD
ALTER ROLE :"role" WITH LOGIN PASSWORD :'role_password';
SQL
  echo "role '$role' exists; password updated"
else
  echo "role '$role' exists; left unchanged"
fi

owner=$(admin_psql -v database="$database" <<'SQL'
SELECT pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'database';
SQL
) || fail "could not look up database '$database'"

if [ -z "$owner" ]; then
  # CREATE DATABASE cannot run in a transaction block; psql sends it on its own.
  admin_psql -v database="$database" -v role="$role" <<'SQL' || fail "could not create database '$database'"
CREATE DATABASE :"database" OWNER :"role" ENCODING 'UTF8' TEMPLATE template0;
SQL
  echo "created database '$database' owned by '$role'"
elif [ "$owner" != "$role" ]; then
  admin_psql -v database="$database" -v role="$role" <<'SQL' || fail "could not give database '$database' to '$role'"
ALTER DATABASE :"database" OWNER TO :"role";
SQL
  echo "database '$database' exists; owner changed from '$owner' to '$role'"
else
  echo "database '$database' exists; left unchanged"
fi

# Only the cluster's role connects (the owner keeps its rights; REVOKE of nothing changes nothing).
admin_psql -v database="$database" <<'SQL' || fail "could not restrict access to database '$database'"
REVOKE ALL ON DATABASE :"database" FROM PUBLIC;
SQL

connection="Host=$host;Port=$port;Database=$database;Username=$role"
[ "$local_socket" = true ] && connection="Host=localhost;Port=$port;Database=$database;Username=$role"

if [ "$migrate" = true ]; then
  # Migrate as the cluster's role so it owns its tables and later versions can alter them.
  # Npgsql reads the password from PGPASSWORD, so it stays off the command line.
  # Without a password given, the administrator's PGPASSWORD must not be tried for the role.
  if [ -n "$password" ]; then
    PGPASSWORD="$password" "${qwen_command[@]}" db migrate --connection "$connection" \
      || fail "the schema migration failed (see the message above)"
  else
    env -u PGPASSWORD "${qwen_command[@]}" db migrate --connection "$connection" \
      || fail "the schema migration failed (see the message above)"
  fi
fi

echo "done. Give the silos (in /etc/qwen/silo.env; the Api needs no database):"
echo "  Postgres__ConnectionString=$connection;Password=<the role's password>"
