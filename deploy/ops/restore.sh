#!/usr/bin/env bash
# Restores a backup made by deploy/ops/backup.sh into a fresh PostgreSQL cluster, or into fresh
# databases of an existing one, so that the services start on it unchanged: the same roles and
# memberships, every database owned by its owner (tahe_owner) with the same privileges, the same
# row-level security and policies, the same schema migrations, the same rows.
#
#   deploy/ops/restore.sh --check BACKUP_DIR                      # checksums only, connects nowhere
#   deploy/ops/restore.sh --local-suite .tahe BACKUP_DIR          # the local suite's cluster
#   PGHOST=db.paijat-hame.internal PGUSER=postgres deploy/ops/restore.sh BACKUP_DIR \
#       --database tahe_paijat_hame_ledger --drop-existing
#
# Options:
#   --database NAME    restore only NAME (repeatable); default: every database of the backup
#   --drop-existing    drop a database of the same name first (refused while any session is
#                      connected to it: stop the services first). Without it an existing
#                      database stops the restore before anything is changed.
#   --no-roles         create no roles (they exist already in this cluster)
#   --roles REGEX      which roles of roles.sql to create or update (default ^tahe_); roles
#                      with SUPERUSER, REPLICATION or BYPASSRLS are never touched
#   --no-verify        do not compare the restored catalog and row counts with the backup's
#   --check            verify the backup's checksums and stop
#   connection: --host, --port, --user, --service, --service-file, --local-suite DIR, or the
#   libpq environment (PGHOST, PGPORT, PGUSER, PGPASSFILE, PGSERVICE, PGSSLMODE, ...): see
#   deploy/ops/ops_lib.sh. Never prompts for a password.
#
# Steps: verify SHA256SUMS; create the roles (roles.sql, made idempotent: CREATE ROLE when
# missing, then its attributes and memberships; no passwords); per database run
# <db>.database.sql (CREATE DATABASE with owner, encoding and locale, then its privileges), then
# pg_restore --single-transaction --exit-on-error (all of the database or none of it), ANALYZE,
# and check: the last schema migration equals the manifest's, the catalog (owners, privileges,
# row-level security, policies, functions, triggers) equals <db>.catalog.txt line for line, and
# every table has the rows <db>.counts.tsv says. A database that fails to restore is dropped
# again; one that restores but differs is left in place for inspection and the script fails.
#
# As a superuser the objects get their recorded owners. As another role (a managed PostgreSQL's
# admin user) the script runs pg_restore --no-owner --role=<owner>: the role needs CREATEDB and
# CREATEROLE and must be a member of tahe_owner (GRANT tahe_owner TO <admin>), and everything is
# created as tahe_owner, which is what owned it. Row counts are checked only by a superuser or a
# BYPASSRLS role (FORCE ROW LEVEL SECURITY hides the rows from everyone else).
#
# Passwords are not in the backup. Before starting the services on a fresh cluster set each login
# role's password from your secret store (ALTER ROLE tahe_ledger PASSWORD '...', or psql
# \password); deploy/local/run.sh sets them from .tahe/secrets on every start.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
# shellcheck source=deploy/ops/ops_lib.sh
source "${here}/ops_lib.sh"

usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }

backup=""
only=()
drop_existing=0
roles=1
roles_regex='^tahe_'
verify=1
check_only=0
while (($# > 0)); do
  ops_conn_option "$@"
  if ((OPS_USED > 0)); then
    shift "${OPS_USED}"
    continue
  fi
  case "$1" in
    --database | --roles)
      [[ $# -ge 2 && -n "$2" ]] || ops_die "$1 needs a value"
      case "$1" in
        --database) only+=("$2") ;;
        --roles) roles_regex=$2 ;;
      esac
      shift 2
      ;;
    --drop-existing) drop_existing=1 && shift ;;
    --no-roles) roles=0 && shift ;;
    --no-verify) verify=0 && shift ;;
    --check) check_only=1 && shift ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      usage >&2
      ops_die "unknown argument $1"
      ;;
    *)
      [[ -z "${backup}" ]] || ops_die "one backup directory, please (got ${backup} and $1)"
      backup=$1
      shift
      ;;
  esac
done
[[ -n "${backup}" ]] || ops_die "which backup? deploy/ops/restore.sh [OPTIONS] BACKUP_DIR"
backup=$(realpath -e "${backup}") || ops_die "no such backup directory"
[[ -f "${backup}/manifest.tsv" && -f "${backup}/SHA256SUMS" ]] ||
  ops_die "${backup} is not a complete backup (no manifest.tsv or SHA256SUMS)"

# 1. Every file as backup.sh wrote it.
(cd "${backup}" && sha256sum --quiet --strict -c SHA256SUMS) ||
  ops_die "${backup}: checksums do not match; nothing restored"

