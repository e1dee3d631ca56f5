# shellcheck shell=bash
# shellcheck disable=SC2034,SC2154  # variables shared with the script that sources it
# What the benchmark scripts (run_ledger_bench.sh, run_gateway_bench.sh, run_payroll_bench.sh)
# share: their command line and usage, the build, a work directory with a throwaway PostgreSQL
# that is stopped (with every process the script started) on exit, waiting for a service to
# serve, RESULT lines, CPU accounting, and the facts a summary names (commit, machine). Source it
# after tests/pg/lib.sh, with `repo` set to the repository root. It defines functions only; the
# bench_* ones set the variables they name.
#
#   command_line=$(bench_command_line run_ledger_bench.sh "$@")
#   bench_build tahe_ledger tahe_ledger_load      # sets build_dir, build_type
#   bench_make_work tahe-bench                     # sets work, pg_dir; cleans up on exit
#   bench_start_pg                                 # sets pg_host, pg_port, pg_user, postmaster_pid
#   "${ledger_bin}" ... & bench_track $!           # stopped on exit, in reverse order

# The command that ran SCRIPT with ARGS, for the summary: "bash tests/bench/SCRIPT ARGS", each
# argument with white space in it quoted.
# Usage: bench_command_line SCRIPT [ARGS...]
bench_command_line() {
  local line="bash tests/bench/$1" arg
  shift
  for arg in "$@"; do
    if [[ "${arg}" =~ [[:space:]] ]]; then
      line+=" '${arg}'"
    else
      line+=" ${arg}"
    fi
  done
  echo "${line}"
}

# Prints the calling script's header comment (from line 2 to `set -euo pipefail`) and exits 2.
bench_usage() {
  sed -n '2,/^set -euo/p' "${BASH_SOURCE[1]}" | sed '$d; s/^# \{0,1\}//'
  exit 2
}

say() { echo "== $*" >&2; }
# calc FORMAT EXPRESSION: the awk expression, printed with the printf FORMAT.
calc() { awk "BEGIN { printf \"$1\", $2 }"; }
# Seconds (with fractions) since the epoch.
now() { date +%s.%N; }

