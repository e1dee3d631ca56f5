#!/usr/bin/env bash
# Runs the Tahe suite on this machine with a PostgreSQL cluster of its own: two cells (regions
# "paijat-hame" and "pohjanmaa", each running ledger, payroll, invoicing and reporting with
# databases of its own) behind one gateway.
#
#   deploy/local/run.sh             # build, start, seed the demo, stay in the foreground; Ctrl-C
#                                   # stops the services and PostgreSQL
#   deploy/local/run.sh --detach    # the same, but return once everything is healthy
#   deploy/local/run.sh --stop      # stop a detached (or foreground) suite
#   deploy/local/run.sh --no-seed   # skip the demo data (combine with the above)
#   deploy/local/run.sh --no-build  # skip installing packages and building (binaries must exist)
#   deploy/local/run.sh --tls       # TLS everywhere (also TAHE_LOCAL_TLS=1): the gateway serves
#                                   # TLS, every backend requires mutual TLS from its callers,
#                                   # with certificates from a local CA the launcher makes
#
# Everything lives under .tahe/ in the checkout (ignored by git):
#   .tahe/pg/                PostgreSQL cluster (created once, kept across runs)
#   .tahe/ports/             the ports chosen the first time, reused while free
#   .tahe/secrets/           database passwords, the gateway's bootstrap admin key
#                            (admin_api_key), the demo operator key (operator_api_key) and the
#                            identity-code hash keys of payroll and invoicing, mode 600
#   .tahe/internal_token     the internal credential between services (mode 600)
#   .tahe/tls/               with --tls: the local CA (ca.pem, ca.key; 10 years) and a certificate
#                            and key per process (<process>.pem, .key; tahectl.pem for tahectl),
#                            valid 30 days, re-issued when within a day of expiry (mode 600 keys)
#   .tahe/logs/              postgres.log, <service>-<cell>.log, gateway.log
#   .tahe/run/               pid files
#   .tahe/local.env          how to reach everything (mode 600): source it with
#                            set -a; . .tahe/local.env; set +a
#
# The gateway (its own database tahe_gateway) is the one entry point for clients: the launcher
# registers both regions with their cells' addresses, the demo organisations (lahti, phhyky in
# paijat-hame; vaasa, seinajoki in pohjanmaa) and a demo operator key for both regions, and writes
# TAHE_GATEWAY_ADDR and TAHE_API_KEY to local.env. The demo is seeded through the gateway.
#
# Database roles: tahe_owner (LOGIN) owns the service databases and runs the migrations;
# tahe_<service>_app (NOLOGIN) is the group role the migrations grant to; tahe_<service>
# (LOGIN, member of tahe_<service>_app, owns nothing) is what the service connects as, so
# row-level security applies to it. TCP logins use scram-sha-256 passwords; the superuser
# tahe_admin can only log in over the cluster's unix socket in .tahe/pg.
#
# Safe to run again: the cluster, roles, databases, secrets and demo data are created only when
# missing, and a run while the suite is up says so and changes nothing.
#
# Works as root (PostgreSQL then runs as the `postgres` system user) or as a normal user who may
# sudo for installing packages.
#
# Environment: TAHE_BUILD_DIR (default build), TAHE_LOCAL_DIR (default .tahe: the state
# directory, another one runs an independent suite), TAHE_LOCAL_BIN_<SERVICE> (run another binary
# in place of build/services/<service>/tahe_<service>; deploy/local/run_test.sh uses it). The
# services read their own TAHE_<SERVICE>_* settings from the environment too (for example
# TAHE_GATEWAY_RATE_PER_SECOND and TAHE_GATEWAY_RATE_BURST for the gateway's rate limit).
set -euo pipefail

usage() {
  sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"
}

mode=foreground
seed=1
build=1
tls=0
[[ "${TAHE_LOCAL_TLS:-0}" == 1 ]] && tls=1
for arg in "$@"; do
  case "${arg}" in
    --detach) mode=detach ;;
    --tls) tls=1 ;;
    --stop) mode=stop ;;
    --no-seed) seed=0 ;;
    --no-build) build=0 ;;
    -h | --help)
      usage
      exit 0
      ;;
    *)
      echo "run.sh: unknown argument ${arg}" >&2
      usage >&2
      exit 2
      ;;
  esac
done

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "${root}"
# shellcheck source=tests/pg/lib.sh
source tests/pg/lib.sh