# The manifest's databases: name -> file, migration, owner.
declare -A m_file m_migration m_owner
manifest_dbs=()
while IFS=$'\t' read -r db file _bytes _sha _dbbytes version _name owner _tables _rows; do
  [[ "${db}" != \#* && "${db}" != database && -n "${db}" ]] || continue
  [[ "${db}" =~ ^[A-Za-z0-9_]+$ ]] || ops_die "unexpected database name in the manifest: ${db}"
  m_file[${db}]=${file}
  m_migration[${db}]=${version}
  m_owner[${db}]=${owner}
  manifest_dbs+=("${db}")
done <"${backup}/manifest.tsv"
((${#manifest_dbs[@]} > 0)) || ops_die "the manifest lists no database"
if ((${#only[@]} > 0)); then
  for db in "${only[@]}"; do
    [[ -n "${m_file[${db}]:-}" ]] || ops_die "${db} is not in this backup"
  done
  targets=("${only[@]}")
else
  targets=("${manifest_dbs[@]}")
fi
if ((check_only)); then
  ops_say "${backup}: checksums match; ${#manifest_dbs[@]} databases: ${manifest_dbs[*]}"
  exit 0
fi

ops_setup
who=$(ops_psql postgres -F $'\t' -c \
  "SELECT current_user, rolsuper, rolsuper OR rolbypassrls FROM pg_roles
    WHERE rolname = current_user") || ops_die "cannot connect to $(ops_where)"
IFS=$'\t' read -r me superuser may_count <<<"${who}"
ops_say "restoring ${#targets[@]} databases from ${backup} into $(ops_where)"

# 2. Nothing is changed unless every target can be restored.
for db in "${targets[@]}"; do
  state=$(ops_psql postgres -v db="${db}" <<'SQL'
SELECT CASE WHEN NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') THEN 'absent'
            WHEN EXISTS (SELECT FROM pg_stat_activity WHERE datname = :'db') THEN 'busy'
            ELSE 'idle' END;
SQL
  )
  case "${state}" in
    absent) ;;
    idle) ((drop_existing)) || ops_die "${db} exists; restore into a fresh cluster, drop it," \
      "or pass --drop-existing (nothing was changed)" ;;
    busy) ops_die "${db} exists and has sessions: stop the services first (nothing was changed)" ;;
  esac
done

# 3. Roles: only the Tahe roles, never privileged ones, idempotent, no passwords.
if ((roles)); then
  role_sql=$(awk -v want="${roles_regex}" -v me="${me}" -v superuser="${superuser}" '
    function bare(n) { gsub(/"/, "", n); return n }
    function wanted(n) { n = bare(n); return n ~ want && n != me && !(n in privileged) }
    function lit(s) { gsub(q, q q, s); return q s q }
    BEGIN { q = "\047" }
    # First pass: which roles are privileged.
    FNR == NR {
      if ($0 ~ /^ALTER ROLE [^ ]+ WITH /) {
        for (i = 5; i <= NF; i++) {
          t = $i; sub(/;$/, "", t)
          if (t == "SUPERUSER" || t == "REPLICATION" || t == "BYPASSRLS") privileged[bare($3)] = 1
        }
      }
      next
    }
    /^CREATE ROLE [^ ]+;$/ {
      n = $3; sub(/;$/, "", n)
      if (wanted(n)) {
        printf "SELECT format(%s, %s) WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = %s) \\gexec\n",
          lit("CREATE ROLE %I"), lit(bare(n)), lit(bare(n))
      } else if (bare(n) ~ want && bare(n) != me) {
        print "restore.sh: role " bare(n) " skipped (SUPERUSER, REPLICATION or BYPASSRLS: the cluster administrator keeps such roles)" > "/dev/stderr"
      }
      next
    }
    /^ALTER ROLE [^ ]+ WITH / {
      if (!wanted($3)) next
      line = "ALTER ROLE " $3 " WITH"
      for (i = 5; i <= NF; i++) {
        t = $i; sub(/;$/, "", t)
        # Only a superuser may even name these attributes; NO... is the default anyway.
        if (superuser != "t" && (t == "NOSUPERUSER" || t == "NOREPLICATION" || t == "NOBYPASSRLS")) continue
        line = line " " t
      }
      print line ";"
      next
    }
    /^ALTER ROLE [^ ]+ IN DATABASE / { next }  # per-database role settings: Tahe has none
    /^(ALTER ROLE [^ ]+ (SET|RESET) |COMMENT ON ROLE )/ {
      n = ($1 == "COMMENT") ? $4 : $3
      if (wanted(n)) print
      next
    }
    /^GRANT [^ ]+ TO [^ ]+/ {
      granted = $2; member = $4; sub(/;$/, "", member)
      if (!wanted(member) || !(wanted(granted) || bare(granted) ~ /^pg_/)) next
      line = $0
      sub(/ GRANTED BY [^ ;]+/, "", line)
      print line
      next
    }
  ' "${backup}/roles.sql" "${backup}/roles.sql")
  printf 'SET client_min_messages = warning;\n%s\n' "${role_sql}" | ops_psql postgres -f - ||
    ops_die "creating the roles failed (nothing else was changed)"
  ops_say "roles matching ${roles_regex} created or updated"
fi

# Every role a database's privileges name must exist before any database is dropped or created.
for db in "${targets[@]}"; do
  while read -r role; do
    [[ "${role}" != PUBLIC ]] || continue
    [[ $(ops_psql postgres -v role="${role//\"/}" <<<"SELECT count(*) FROM pg_roles WHERE rolname = :'role';") == 1 ]] ||
      ops_die "${db}: its privileges name the role ${role}, which does not exist here: create it" \
        "(or drop that line of ${db}.database.sql and update SHA256SUMS); nothing was changed"
  done < <(sed -n 's/^GRANT .* TO \([^ ;]*\).*;$/\1/p' "${backup}/${db}.database.sql" | sort -u)
done

# restore_one DB: steps 4-6 for one database.
restore_one() {
  local db=$1 started=${SECONDS} owner=${m_owner[$1]} restore_args=() got
  if ((drop_existing)); then
    ops_psql postgres -v db="${db}" <<<"SELECT format('DROP DATABASE IF EXISTS %I', :'db') \\gexec"
  fi
  if ! ops_psql postgres -f "${backup}/${db}.database.sql" >/dev/null; then
    ops_psql postgres -v db="${db}" <<<"SELECT format('DROP DATABASE IF EXISTS %I', :'db') \\gexec" ||
      true
    ops_die "${db}: ${db}.database.sql failed (above: a role its privileges name that is missing" \
      "here, or a locale this server lacks; such a line can be changed in that file, then" \
      "update SHA256SUMS); nothing of ${db} is left"
  fi
  if [[ "${superuser}" != t ]]; then
    restore_args=(--no-owner "--role=${owner}")
  fi
  if ! "${OPS_BINDIR}/pg_restore" -w --single-transaction --exit-on-error "${restore_args[@]}" \
    -d "dbname=${db}" "${backup}/${m_file[${db}]}"; then
    ops_psql postgres -v db="${db}" <<<"SELECT format('DROP DATABASE %I', :'db') \\gexec" || true
    ops_die "${db}: pg_restore failed; the database was dropped again"
  fi
  # pg_restore leaves the planner without statistics. (As the owner ANALYZE skips the shared
  # catalogs, with a warning each: hidden.)
  if [[ "${superuser}" == t ]]; then
    ops_psql "${db}" -c "ANALYZE"
  else
    ops_psql "${db}" -c "SET client_min_messages = error" -c "SET ROLE \"${owner}\"" -c "ANALYZE"
  fi

  # Check it.
  if [[ "${m_migration[${db}]}" != none ]]; then
    got=$(ops_psql "${db}" -F $'\t' -c "${OPS_MIGRATION_SQL}" | cut -f1)
    [[ "${got}" == "${m_migration[${db}]}" ]] ||
      ops_die "${db}: schema migration ${got}, the backup has ${m_migration[${db}]}"
  fi
  local what="migration ${m_migration[${db}]}"
  if ((verify)); then
    if ! diff -u --label backup --label restored "${backup}/${db}.catalog.txt" \
      <(ops_psql "${db}" -c "${OPS_CATALOG_SQL}") >&2; then
      ops_die "${db}: owners, privileges or row-level security differ from the backup (diff" \
        "above: - the backup, + restored); the database is left for inspection"
    fi
    what+=", catalog identical"
    if [[ -f "${backup}/${db}.counts.tsv" && "${may_count}" == t ]]; then
      if ! diff -u --label backup --label restored "${backup}/${db}.counts.tsv" \
        <(ops_psql "${db}" -F $'\t' -c "${OPS_COUNTS_SQL}") >&2; then
        ops_die "${db}: row counts differ from the backup (diff above)"
      fi
      what+=", $(awk -F '\t' '{s += $2} END {print s + 0}' "${backup}/${db}.counts.tsv") rows"
    else
      what+=", rows not counted"
    fi
  fi
  ops_say "${db}: restored (${what}; $((SECONDS - started)) s)"
}

started=${SECONDS}
for db in "${targets[@]}"; do
  restore_one "${db}"
done

# Passwords are not in the backup.
if [[ "${superuser}" == t ]]; then
  missing=$(ops_psql postgres -v re="${roles_regex}" <<'SQL'
SELECT string_agg(rolname, ' ' ORDER BY rolname) FROM pg_authid
 WHERE rolcanlogin AND rolpassword IS NULL AND rolname ~ :'re' AND NOT rolsuper;
SQL
  )
  if [[ -n "${missing}" ]]; then
    ops_say "login roles without a password here: ${missing}; set them from your secret store" \
      "before starting the services (deploy/local/run.sh does so on its next start)"
  fi
fi
ops_say "done in $((SECONDS - started)) s"
