# shellcheck shell=bash
# shellcheck disable=SC2034  # the OPS_* variables are used by the scripts that source this file
# Shared by deploy/ops/backup.sh and deploy/ops/restore.sh (source it; it defines functions and
# variables prefixed ops_ / OPS_ only).
#
# Connection settings are libpq's own, so the scripts work unchanged against the local suite, a
# PostgreSQL of your own and a managed one:
#   PGHOST, PGPORT, PGUSER, PGPASSWORD or PGPASSFILE, PGSSLMODE, PGSSLROOTCERT, ...
#   PGSERVICE (+ PGSERVICEFILE): a named entry of a pg_service.conf file
# or the options --host, --port, --user, --service NAME, --service-file PATH, which set them, or
# --local-suite DIR: the cluster of a local suite (deploy/local/run.sh; DIR is its state directory,
# .tahe by default) as its superuser tahe_admin over the unix socket in DIR/pg.
#
# PostgreSQL programs: TAHE_PG_BINDIR if set, else the newest /usr/lib/postgresql/*/bin, else
# the PATH. pg_dump and pg_restore must be at least the server's major version.

OPS_SENTINEL="__tahe_ops_end__"

ops_say() { echo "$(basename "$0"): $*" >&2 || true; }
ops_die() {
  ops_say "$*"
  exit 1
}

# ops_conn_option ARG [VALUE]: handles one connection option; sets OPS_USED to how many arguments
# it used (0: not a connection option).
ops_conn_option() {
  OPS_USED=0
  case "$1" in
    --host | --port | --user | --service | --service-file | --local-suite)
      [[ $# -ge 2 && -n "$2" ]] || ops_die "$1 needs a value"
      case "$1" in
        --host) export PGHOST=$2 ;;
        --port) export PGPORT=$2 ;;
        --user) export PGUSER=$2 ;;
        --service) export PGSERVICE=$2 ;;
        --service-file) export PGSERVICEFILE=$2 ;;
        --local-suite) OPS_LOCAL_SUITE=$2 ;;
      esac
      OPS_USED=2
      ;;
  esac
}

# ops_setup: picks the PostgreSQL programs and, with --local-suite, points libpq at that cluster.
ops_setup() {
  if [[ -n "${TAHE_PG_BINDIR:-}" ]]; then
    OPS_BINDIR=${TAHE_PG_BINDIR}
  else
    OPS_BINDIR=$(find /usr/lib/postgresql -mindepth 2 -maxdepth 2 -name bin -type d 2>/dev/null |
      sort -V | tail -n 1)
    if [[ -z "${OPS_BINDIR}" ]]; then
      OPS_BINDIR=$(dirname "$(command -v pg_dump || echo /nonexistent/pg_dump)")
    fi
  fi
  local tool
  for tool in psql pg_dump pg_dumpall pg_restore; do
    [[ -x "${OPS_BINDIR}/${tool}" ]] ||
      ops_die "${tool} not found in ${OPS_BINDIR} (install postgresql-client or set TAHE_PG_BINDIR)"
  done
  if [[ -n "${OPS_LOCAL_SUITE:-}" ]]; then
    local dir port
    dir=$(realpath -m "${OPS_LOCAL_SUITE}")
    port=$(sed -n 's/^port = \([0-9]*\)$/\1/p' "${dir}/pg/data/tahe.conf" 2>/dev/null || true)
    [[ -n "${port}" ]] || ops_die "no local suite cluster in ${dir}/pg (deploy/local/run.sh makes it)"
    export PGHOST="${dir}/pg" PGPORT="${port}" PGUSER=tahe_admin
    unset PGSERVICE PGPASSWORD
  fi
  # Never prompt for a password: a scheduled job must fail, not hang.
  export PGCONNECT_TIMEOUT=${PGCONNECT_TIMEOUT:-10}
}

# ops_psql DB [PSQL ARGS...]: psql on database DB, quiet, unaligned, stopping at the first error.
ops_psql() {
  local db=$1
  shift
  "${OPS_BINDIR}/psql" -w -X -q -A -t -v ON_ERROR_STOP=1 -d "dbname=${db}" "$@"
}

# ops_where: where we are connected, for messages (never a password).
ops_where() {
  echo "${PGSERVICE:+service ${PGSERVICE} }${PGHOST:-default host}${PGPORT:+:${PGPORT}} as ${PGUSER:-${USER:-?}}"
}

# --- A session that keeps one transaction open (backup.sh: one snapshot per database) ----------

# ops_session_open DB: psql on DB as a coprocess. ops_session_query SQL prints the rows of SQL
# (fails, with psql's message, when the statement fails); ops_session_close ends it.
ops_session_open() {
  coproc OPS_PSQL { "${OPS_BINDIR}/psql" -w -X -q -A -t -F $'\t' -v ON_ERROR_STOP=1 \
    -d "dbname=$1" 2>&1; }
}

