#!/usr/bin/env bash
# Backs up every Tahe database of a PostgreSQL cluster: one pg_dump archive (custom format, -Fc)
# per database, the cluster's roles and memberships (pg_dumpall --roles-only, without passwords),
# and a manifest. deploy/ops/restore.sh restores it into a fresh cluster or fresh databases.
#
#   deploy/ops/backup.sh --local-suite .tahe --root .tahe/backups --keep 3   # the local suite
#   PGHOST=db.paijat-hame.internal PGUSER=tahe_backup deploy/ops/backup.sh --root /backups --keep 14
#   PGSERVICE=tahe-pohjanmaa deploy/ops/backup.sh --root /backups/pohjanmaa
#
# Options:
#   --out DIR          write the backup into DIR (must not exist yet)
#   --root DIR         write it into DIR/tahe-<UTC timestamp> instead
#   --keep N           with --root: then delete all but the newest N complete backups under DIR
#   --database NAME    back up only NAME (repeatable); default: every database owned by --owner
#   --owner ROLE       the owner of the Tahe databases (default tahe_owner)
#   --no-counts        skip counting the rows of every table (the manifest then has none)
#   connection: --host, --port, --user, --service, --service-file, --local-suite DIR, or the
#   libpq environment (PGHOST, PGPORT, PGUSER, PGPASSFILE, PGSERVICE, PGSSLMODE, ...): see
#   deploy/ops/ops_lib.sh. Never prompts for a password.
#
# The role it connects as must read every row: a superuser, or a role with BYPASSRLS that may
# read every table (for example CREATE ROLE tahe_backup LOGIN BYPASSRLS IN ROLE pg_read_all_data).
# The tables have FORCE ROW LEVEL SECURITY, so their owner tahe_owner itself cannot dump them.
#
# What DIR holds (written to DIR.partial first, renamed to DIR when complete):
#   <db>.dump          pg_dump -Fc of the database, taken in one snapshot
#   <db>.database.sql  CREATE DATABASE with its encoding, locale and owner; its privileges and
#                      settings (pg_dump -Fc without --create leaves these out)
#   <db>.catalog.txt   owners, privileges, row-level security and policies of every object, from
#                      the same snapshot: restore.sh compares the restored database with it
#   <db>.counts.tsv    rows per table, from the same snapshot (unless --no-counts)
#   roles.sql          pg_dumpall --roles-only --no-role-passwords
#   manifest.tsv       one line per database: file, bytes, sha256, database size, schema
#                      migration (version and name), owner, tables, rows
#   SHA256SUMS         of every other file (sha256sum -c SHA256SUMS)
#
# Order: a cell's ledger database is dumped after the cell's other databases. Payroll and
# invoicing deliver postings to the ledger through their outboxes, and reporting follows the
# ledger's feed, so every posting payroll or invoicing holds as delivered, and every entry
# reporting has applied, is then also in the ledger's dump. A posting delivered after payroll's
# snapshot is simply delivered again after a restore (the ledger answers with the entry it already
# has: same request id), and reporting catches up from its checkpoint.
set -euo pipefail
umask 077  # the dumps hold personal data and the books of every organisation

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/ops/ops_lib.sh
source "${here}/ops_lib.sh"

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

out=""
root_dir=""
keep=""
owner=tahe_owner
counts=1
databases=()
while (($# > 0)); do
  ops_conn_option "$@"
  if ((OPS_USED > 0)); then
    shift "${OPS_USED}"
    continue
  fi
  case "$1" in
    --out | --root | --keep | --database | --owner)
      [[ $# -ge 2 && -n "$2" ]] || ops_die "$1 needs a value"
      case "$1" in
        --out) out=$2 ;;
        --root) root_dir=$2 ;;
        --keep) keep=$2 ;;
        --database) databases+=("$2") ;;
        --owner) owner=$2 ;;
      esac
      shift 2
      ;;
    --no-counts)
      counts=0
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      usage >&2
      ops_die "unknown argument $1"
      ;;
  esac