# --- What runs where -------------------------------------------------------------------------
# One cell per region; each cell runs every service with a database of its own. Add a cell or a
# service here (and its demo tenants below); the rest of the script loops over these.
CELLS=(paijat-hame pohjanmaa)
SERVICES=(ledger payroll invoicing reporting)
declare -A CELL_NAME=([paijat-hame]="Päijät-Häme" [pohjanmaa]="Pohjanmaa")
declare -A CELL_TENANTS=([paijat-hame]="lahti,phhyky" [pohjanmaa]="vaasa,seinajoki")
# Demo organisations: name and business ID (check digits valid; finnish-rules.md §4).
declare -A ORG_NAME=([lahti]="Lahden kaupunki" [phhyky]="Päijät-Hämeen hyvinvointialue"
  [vaasa]="Vaasan kaupunki" [seinajoki]="Seinäjoen kaupunki")
declare -A ORG_BUSINESS_ID=([lahti]="0135202-4" [phhyky]="3221310-7" [vaasa]="0209602-6"
  [seinajoki]="0204819-8")
# gRPC service prefix of each service, as the gateway routes by it.
declare -A SERVICE_PREFIX=([ledger]="tahe.ledger.v1" [payroll]="tahe.payroll.v1"
  [invoicing]="tahe.invoicing.v1" [reporting]="tahe.reporting.v1")
# The demo operator key's roles: everything but admin (the bootstrap key is the admin key).
OPERATOR_ROLES=(ledger.read ledger.write payroll.run payroll.admin invoicing.write reports.read
  reports.write)

# First ports to probe. PostgreSQL's is remembered in .tahe/ports/ and reused while free, and so
# are the services', so that addresses stay put across restarts.
# Below Linux's ephemeral range (32768-60999 by default): a port there can be taken at any moment
# as the local end of some outgoing connection, and a server then fails to bind it.
PG_PORT_BASE=25432
GATEWAY_PORT_BASE=25050
GRPC_PORT_BASE=25051
METRICS_PORT_BASE=9464
HEALTH_WAIT_SECONDS=60
STOP_WAIT_SECONDS=30