# Builds TARGETs with cmake in $TAHE_BUILD_DIR (default build/, configured RelWithDebInfo with
# Ninja if it is not yet). Sets build_dir and build_type.
# Usage: bench_build TARGET...
bench_build() {
  build_dir=${TAHE_BUILD_DIR:-build}
  [[ "${build_dir}" = /* ]] || build_dir="${repo}/${build_dir}"
  local build_log
  build_log=$(mktemp "${TMPDIR:-/tmp}/tahe-bench-build.XXXXXX")
  if [[ ! -f "${build_dir}/CMakeCache.txt" ]]; then
    say "configuring ${build_dir}"
    cmake -G Ninja -S "${repo}" -B "${build_dir}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
      >"${build_log}" 2>&1 || { tail -n 40 "${build_log}" >&2; tahe_die "cmake configure failed"; }
  fi
  say "building $* in ${build_dir}"
  cmake --build "${build_dir}" -j"$(nproc)" --target "$@" >"${build_log}" 2>&1 ||
    { tail -n 40 "${build_log}" >&2; tahe_die "build failed"; }
  rm -f "${build_log}"
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "${build_dir}/CMakeCache.txt")
}

bench_pids=()
# Stops PID (SIGTERM, then waits for it) on exit, before the processes tracked earlier.
bench_track() { bench_pids+=("$1"); }

# shellcheck disable=SC2317  # invoked by bench_cleanup
bench_stop_process() {  # bench_stop_process PID: SIGTERM, then wait for it
  if [[ -n "$1" ]] && kill -0 "$1" 2>/dev/null; then
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
  fi
}

# shellcheck disable=SC2317  # invoked by the trap
bench_cleanup() {
  local status=$? i
  for ((i = ${#bench_pids[@]} - 1; i >= 0; i--)); do
    bench_stop_process "${bench_pids[i]}"
  done
  bash "${repo}/tests/pg/stop.sh" "${pg_dir}" >/dev/null 2>&1 || status=1
  if ((${keep:-0})); then
    echo "work directory kept: ${work}" >&2
  else
    rm -rf "${work}"
  fi
  exit "${status}"
}

# Makes the work directory ${TMPDIR:-/tmp}/PREFIX.XXXXXX with PostgreSQL's directory in it, and
# the traps that stop everything and remove it (unless keep=1) however the script ends.
# Sets work and pg_dir. Usage: bench_make_work PREFIX
bench_make_work() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/$1.XXXXXX")
  chmod 755 "${work}"  # the postgres user (when we are root) must reach ${work}/pg
  pg_dir="${work}/pg"
  trap bench_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

# Starts PostgreSQL in ${pg_dir} (tests/pg/start.sh) and exports its environment. Sets pg_host,
# pg_port, pg_user (a superuser) and postmaster_pid.
bench_start_pg() {
  say "starting PostgreSQL in ${pg_dir}"
  bash "${repo}/tests/pg/start.sh" "${pg_dir}" >/dev/null
  set -a
  # shellcheck source=/dev/null
  source "${pg_dir}/env"
  set +a
  pg_host=${TAHE_TEST_PG_HOST}
  pg_port=${TAHE_TEST_PG_PORT}
  pg_user=${TAHE_TEST_PG_USER}
  postmaster_pid=$(head -1 "${pg_dir}/data/postmaster.pid")
}

psql_db() {  # psql_db DBNAME [ARGS...]: as the superuser over TCP, stop at the first error
  local db=$1
  shift
  "${TAHE_PG_BINDIR}/psql" -h "${pg_host}" -p "${pg_port}" -U "${pg_user}" -d "${db}" -X -q \
    -v ON_ERROR_STOP=1 "$@"
}
checkpoint() { psql_db postgres -c "CHECKPOINT" >/dev/null; }

# Writes BYTES (default 24) random bytes as hex to PATH, readable by us only: a credential.
# Usage: bench_secret_file PATH [BYTES]
bench_secret_file() {
  (umask 077 && head -c "${2:-24}" /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
}

# conninfo of DBNAME for USER on our cluster: bench_conninfo USER DBNAME
bench_conninfo() { echo "host=${pg_host} port=${pg_port} user=$1 dbname=$2"; }

# The database tahe_SERVICE of a service of ours, and its roles as the service's migrations
# expect them: the group tahe_SERVICE_app and the login role tahe_SERVICE_bench, a member of it
# that owns nothing (so the service runs under row-level security).
# Usage: bench_create_service_db SERVICE
bench_create_service_db() {
  psql_db postgres <<SQL
CREATE ROLE tahe_$1_app NOLOGIN;
CREATE ROLE tahe_$1_bench LOGIN IN ROLE tahe_$1_app;
CREATE DATABASE tahe_$1;
SQL
}

# Starts tahe_SERVICE (the binary BIN) on free loopback ports, on its database
# (bench_create_service_db) as tahe_SERVICE_bench, migrated as the superuser, with the internal
# credential in ${token_file} and any FLAGs, logging to ${work}/SERVICE.log; tracks it
# (bench_track) and waits until it logs "SERVICE serving". Sets service_pid, service_addr (gRPC)
# and service_metrics (the /metrics URL).
# Usage: bench_start_service SERVICE BIN [FLAG...]
bench_start_service() {
  local service=$1 bin=$2 log="${work}/$1.log"
  shift 2
  say "starting tahe_${service}"
  : >"${log}"  # exists before the background process opens it, for bench_wait_serving
  "${bin}" --listen=127.0.0.1:0 --metrics_listen=127.0.0.1:0 \
    --db_url="$(bench_conninfo "tahe_${service}_bench" "tahe_${service}")" \
    --db_migrate_url="$(bench_conninfo "${pg_user}" "tahe_${service}")" \
    --internal_token_file="${token_file}" "$@" >"${log}" 2>&1 &
  service_pid=$!
  bench_track "${service_pid}"
  service_addr=$(bench_wait_serving "tahe_${service}" "${service_pid}" "${log}" \
    "${service} serving")
  service_metrics=$(bench_wait_serving "tahe_${service}" "${service_pid}" "${log}" \
    "${service} serving" metrics)
}

# Waits until the service logs its "MESSAGE" line and prints the address in its field FIELD
# (default grpc). Fails, with the log, if the process exits first or nothing comes in 60 s.
# Usage: bench_wait_serving NAME PID LOG MESSAGE [FIELD]
bench_wait_serving() {
  local name=$1 pid=$2 log=$3 message=$4 field=${5:-grpc} addr=""
  for _ in $(seq 1 600); do
    addr=$(sed -n "s/.*\"msg\":\"${message}\".*\"${field}\":\"\\([^\"]*\\)\".*/\\1/p" "${log}")
    [[ -z "${addr}" ]] || break
    kill -0 "${pid}" 2>/dev/null || { cat "${log}" >&2; tahe_die "${name} exited during start-up"; }
    sleep 0.1
  done
  [[ -n "${addr}" ]] || tahe_die "${name} did not start within 60 s (log: ${log})"
  echo "${addr}"
}

# The value of KEY in a `RESULT key=value ...` line of FILE: result_field FILE KEY
result_field() { sed -n "s/^RESULT .*\\b$2=\\([^ ]*\\).*/\\1/p" "$1"; }

# CPU seconds (user + system) used so far by a process, its reaped children included.
cpu_of() {
  awk -v hz="$(getconf CLK_TCK)" '{ print ($14 + $15 + $16 + $17) / hz }' "/proc/$1/stat"
}
# CPU seconds of a process and its live children (PostgreSQL backends, nginx workers).
cpu_of_tree() {
  local total pid
  total=$(cpu_of "$1")
  for pid in $(pgrep -P "$1"); do
    total=$(awk -v a="${total}" -v b="$(awk -v hz="$(getconf CLK_TCK)" \
      '{ print ($14 + $15) / hz }' "/proc/${pid}/stat" 2>/dev/null || echo 0)" \
      'BEGIN { print a + b }')
  done
  echo "${total}"
}
# CPU seconds the whole machine has been busy (every process, ours and anyone else's).
cpu_of_machine() {
  awk -v hz="$(getconf CLK_TCK)" '/^cpu / { print ($2 + $3 + $4 + $7 + $8 + $9) / hz }' /proc/stat
}

# Nearest-rank percentiles of the numbers (one a line) in FILEs, one for each of QUANTILES
# ("0.50 0.99"), on one line; zeros when there are none.
# Usage: percentiles QUANTILES FILE...
percentiles() {
  local quantiles=$1
  shift
  cat "$@" | sort -n | awk -v qs="${quantiles}" '
    { v[NR] = $1 }
    END { n = split(qs, q, " "); line = ""
          for (i = 1; i <= n; i++) {
            if (NR == 0) { x = 0 } else {
              r = int(NR * q[i]); if (r < NR * q[i]) r++; if (r < 1) r = 1; x = v[r] }
            line = line (i > 1 ? " " : "") x }
          print line }'
}

# The commit measured: its short hash, and "(with uncommitted changes)" when tracked files differ.
bench_commit() {
  local commit
  commit=$(git -C "${repo}" rev-parse --short HEAD 2>/dev/null || echo unknown)
  if [[ -n "$(git -C "${repo}" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
    commit+=" (with uncommitted changes)"
  fi
  echo "${commit}"
}
bench_cpu_model() { awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo; }