done
[[ -n "${out}" || -n "${root_dir}" ]] || ops_die "say where: --out DIR or --root DIR"
[[ -z "${out}" || -z "${root_dir}" ]] || ops_die "--out and --root exclude each other"
[[ -z "${keep}" || -n "${root_dir}" ]] || ops_die "--keep needs --root"
[[ -z "${keep}" || "${keep}" =~ ^[1-9][0-9]*$ ]] || ops_die "--keep: a positive number"
if [[ -n "${root_dir}" ]]; then
  mkdir -p "${root_dir}"
  out="${root_dir%/}/tahe-$(date -u +%Y%m%dT%H%M%SZ)"
fi
out=${out%/}
[[ ! -e "${out}" ]] || ops_die "${out} exists already"
ops_setup

# Who we are: the dump must see every row despite FORCE ROW LEVEL SECURITY.
who=$(ops_psql postgres -F $'\t' -c \
  "SELECT current_user, rolsuper OR rolbypassrls, current_setting('server_version')
     FROM pg_roles WHERE rolname = current_user") ||
  ops_die "cannot connect to $(ops_where)"
IFS=$'\t' read -r user may_read server_version <<<"${who}"
[[ "${may_read}" == t ]] ||
  ops_die "${user} is neither superuser nor BYPASSRLS: row-level security would hide rows" \
    "from the dump (see the header of this script)"

if ((${#databases[@]} == 0)); then
  mapfile -t databases < <(ops_psql postgres -v owner="${owner}" <<'SQL'
SELECT datname FROM pg_database
 WHERE NOT datistemplate AND datallowconn AND pg_get_userbyid(datdba) = :'owner'
 ORDER BY datname COLLATE "C";
SQL
  )
  ((${#databases[@]} > 0)) || ops_die "no database owned by ${owner} at $(ops_where)"
fi
# The ledgers last (see the header).
ordered=()
for db in "${databases[@]}"; do
  [[ "${db}" =~ ^[A-Za-z0-9_]+$ ]] || ops_die "unexpected database name: ${db}"
  [[ "${db}" == *_ledger ]] || ordered+=("${db}")
done
for db in "${databases[@]}"; do
  [[ "${db}" != *_ledger ]] || ordered+=("${db}")
done

partial="${out}.partial"
rm -rf "${partial}"
mkdir -p "${partial}"
cleanup() {
  local status=$?
  if ((status != 0)); then
    ops_say "backup failed; removing ${partial}"
    rm -rf "${partial}"
  fi
}
trap cleanup EXIT

ops_say "backing up ${#ordered[@]} databases from $(ops_where) (PostgreSQL ${server_version}) into ${out}"
started=${SECONDS}
"${OPS_BINDIR}/pg_dumpall" -w --roles-only --no-role-passwords -d "dbname=postgres" \
  -f "${partial}/roles.sql"

manifest_rows=()
for db in "${ordered[@]}"; do
  db_started=${SECONDS}
  # One snapshot for the migration version, the catalog, the counts and the dump itself.
  ops_session_open "${db}"
  ops_session_query "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY;" >/dev/null ||
    ops_die "${db}: cannot begin a transaction"
  snapshot=$(ops_session_query "SELECT pg_export_snapshot();") || ops_die "${db}: no snapshot"
  migration=""
  if [[ $(ops_session_query "${OPS_HAS_MIGRATIONS_SQL}") == t ]]; then
    migration=$(ops_session_query "${OPS_MIGRATION_SQL}") || ops_die "${db}: migrations unreadable"
  fi
  IFS=$'\t' read -r migration_version migration_name <<<"${migration:-$'none\tnone'}"
  ops_session_query "${OPS_CATALOG_SQL}" >"${partial}/${db}.catalog.txt" ||
    ops_die "${db}: cannot read the catalog"
  rows="-"
  if ((counts)); then
    ops_session_query "${OPS_COUNTS_SQL}" >"${partial}/${db}.counts.tsv" ||
      ops_die "${db}: cannot count rows"
    rows=$(awk -F '\t' '{s += $2} END {print s + 0}' "${partial}/${db}.counts.tsv")
  fi
  "${OPS_BINDIR}/pg_dump" -w -Fc --snapshot="${snapshot}" -d "dbname=${db}" \
    -f "${partial}/${db}.dump" || ops_die "${db}: pg_dump failed"
  ops_session_close

  # CREATE DATABASE as it was, then its privileges and settings.
  ops_psql postgres -v db="${db}" >"${partial}/${db}.database.sql" <<'SQL'
SELECT format('CREATE DATABASE %I WITH OWNER = %I TEMPLATE = template0 ENCODING = %L'
              ' LC_COLLATE = %L LC_CTYPE = %L%s;', d.datname, pg_get_userbyid(d.datdba),
              pg_encoding_to_char(d.encoding), d.datcollate, d.datctype,
              CASE WHEN to_jsonb(d) ->> 'datlocprovider' = 'i'
                   THEN format(' LOCALE_PROVIDER = icu ICU_LOCALE = %L',
                               coalesce(to_jsonb(d) ->> 'daticulocale', to_jsonb(d) ->> 'datlocale'))
                   ELSE '' END)
  FROM pg_database d WHERE d.datname = :'db';
SELECT format('REVOKE ALL ON DATABASE %I FROM PUBLIC;', datname)
  FROM pg_database WHERE datname = :'db' AND datacl IS NOT NULL;
SELECT format('GRANT %s ON DATABASE %I TO %s%s;', a.privilege_type, d.datname,
              CASE WHEN a.grantee = 0 THEN 'PUBLIC' ELSE quote_ident(pg_get_userbyid(a.grantee)) END,
              CASE WHEN a.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END)
  FROM pg_database d, aclexplode(d.datacl) WITH ORDINALITY AS a
 WHERE d.datname = :'db' AND a.grantee <> d.datdba
 ORDER BY a.ordinality;
SELECT format('ALTER DATABASE %I SET %I TO %L;', d.datname, split_part(c, '=', 1),
              substr(c, strpos(c, '=') + 1))
  FROM pg_database d JOIN pg_db_role_setting s ON s.setdatabase = d.oid AND s.setrole = 0,
       unnest(s.setconfig) AS c
 WHERE d.datname = :'db';
SQL
  IFS=$'\t' read -r db_bytes db_owner < <(ops_psql postgres -F $'\t' -v db="${db}" <<<"
SELECT pg_database_size(datname), pg_get_userbyid(datdba) FROM pg_database WHERE datname = :'db';")
  bytes=$(stat -c %s "${partial}/${db}.dump")
  sha=$(sha256sum "${partial}/${db}.dump" | cut -d' ' -f1)
  tables=$(grep -c '^relation .* kind=[rp] ' "${partial}/${db}.catalog.txt" || true)
  manifest_rows+=("$(printf '%s\t' "${db}" "${db}.dump" "${bytes}" "${sha}" "${db_bytes}" \
    "${migration_version}" "${migration_name}" "${db_owner}" "${tables}")${rows}")
  ops_say "${db}: ${bytes} bytes, ${tables} tables, ${rows} rows, migration ${migration_version}" \
    "($((SECONDS - db_started)) s)"
done

{
  echo "# Tahe backup (deploy/ops/backup.sh); restore with deploy/ops/restore.sh $(basename "${out}")"
  echo "# created_at: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "# source: $(ops_where)"
  echo "# server_version: ${server_version}"
  echo "# pg_dump: $("${OPS_BINDIR}/pg_dump" --version)"
  printf 'database\tfile\tbytes\tsha256\tdatabase_bytes\tmigration_version\tmigration_name\towner\ttables\trows\n'
  printf '%s\n' "${manifest_rows[@]}"
} >"${partial}/manifest.tsv"
(cd "${partial}" && find . -maxdepth 1 -type f -printf '%f\n' | sort | xargs sha256sum) \
  >"${partial}.sums"
mv "${partial}.sums" "${partial}/SHA256SUMS"
mv "${partial}" "${out}"
trap - EXIT
ops_say "done in $((SECONDS - started)) s: ${out} ($(du -sh "${out}" | cut -f1))"

if [[ -n "${keep}" ]]; then
  # Complete backups only (a manifest and no .partial suffix), oldest first by name (UTC stamps).
  mapfile -t old < <(find "${root_dir}" -mindepth 1 -maxdepth 1 -type d -name 'tahe-*' \
    ! -name '*.partial' -exec test -f '{}/manifest.tsv' ';' -print | sort | head -n "-${keep}")
  for dir in "${old[@]}"; do
    ops_say "removing old backup ${dir} (--keep ${keep})"
    rm -rf "${dir}"
  done
fi
echo "${out}"