state=$(realpath -m "${TAHE_LOCAL_DIR:-.tahe}")
shown_state=${state#"${root}/"}  # .tahe when inside the checkout, for messages
pg_dir="${state}/pg"
ports_dir="${state}/ports"
secrets_dir="${state}/secrets"
log_dir="${state}/logs"
run_dir="${state}/run"
token_file="${state}/internal_token"
tls_dir="${state}/tls"
admin_key_file="${secrets_dir}/admin_api_key"
operator_key_file="${secrets_dir}/operator_api_key"
env_file="${state}/local.env"
summary_file="${state}/summary.txt"
launcher_pid_file="${run_dir}/launcher.pid"
# What the command line of a foreground launcher contains, however it was invoked.
launcher_marker="run.sh"
# What the command line of every service of this suite contains: the absolute token path is
# unique to the state directory and does not depend on which binary runs.
service_marker="--internal_token_file=${token_file}"
build_dir=${TAHE_BUILD_DIR:-build}
build_path=$(realpath -m "${build_dir}")
gateway_name=gateway
tahectl="${build_path}/tools/tahectl/tahectl"

# Never fails: with stderr gone (a closed pipe) the script must still be able to clean up.
say() { echo "run.sh: $*" >&2 || true; }
die() {
  say "$*"
  exit 1
}

# --- Small helpers -----------------------------------------------------------------------------

db_name() { echo "tahe_${1//-/_}_$2"; }   # cell, service -> tahe_paijat_hame_ledger
proc_name() { echo "$2-$1"; }             # cell, service -> ledger-paijat-hame
env_suffix() { local s=${1//-/_}; echo "${s^^}"; }  # paijat-hame -> PAIJAT_HAME

# The service binary; TAHE_LOCAL_BIN_<SERVICE> (e.g. TAHE_LOCAL_BIN_LEDGER) overrides it, which
# the launcher's own test uses to run a stand-in.
service_binary() {
  local override="TAHE_LOCAL_BIN_${1^^}"
  echo "${!override:-${build_path}/services/$1/tahe_$1}"
}

# True if PID is alive (a zombie child counts as gone) and its command line contains WANT, so a
# stale pid file whose number was reused by an unrelated process is never signalled.
pid_matches() {
  local pid=$1 want=$2 stat state_field
  [[ "${pid}" =~ ^[0-9]+$ ]] || return 1
  stat=$(cat "/proc/${pid}/stat" 2>/dev/null) || return 1
  state_field=${stat##*) }
  [[ "${state_field%% *}" != "Z" ]] || return 1
  tr '\0' ' ' <"/proc/${pid}/cmdline" 2>/dev/null | grep -qF -- "${want}"
}

# Prints the pid in FILE if that process is alive and is WANT.
live_pid() {
  local file=$1 want=$2 pid
  [[ -f "${file}" ]] || return 1
  pid=$(<"${file}")
  pid_matches "${pid}" "${want}" && echo "${pid}"
}

# 32 hex characters from the kernel's generator, written once to FILE with mode 600.
ensure_secret() {
  local file=$1
  if [[ ! -s "${file}" ]]; then
    (
      umask 077
      od -An -tx1 -N16 /dev/urandom | tr -d ' \n' >"${file}.tmp"
      mv "${file}.tmp" "${file}"
    )
  fi
  chmod 600 "${file}"
}

# --- TLS (--tls) ---------------------------------------------------------------------------------
# A local CA and one certificate per process, for 127.0.0.1 and localhost, usable by servers and
# clients (every service is both). Production certificates come from a real private CA (see
# deploy/k8s/README.md); these exist so that the same code paths run on one machine.
TLS_DAYS=30
# The CA outlives every certificate it signs: it is renewed (and they with it) when it has less
# than TLS_DAYS left.
TLS_CA_DAYS=3650

# valid_certificate FILE: exists, is signed by the local CA and has more than a day left.
valid_certificate() {
  [[ -s "$1" ]] && openssl x509 -checkend 86400 -noout -in "$1" >/dev/null 2>&1 &&
    openssl verify -CAfile "${tls_dir}/ca.pem" "$1" >/dev/null 2>&1
}

ensure_tls_ca() {
  mkdir -p "${tls_dir}"
  chmod 700 "${tls_dir}"
  if [[ -s "${tls_dir}/ca.pem" && -s "${tls_dir}/ca.key" ]] &&
    openssl x509 -checkend $((TLS_DAYS * 86400)) -noout -in "${tls_dir}/ca.pem" >/dev/null 2>&1; then
    return
  fi
  (
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -sha256 \
      -days "${TLS_CA_DAYS}" -subj "/CN=Tahe local CA" \
      -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
      -keyout "${tls_dir}/ca.key" -out "${tls_dir}/ca.pem" 2>/dev/null
  ) || die "cannot create the local CA in ${tls_dir}"
  chmod 644 "${tls_dir}/ca.pem"
  say "local TLS CA created (${tls_dir}/ca.pem)"
}

# ensure_certificate NAME: tls/NAME.pem and tls/NAME.key, issued by the local CA when missing,
# expiring within a day, or issued by an older CA.
ensure_certificate() {
  local name=$1 dir=${tls_dir}
  valid_certificate "${dir}/${name}.pem" && return
  (
    umask 077
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=${name}" \
      -keyout "${dir}/${name}.key" -out "${dir}/${name}.csr" 2>/dev/null &&
      openssl x509 -req -sha256 -days "${TLS_DAYS}" -in "${dir}/${name}.csr" \
        -CA "${dir}/ca.pem" -CAkey "${dir}/ca.key" -set_serial "0x$(od -An -tx1 -N16 /dev/urandom | tr -d ' \n')" \
        -extfile <(printf '%s\n' "basicConstraints=critical,CA:FALSE" \
          "subjectAltName=IP:127.0.0.1,DNS:localhost" "extendedKeyUsage=serverAuth,clientAuth" \
          "keyUsage=critical,digitalSignature") \
        -out "${dir}/${name}.pem" 2>/dev/null
  ) || die "cannot issue the TLS certificate of ${name}"
  rm -f "${dir}/${name}.csr"
}

# tls_flags NAME SERVICE: the TLS flags of a process (none without --tls). Backends require client
# certificates of the local CA; the gateway's public listener does not (clients bring API keys).
tls_flags() {
  ((tls)) || return 0
  local name=$1 service=$2
  echo "--tls_cert_file=${tls_dir}/${name}.pem"
  echo "--tls_key_file=${tls_dir}/${name}.key"
  [[ "${service}" == gateway ]] || echo "--tls_client_ca_file=${tls_dir}/ca.pem"
  echo "--upstream_tls_ca_file=${tls_dir}/ca.pem"
  echo "--upstream_tls_cert_file=${tls_dir}/${name}.pem"
  echo "--upstream_tls_key_file=${tls_dir}/${name}.key"
}

# Sets `port` to the port remembered under NAME if nothing listens there, else to a newly probed
# free one (remembered from now on). Ports handed out in this run are never handed out twice.
claimed_ports=""
claim_port() {
  local name=$1 base=$2 file="${ports_dir}/$1"
  port=""
  if [[ -f "${file}" ]]; then
    port=$(<"${file}")
  fi
  if ! [[ "${port}" =~ ^[0-9]+$ ]] || tahe_port_in_use "${port}" ||
    [[ " ${claimed_ports} " == *" ${port} "* ]]; then
    # shellcheck disable=SC2086  # claimed_ports is a list of words on purpose
    port=$(tahe_find_free_port "${base}" ${claimed_ports})
    echo "${port}" >"${file}"
  fi
  claimed_ports+=" ${port}"
}

# Process names (ledger-paijat-hame ...) and their binaries, from CELLS x SERVICES.
all_processes() {
  local cell service
  for cell in "${CELLS[@]}"; do
    for service in "${SERVICES[@]}"; do
      echo "${cell} ${service}"
    done
  done
}

# True if any service of the suite, or a foreground launcher, is alive.
suite_running() {
  local cell service
  live_pid "${launcher_pid_file}" "${launcher_marker}" >/dev/null && return 0
  while read -r cell service; do
    live_pid "${run_dir}/$(proc_name "${cell}" "${service}").pid" "${service_marker}" >/dev/null &&
      return 0
  done < <(all_processes)
  live_pid "${run_dir}/${gateway_name}.pid" "${service_marker}" >/dev/null && return 0
  return 1
}

# SIGTERM every service with a live pid file, wait for each to exit (SIGKILL after
# STOP_WAIT_SECONDS), and remove the pid files.
stop_services() {
  local file name pid deadline
  # The gateway first: clients see it go before the cells behind it.
  for file in "${run_dir}/${gateway_name}.pid" "${run_dir}"/*.pid; do
    [[ -e "${file}" && "${file}" != "${launcher_pid_file}" ]] || continue
    name=$(basename "${file}" .pid)
    if pid=$(live_pid "${file}" "${service_marker}"); then
      say "stopping ${name} (pid ${pid})"
      kill -TERM "${pid}" 2>/dev/null || true
      deadline=$((SECONDS + STOP_WAIT_SECONDS))
      while pid_matches "${pid}" "${service_marker}" && ((SECONDS < deadline)); do
        sleep 0.2
      done
      if pid_matches "${pid}" "${service_marker}"; then
        say "${name} did not exit within ${STOP_WAIT_SECONDS}s of SIGTERM; killing it"
        kill -KILL "${pid}" 2>/dev/null || true
      fi
      # Reap it if it is our own child (foreground mode); harmless otherwise.
      wait "${pid}" 2>/dev/null || true
    fi
    rm -f "${file}"
  done
}

stop_postgres() {
  if tahe_pg_is_running "${pg_dir}"; then
    say "stopping PostgreSQL"
    tahe_pg_stop "${pg_dir}"
  fi
}

# Serialises starting and stopping: two launchers must not race over ports and pid files. The
# lock is fd 9; every long-lived child is started with 9>&- so that it does not keep the lock.
take_lock() {
  mkdir -p "${run_dir}"
  exec 9>"${run_dir}/lock"
  flock -n 9 || die "another deploy/local/run.sh is starting or stopping the suite; try again"
}

# --- --stop ------------------------------------------------------------------------------------

if [[ "${mode}" == "stop" ]]; then
  if launcher=$(live_pid "${launcher_pid_file}" "${launcher_marker}"); then
    # A foreground launcher stops everything itself on SIGTERM; wait for it to finish.
    say "asking the foreground launcher (pid ${launcher}) to stop the suite"
    kill -TERM "${launcher}"
    deadline=$((SECONDS + STOP_WAIT_SECONDS + 60))
    while pid_matches "${launcher}" "${launcher_marker}" && ((SECONDS < deadline)); do
      sleep 0.2
    done
    if ! pid_matches "${launcher}" "${launcher_marker}"; then
      say "stopped"
      exit 0
    fi
    say "the launcher did not finish in time; stopping the services directly"
  fi
  [[ -d "${state}" ]] || {
    say "nothing to stop (no ${shown_state}/)"
    exit 0
  }
  take_lock
  if ! suite_running && ! tahe_pg_is_running "${pg_dir}"; then
    say "the suite is not running"
    exit 0
  fi
  stop_services
  stop_postgres
  rm -f "${launcher_pid_file}"
  say "stopped"
  exit 0
fi

# --- Start -------------------------------------------------------------------------------------

# .tahe is world-traversable (not readable for secrets: those are 600 in a 700 directory) so
# that the postgres user can reach .tahe/pg when we are root.
mkdir -p "${state}" "${ports_dir}" "${secrets_dir}" "${log_dir}" "${run_dir}"
chmod 755 "${state}" "${log_dir}"
chmod 700 "${secrets_dir}" "${ports_dir}" "${run_dir}"
take_lock

if suite_running; then
  say "the suite is already running; stop it with: deploy/local/run.sh --stop"
  if [[ -f "${summary_file}" ]]; then
    cat "${summary_file}"
  fi
  exit 0
fi

if ((build)); then
  bash tests/deps.sh
  cmake -G Ninja -S . -B "${build_path}" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "${build_path}" -j"$(nproc)"
fi
[[ -x "${tahectl}" ]] || die "${tahectl} was not built"
for service in "${SERVICES[@]}" gateway; do
  binary=$(service_binary "${service}")
  [[ -x "${binary}" ]] || die "${binary} was not built"
done

# Until the suite is up, any failure stops whatever this run started.
started_pids=()
started_postgres=0
# shellcheck disable=SC2317  # called by the EXIT trap
startup_cleanup() {
  local status=$?
  trap '' PIPE
  if ((status != 0)); then
    say "start-up failed; stopping what was started"
    stop_services
    if ((started_postgres)); then
      stop_postgres
    fi
  fi
}
trap startup_cleanup EXIT
# Turn the signals that would kill bash without running the EXIT trap into exits: Ctrl-C,
# kill, a closed terminal, and a closed output pipe (run.sh | head).
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP
trap 'exit 141' PIPE

# Secrets.
ensure_secret "${token_file}"
ensure_secret "${secrets_dir}/pg_tahe_owner"
# Payroll's and invoicing's keys for the keyed hash of personal identity codes (one each per
# installation).
ensure_secret "${secrets_dir}/payroll_identity_key"
ensure_secret "${secrets_dir}/invoicing_identity_key"
for service in "${SERVICES[@]}" gateway; do
  ensure_secret "${secrets_dir}/pg_tahe_${service}"
done
owner_password=$(<"${secrets_dir}/pg_tahe_owner")
if ((tls)); then
  command -v openssl >/dev/null || die "--tls needs openssl (bash tests/deps.sh installs it)"
  ensure_tls_ca
  while read -r cell service; do
    ensure_certificate "$(proc_name "${cell}" "${service}")"
  done < <(all_processes)
  ensure_certificate "${gateway_name}"
  ensure_certificate tahectl
fi

# PostgreSQL: local (socket) connections are trusted, the socket directory being private to the
# cluster's owner; TCP connections need a scram-sha-256 password.
tahe_pg_prepare_dir "${pg_dir}"
tahe_pg_init "${pg_dir}" --auth-local=trust --auth-host=scram-sha-256
if tahe_pg_is_running "${pg_dir}"; then
  pg_port=$(tahe_pg_configured_port "${pg_dir}")
  claimed_ports+=" ${pg_port}"
else
  claim_port pg "${PG_PORT_BASE}"
  pg_port=${port}
  tahe_pg_write_conf "${pg_dir}" "${pg_port}"
  touch "${log_dir}/postgres.log"
  if ((EUID == 0)); then
    chown postgres:postgres "${log_dir}/postgres.log"
  fi
  say "starting PostgreSQL on 127.0.0.1:${pg_port}"
  started_postgres=1
  tahe_pg_start "${pg_dir}" "${log_dir}/postgres.log" || {
    tail -n 20 "${log_dir}/postgres.log" >&2 || true
    die "PostgreSQL did not start (log: ${log_dir}/postgres.log)"
  }
fi

# Roles and databases, created when missing; passwords (re)set from .tahe/secrets every run.
{
  echo "SET client_min_messages = warning;"
  echo "\\set owner_password '${owner_password}'"
  cat <<'SQL'
SELECT 'CREATE ROLE tahe_owner'
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'tahe_owner') \gexec
ALTER ROLE tahe_owner WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE PASSWORD :'owner_password';
SQL
  for service in "${SERVICES[@]}" gateway; do
    echo "\\set app_role 'tahe_${service}_app'"
    echo "\\set login_role 'tahe_${service}'"
    echo "\\set login_password '$(<"${secrets_dir}/pg_tahe_${service}")'"
    cat <<'SQL'
SELECT format('CREATE ROLE %I NOLOGIN', :'app_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'app_role') \gexec
SELECT format('CREATE ROLE %I', :'login_role')
WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = :'login_role') \gexec
ALTER ROLE :"login_role" WITH LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE
  PASSWORD :'login_password';
GRANT :"app_role" TO :"login_role";
SQL
    if [[ "${service}" == gateway ]]; then
      databases=(tahe_gateway)
    else
      databases=()
      for cell in "${CELLS[@]}"; do
        databases+=("$(db_name "${cell}" "${service}")")
      done
    fi
    for db in "${databases[@]}"; do
      echo "\\set db '${db}'"
      cat <<'SQL'
SELECT format('CREATE DATABASE %I OWNER tahe_owner', :'db')
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = :'db') \gexec
ALTER DATABASE :"db" OWNER TO tahe_owner;
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"db" TO :"app_role";
SQL
    done
  done
} | tahe_psql "${pg_dir}" "${pg_port}"

# Passwords reach libpq through a pgpass file, never the command line (ps would show them).
pgpass="${secrets_dir}/pgpass"
(
  umask 077
  printf '127.0.0.1:%s:*:tahe_owner:%s\n' "${pg_port}" "${owner_password}" >"${pgpass}.tmp"
  for s in "${SERVICES[@]}" gateway; do
    printf '127.0.0.1:%s:*:tahe_%s:%s\n' "${pg_port}" "${s}" "$(<"${secrets_dir}/pg_tahe_${s}")" \
      >>"${pgpass}.tmp"
  done
  mv "${pgpass}.tmp" "${pgpass}"
)

declare -A grpc_addr metrics_addr
# start_process NAME SERVICE GRPC_PORT_BASE DATABASE [EXTRA FLAGS...]: claims its ports, starts
# the binary of SERVICE in the background and writes its pid file.
start_process() {
  local name=$1 service=$2 port_base=$3 db=$4
  shift 4
  claim_port "${name}" "${port_base}"
  grpc_addr[${name}]="127.0.0.1:${port}"
  claim_port "${name}-metrics" "${METRICS_PORT_BASE}"
  metrics_addr[${name}]="127.0.0.1:${port}"
  local conn="host=127.0.0.1 port=${pg_port} dbname=${db}" tls_args=()
  mapfile -t tls_args < <(tls_flags "${name}" "${service}")
  say "starting ${name} on ${grpc_addr[${name}]}$( ((tls)) && echo " (TLS)")"
  echo "--- $(date -Is) deploy/local/run.sh starts ${name}" >>"${log_dir}/${name}.log"
  # setsid: a new session, so that Ctrl-C in this terminal reaches only this script, which then
  # stops the services in order. In a non-interactive shell the background job is not a process
  # group leader, so setsid execs in place and $! is the service's own pid.
  # The shared TLS and health settings come from tls_flags alone, never from the caller's
  # environment (libs/server/tls.h reads TAHE_TLS_*, TAHE_UPSTREAM_TLS_*, TAHE_HEALTH_LISTEN).
  PGPASSFILE="${pgpass}" env -u TAHE_TLS_CERT_FILE -u TAHE_TLS_KEY_FILE -u TAHE_TLS_CLIENT_CA_FILE \
    -u TAHE_UPSTREAM_TLS_CA_FILE -u TAHE_UPSTREAM_TLS_CERT_FILE -u TAHE_UPSTREAM_TLS_KEY_FILE \
    -u TAHE_HEALTH_LISTEN setsid "$(service_binary "${service}")" \
    --listen="${grpc_addr[${name}]}" \
    --metrics_listen="${metrics_addr[${name}]}" \
    --db_url="${conn} user=tahe_${service}" \
    --db_migrate_url="${conn} user=tahe_owner" \
    --internal_token_file="${token_file}" \
    "${tls_args[@]}" \
    "$@" \
    >>"${log_dir}/${name}.log" 2>&1 </dev/null 9>&- &
  echo $! >"${run_dir}/${name}.pid"
  started_pids+=($!)
}

# run_tahectl ARGS...: tahectl with only what this script gives it: none of the caller's TAHE_*
# client settings (a TAHE_LOCAL_ENV or TAHE_API_KEY of another suite must not leak in).
run_tahectl() {
  local tls_args=()
  if ((tls)); then
    tls_args=(--tls-ca-file "${tls_dir}/ca.pem" --tls-cert-file "${tls_dir}/tahectl.pem"
      --tls-key-file "${tls_dir}/tahectl.key")
  fi
  TAHE_LOCAL_ENV=/dev/null env -u TAHE_API_KEY -u TAHE_API_KEY_FILE -u TAHE_ADMIN_API_KEY \
    -u TAHE_ADMIN_API_KEY_FILE -u TAHE_TENANT -u TAHE_GATEWAY_ADDR -u TAHE_LEDGER_ADDR \
    -u TAHE_INTERNAL_TOKEN -u TAHE_INTERNAL_TOKEN_FILE -u TAHE_TLS_CA_FILE \
    -u TAHE_TLS_CLIENT_CERT_FILE -u TAHE_TLS_CLIENT_KEY_FILE "${tahectl}" "${tls_args[@]}" "$@"
}

# wait_serving NAME: until its health check says SERVING; fails if it exits or takes too long.
wait_serving() {
  local name=$1 pid deadline rc output
  pid=$(<"${run_dir}/${name}.pid")
  deadline=$((SECONDS + HEALTH_WAIT_SECONDS))
  while true; do
    rc=0
    output=$(run_tahectl health --addr "${grpc_addr[${name}]}" --timeout 2s 2>&1) || rc=$?
    ((rc != 0)) || break
    # 2: tahectl refused its own configuration; waiting will not help.
    ((rc != 2)) || die "tahectl health failed: ${output}"
    if ! pid_matches "${pid}" "${service_marker}"; then
      tail -n 40 "${log_dir}/${name}.log" >&2 || true
      die "${name} exited during start-up (log: ${log_dir}/${name}.log)"
    fi
    if ((SECONDS >= deadline)); then
      tail -n 40 "${log_dir}/${name}.log" >&2 || true
      die "${name} was not SERVING within ${HEALTH_WAIT_SECONDS}s (log: ${log_dir}/${name}.log)"
    fi
    sleep 0.5
  done
  say "${name} is SERVING"
}

# The cells. Services of a cell that post to its ledger (payroll, invoicing) get its address
# and their own identity key, reporting the ledger's address to follow its feed and invoicing's
# for receivables; ledger comes first in SERVICES and invoicing before reporting, so their
# addresses are known when the others start.
while read -r cell service; do
  extra=()
  if [[ "${service}" == payroll || "${service}" == invoicing ]]; then
    extra=(--ledger_addr="${grpc_addr[$(proc_name "${cell}" ledger)]}"
      --identity_key_file="${secrets_dir}/${service}_identity_key")
  elif [[ "${service}" == reporting ]]; then
    extra=(--ledger_addr="${grpc_addr[$(proc_name "${cell}" ledger)]}"
      --invoicing_addr="${grpc_addr[$(proc_name "${cell}" invoicing)]}")
  fi
  start_process "$(proc_name "${cell}" "${service}")" "${service}" "${GRPC_PORT_BASE}" \
    "$(db_name "${cell}" "${service}")" "${extra[@]}"
done < <(all_processes)
while read -r cell service; do
  wait_serving "$(proc_name "${cell}" "${service}")"
done < <(all_processes)

# The gateway. On its first start it issues the admin key into secrets/admin_api_key.
start_process "${gateway_name}" gateway "${GATEWAY_PORT_BASE}" tahe_gateway \
  --bootstrap_admin_key_file="${admin_key_file}"
wait_serving "${gateway_name}"
gateway_addr=${grpc_addr[${gateway_name}]}
[[ -s "${admin_key_file}" ]] ||
  die "the gateway's directory has an admin key but ${admin_key_file} is missing: issue a new one and write it there, or remove ${shown_state}/ to start afresh"

# admin ARGS...: tahectl admin as the bootstrap admin, through the gateway.
admin() {
  run_tahectl --addr "${gateway_addr}" --api-key-file "${admin_key_file}" --timeout 30s admin "$@"
}

# The directory: both regions with their cells' current addresses (set on every start: ports may
# have moved), then, with the demo, its organisations and the operator key.
existing_regions=$(admin regions list --json) || die "cannot list the gateway's regions"
for cell in "${CELLS[@]}"; do
  services=()
  for service in "${SERVICES[@]}"; do
    services+=(--service "${SERVICE_PREFIX[${service}]}=${grpc_addr[$(proc_name "${cell}" "${service}")]}")
  done
  if grep -q "\"slug\": *\"${cell}\"" <<<"${existing_regions}"; then
    admin regions update "${cell}" "${services[@]}" >/dev/null ||
      die "cannot update the addresses of region ${cell}"
  else
    admin regions create "${cell}" --name "${CELL_NAME[${cell}]}" "${services[@]}" \
      --request-id "local-region-${cell}" >/dev/null || die "cannot create region ${cell}"
    say "region ${cell} registered with the gateway"
  fi
done

if ((seed)); then
  all_tenants=()
  for cell in "${CELLS[@]}"; do
    IFS=, read -r -a tenants <<<"${CELL_TENANTS[${cell}]:-}"
    for org in "${tenants[@]}"; do
      # A fixed request id: a replay returns the organisation and changes nothing.
      admin orgs create "${org}" --name "${ORG_NAME[${org}]}" \
        --business-id "${ORG_BUSINESS_ID[${org}]}" --region "${cell}" \
        --request-id "local-org-${org}" >/dev/null || die "cannot create organisation ${org}"
      all_tenants+=("${org}")
    done
  done
  if [[ ! -s "${operator_key_file}" ]]; then
    roles=()
    for role in "${OPERATOR_ROLES[@]}"; do
      roles+=(--role "${role}")
    done
    regions=()
    for cell in "${CELLS[@]}"; do
      regions+=(--region "${cell}")
    done
    rm -f "${operator_key_file}"
    admin keys issue "${roles[@]}" "${regions[@]}" \
      --description "demo operator key (deploy/local/run.sh)" \
      --key-file "${operator_key_file}" >/dev/null || die "cannot issue the demo operator key"
    say "demo operator key issued (${shown_state}/secrets/operator_api_key)"
  fi
  # Demo data: fixed request ids make this a no-op when it is already there.
  tenant_list=$(IFS=,; echo "${all_tenants[*]}")
  say "seeding the demo through the gateway (${tenant_list})"
  run_tahectl --addr "${gateway_addr}" --api-key-file "${operator_key_file}" --timeout 30s \
    seed-demo --tenants "${tenant_list}"
fi

# .tahe/local.env: TAHE_<SERVICE>_ADDR is the first cell's; every cell also gets
# TAHE_<SERVICE>_ADDR_<CELL>. TAHE_METRICS_URLS lists every process.
metrics_urls=()
{
  echo "# Written by deploy/local/run.sh; load with: set -a; . ${shown_state}/local.env; set +a"
  echo "TAHE_GATEWAY_ADDR=${gateway_addr}"
  if [[ -s "${operator_key_file}" ]]; then
    echo "TAHE_API_KEY=$(<"${operator_key_file}")"
  fi
  echo "TAHE_ADMIN_API_KEY_FILE=${admin_key_file}"
  for service in "${SERVICES[@]}"; do
    echo "TAHE_${service^^}_ADDR=${grpc_addr[$(proc_name "${CELLS[0]}" "${service}")]}"
    for cell in "${CELLS[@]}"; do
      echo "TAHE_${service^^}_ADDR_$(env_suffix "${cell}")=${grpc_addr[$(proc_name "${cell}" "${service}")]}"
    done
  done
  echo "TAHE_PG_HOST=127.0.0.1"
  echo "TAHE_PG_PORT=${pg_port}"
  echo "TAHE_PG_USER=tahe_owner"
  echo "TAHE_PG_PASSWORD=${owner_password}"
  echo "TAHE_INTERNAL_TOKEN_FILE=${token_file}"
  if ((tls)); then
    echo "TAHE_TLS_CA_FILE=${tls_dir}/ca.pem"
    echo "TAHE_TLS_CLIENT_CERT_FILE=${tls_dir}/tahectl.pem"
    echo "TAHE_TLS_CLIENT_KEY_FILE=${tls_dir}/tahectl.key"
  fi
  metrics_urls+=("http://${metrics_addr[${gateway_name}]}/metrics")
  while read -r cell service; do
    metrics_urls+=("http://${metrics_addr[$(proc_name "${cell}" "${service}")]}/metrics")
  done < <(all_processes)
  echo "TAHE_METRICS_URLS=\"${metrics_urls[*]}\""
} >"${env_file}.tmp"
chmod 600 "${env_file}.tmp"
mv "${env_file}.tmp" "${env_file}"

{
  echo "Tahe local suite (${root})$( ((tls)) && echo ", TLS on (CA ${shown_state}/tls/ca.pem)")"
  printf '  %-22s 127.0.0.1:%-7s user tahe_owner (password in %s/local.env)  log %s/logs/postgres.log\n' \
    PostgreSQL "${pg_port}" "${shown_state}" "${shown_state}"
  printf '  %-22s gRPC %-17s metrics http://%s/metrics  log %s/logs/%s.log\n' \
    "${gateway_name}" "${gateway_addr}" "${metrics_addr[${gateway_name}]}" "${shown_state}" \
    "${gateway_name}"
  while read -r cell service; do
    name=$(proc_name "${cell}" "${service}")
    printf '  %-22s gRPC %-17s metrics http://%s/metrics  log %s/logs/%s.log\n' \
      "${name}" "${grpc_addr[${name}]}" "${metrics_addr[${name}]}" "${shown_state}" "${name}"
  done < <(all_processes)
  for cell in "${CELLS[@]}"; do
    [[ -z "${CELL_TENANTS[${cell}]:-}" ]] || echo "  demo tenants in ${cell}: ${CELL_TENANTS[${cell}]}"
  done
  echo "  environment: set -a; . ${shown_state}/local.env; set +a"
  echo "  then try:    ${tahectl#"${root}/"} --tenant lahti ledger trial-balance"
  echo "               ${tahectl#"${root}/"} admin orgs list"
  echo "  stop:        deploy/local/run.sh --stop  (or Ctrl-C when it runs in the foreground)"
} >"${summary_file}"
cat "${summary_file}"

trap - EXIT INT TERM HUP PIPE
if [[ "${mode}" == "detach" ]]; then
  exit 0
fi

# --- Foreground: wait for Ctrl-C / SIGTERM, or for a service to die ----------------------------

echo $$ >"${launcher_pid_file}"
exec 9>&-  # --stop may now take the lock.
stop_requested=0
trap 'stop_requested=1' INT TERM HUP
trap '' PIPE # output may go nowhere once the terminal is gone; keep running and stop in order
say "running; press Ctrl-C to stop"
status=0
while ((stop_requested == 0)); do
  # Returns when a service exits or when a trapped signal arrives.
  wait -n "${started_pids[@]}" 2>/dev/null || true
  ((stop_requested == 0)) || break
  while read -r name; do
    if ! live_pid "${run_dir}/${name}.pid" "${service_marker}" >/dev/null; then
      say "${name} exited unexpectedly; last lines of ${shown_state}/logs/${name}.log:"
      tail -n 20 "${log_dir}/${name}.log" >&2 || true
      status=1
    fi
  done < <(echo "${gateway_name}"; all_processes | while read -r c s; do proc_name "${c}" "${s}"; done)
  ((status == 0)) || break
done
trap '' INT TERM HUP # a second Ctrl-C must not interrupt the orderly stop
stop_services
stop_postgres
rm -f "${launcher_pid_file}"
say "stopped"
exit "${status}"
