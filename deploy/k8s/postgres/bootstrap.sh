#!/usr/bin/env bash
# Creates the roles and databases of one cell's PostgreSQL (or the gateway's) on an external
# managed server, as deploy/local/run.sh does on one machine. Run once per server with psql and
# the server's administrator; safe to run again (it only resets the passwords).
#
#   export TAHE_PG_OWNER_PASSWORD=... TAHE_PG_LEDGER_PASSWORD=... TAHE_PG_PAYROLL_PASSWORD=... \
#          TAHE_PG_INVOICING_PASSWORD=... TAHE_PG_REPORTING_PASSWORD=...
#   deploy/k8s/postgres/bootstrap.sh \
#       "host=pg-paijat-hame.example.fi dbname=postgres user=admin sslmode=verify-full" \
#       ledger payroll invoicing reporting
#   TAHE_PG_OWNER_PASSWORD=... TAHE_PG_GATEWAY_PASSWORD=... \
#       deploy/k8s/postgres/bootstrap.sh "host=pg-gateway.example.fi ..." gateway
#
# The passwords come from the environment and reach psql on stdin, never on a command line; they
# must equal the namespace's Secrets (postgres-owner, <service>-db; deploy/k8s/README.md) and
# contain no quote or backslash (openssl rand -hex 32 makes good ones). TAHE_PG_DATABASE_PREFIX
# (default tahe_) is the overlay's PG_DATABASE_PREFIX: databases are <prefix><service>.
#
# Roles: tahe_owner (LOGIN) owns the databases and runs the migrations (--db_migrate_url);
# tahe_<service>_app (NOLOGIN) is the group role the migrations grant table rights to;
# tahe_<service> (LOGIN, member of tahe_<service>_app, owns nothing) is what the service connects
# as (--db_url), so row-level security applies to it.
set -euo pipefail

if (($# < 2)); then
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}" >&2
  exit 2
fi
conninfo=$1
shift
prefix=${TAHE_PG_DATABASE_PREFIX:-tahe_}
[[ "${prefix}" =~ ^[a-z_][a-z0-9_]*$ ]] || {
  echo "bootstrap.sh: TAHE_PG_DATABASE_PREFIX must be lower-case letters, digits, _" >&2
  exit 2
}

password() {
  local var=$1 value
  value=${!var:-}
  if [[ -z "${value}" || "${value}" == *[\'\\]* ]]; then
    echo "bootstrap.sh: set ${var} (not empty, no quote or backslash)" >&2
    exit 2
  fi
  echo "${value}"
}

owner_password=$(password TAHE_PG_OWNER_PASSWORD)
declare -A login_password
for service in "$@"; do
  [[ "${service}" =~ ^(ledger|payroll|invoicing|reporting|gateway)$ ]] || {
    echo "bootstrap.sh: unknown service ${service}" >&2
    exit 2
  }
  login_password[${service}]=$(password "TAHE_PG_${service^^}_PASSWORD")
done
{
  echo "SET client_min_messages = warning;"
  echo "\\set owner_password '${owner_password}'"
  cat <<'SQL'
SELECT 'CREATE ROLE tahe_owner'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_owner') \gexec
ALTER ROLE tahe_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
-- On a managed server the administrator is no superuser: CREATE DATABASE ... OWNER needs it to
-- be a member of the owner.
SELECT 'GRANT tahe_owner TO ' || quote_ident(current_user)
WHERE NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \gexec
SQL
  for service in "$@"; do
    echo "\\set app_role 'tahe_${service}_app'"
    echo "\\set login_role 'tahe_${service}'"
    echo "\\set login_password '${login_password[${service}]}'"
    echo "\\set db '${prefix}${service}'"
    cat <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('CREATE ROLE %I', :'login_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'login_role') \gexec
ALTER ROLE :"login_role" WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD :'login_password';
GRANT :"app_role" TO :"login_role";
SELECT format('CREATE DATABASE %I OWNER tahe_owner', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO tahe_owner;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app_role";
SQL
  done
} | psql "${conninfo}" -v ON_ERROR_STOP=1 -X -q
echo "bootstrap.sh: roles and databases of ${*} ready (prefix ${prefix})" >&2