ops_session_query() {
  local line session_rows=()
  printf '%s\n\\echo %s\n' "$1" "${OPS_SENTINEL}" 1>&"${OPS_PSQL[1]}"
  while IFS= read -r line <&"${OPS_PSQL[0]}"; do
    if [[ "${line}" == "${OPS_SENTINEL}" ]]; then
      ((${#session_rows[@]} == 0)) || printf '%s\n' "${session_rows[@]}"
      return 0
    fi
    session_rows+=("${line}")
  done
  # psql ended (ON_ERROR_STOP): what it said, its error among it.
  ((${#session_rows[@]} == 0)) || printf '%s\n' "${session_rows[@]}" >&2
  return 1
}

ops_session_close() {
  local fd=${OPS_PSQL[1]}
  { printf 'COMMIT;\n\\q\n' 1>&"${fd}"; } 2>/dev/null || true
  exec {fd}>&-
  wait "${OPS_PSQL_PID}" 2>/dev/null || true
}

# --- What a backup records and a restore checks ------------------------------------------------

# Every object whose owner, privileges or row-level security the services rely on, one line each,
# sorted: schemas, tables, sequences and views (owner, ACL, RLS enabled/forced), policies (roles,
# command, expressions), functions (owner, SECURITY DEFINER, ACL), triggers, default privileges,
# and the database itself (owner, ACL). Role names, never OIDs, so two clusters compare.
# shellcheck disable=SC2016  # SQL, not shell
OPS_CATALOG_SQL='
SELECT line FROM (
  SELECT format($f$database owner=%s acl=%s$f$, pg_get_userbyid(datdba), datacl) AS line
    FROM pg_database WHERE datname = current_database()
  UNION ALL
  SELECT format($f$schema %I owner=%s acl=%s$f$, nspname, pg_get_userbyid(nspowner), nspacl)
    FROM pg_namespace
   WHERE nspname NOT IN ($f$pg_catalog$f$, $f$information_schema$f$)
     AND nspname NOT LIKE $f$pg\_toast%$f$ AND nspname NOT LIKE $f$pg\_temp\_%$f$
  UNION ALL
  SELECT format($f$relation %I.%I kind=%s owner=%s acl=%s rls=%s force_rls=%s$f$, n.nspname,
                c.relname, c.relkind, pg_get_userbyid(c.relowner), c.relacl, c.relrowsecurity,
                c.relforcerowsecurity)
    FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
   WHERE c.relkind IN ($f$r$f$, $f$p$f$, $f$v$f$, $f$m$f$, $f$S$f$, $f$f$f$)
     AND n.nspname NOT IN ($f$pg_catalog$f$, $f$information_schema$f$)
     AND n.nspname NOT LIKE $f$pg\_toast%$f$
  UNION ALL
  SELECT format($f$policy %I on %s cmd=%s permissive=%s roles=%s using=%s check=%s$f$,
                p.polname, p.polrelid::regclass, p.polcmd, p.polpermissive,
                (SELECT string_agg(CASE WHEN r = 0 THEN $f$public$f$ ELSE pg_get_userbyid(r) END,
                                   $f$,$f$ ORDER BY 1) FROM unnest(p.polroles) AS r),
                pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid))
    FROM pg_policy p
  UNION ALL
  SELECT format($f$function %I.%I(%s) owner=%s security_definer=%s acl=%s$f$, n.nspname,
                p.proname, pg_get_function_identity_arguments(p.oid), pg_get_userbyid(p.proowner),
                p.prosecdef, p.proacl)
    FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
   WHERE n.nspname NOT IN ($f$pg_catalog$f$, $f$information_schema$f$)
  UNION ALL
  SELECT format($f$trigger %I on %s enabled=%s$f$, t.tgname, t.tgrelid::regclass, t.tgenabled)
    FROM pg_trigger t WHERE NOT t.tgisinternal
  UNION ALL
  SELECT format($f$default_acl role=%s schema=%s type=%s acl=%s$f$, pg_get_userbyid(d.defaclrole),
                d.defaclnamespace::regnamespace, d.defaclobjtype, d.defaclacl)
    FROM pg_default_acl d
) AS catalog ORDER BY line COLLATE "C";'

# Rows per table, in one statement: "schema.table<TAB>count", sorted.
# shellcheck disable=SC2016
OPS_COUNTS_SQL='
SELECT format($f$%I.%I$f$, n.nspname, c.relname) AS name,
       (xpath($f$/row/c/text()$f$,
              query_to_xml(format($f$SELECT count(*) AS c FROM %I.%I$f$, n.nspname, c.relname),
                           false, true, $f$$f$)))[1]::text::bigint
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
 WHERE c.relkind IN ($f$r$f$, $f$p$f$)
   AND n.nspname NOT IN ($f$pg_catalog$f$, $f$information_schema$f$)
   AND n.nspname NOT LIKE $f$pg\_toast%$f$
 ORDER BY n.nspname COLLATE "C", c.relname COLLATE "C";'

# The schema migration the services applied last: "version<TAB>name", or nothing.
OPS_MIGRATION_SQL='SELECT version, name FROM tahe_schema_migrations ORDER BY version DESC LIMIT 1;'
OPS_HAS_MIGRATIONS_SQL="SELECT to_regclass('tahe_schema_migrations') IS NOT NULL;"
