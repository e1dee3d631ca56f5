# Sourced by the end-to-end tests that run the local suite (deploy/local/run.sh) in a state
# directory of their own:
#
#   root=...; build=...; tahectl=...
#   source "${root}/tests/e2e/e2e_lib.sh"
#   e2e_begin invoicing            # ${state}, the traps, a clean environment
#   e2e_start_suite                # run.sh --detach --no-build; TAHE_LOCAL_ENV=${state}/local.env
#   ... fail, step, json_get, until_true, remember_cmdline, restart, serving ...
#
# On exit the suite is stopped (and any process restart started), the state directory removed;
# after a failure the last lines of every log are printed first.

# e2e_begin NAME: a fresh state directory and the exit traps.
e2e_begin() {
  e2e_name=$1
  state=$(mktemp -d "${TMPDIR:-/tmp}/tahe-e2e-${e2e_name}.XXXXXX")
  chmod 755 "${state}" # PostgreSQL may run as the postgres user when we are root
  export TAHE_LOCAL_DIR=${state} TAHE_BUILD_DIR=${build} TAHE_LOCAL_ENV=/dev/null
  unset TAHE_API_KEY TAHE_API_KEY_FILE TAHE_ADMIN_API_KEY TAHE_ADMIN_API_KEY_FILE TAHE_TENANT \
    TAHE_GATEWAY_ADDR TAHE_LEDGER_ADDR TAHE_INTERNAL_TOKEN TAHE_INTERNAL_TOKEN_FILE
  restarted=()
  trap e2e_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
}

e2e_cleanup() {
  local status=$? pid log
  for pid in "${restarted[@]}"; do
    kill -TERM "${pid}" 2>/dev/null || true
  done
  if ((status != 0)); then
    for log in "${state}"/logs/*.log; do
      [[ -f "${log}" ]] || continue
      echo "--- ${log}" >&2
      tail -n 40 "${log}" >&2 || true
    done
  fi
  bash "${root}/deploy/local/run.sh" --stop >/dev/null 2>&1 || true
  rm -rf "${state}"
  exit "${status}"
}

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

step() { echo "${e2e_name} e2e: --- $*"; }

# e2e_start_suite: the suite, detached, with the demo; its local.env for tahectl from then on.
e2e_start_suite() {
  bash "${root}/deploy/local/run.sh" --detach --no-build >"${state}/launcher.out" 2>&1 || {
    cat "${state}/launcher.out" >&2
    fail "run.sh --detach failed"
  }
  export TAHE_LOCAL_ENV=${state}/local.env
}

# local_env NAME: a value of local.env.
local_env() { grep "^$1=" "${state}/local.env" | cut -d= -f2-; }

# json_get JSON EXPR: EXPR evaluated in Python with the parsed JSON as d.
json_get() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2" <<<"$1"
}

# until_true SECONDS DESCRIPTION COMMAND...: runs COMMAND every half second until it succeeds.
until_true() {
  local seconds=$1 what=$2 deadline
  shift 2
  deadline=$((SECONDS + seconds))
  until "$@"; do
    ((SECONDS < deadline)) || fail "${what}: not so after ${seconds}s"
    sleep 0.5
  done
}

# remember_cmdline NAME: the command line of process NAME (ledger-paijat-hame, ...) as run.sh
# started it, so that restart can start it again the same way after a kill.
remember_cmdline() {
  tr '\0' '\n' <"/proc/$(<"${state}/run/$1.pid")/cmdline" >"${state}/$1.cmdline"
}

# restart NAME: starts process NAME again with its remembered command line; run.sh --stop stops
# it like the others.
restart() {
  local name=$1 args=()
  mapfile -t args <"${state}/${name}.cmdline"
  PGPASSFILE="${state}/secrets/pgpass" setsid "${args[@]}" >>"${state}/logs/${name}.log" 2>&1 \
    </dev/null &
  restarted+=($!)
  echo $! >"${state}/run/${name}.pid"
}

# serving ADDR: the gRPC server at ADDR answers SERVING.
serving() { "${tahectl}" --addr "$1" --timeout 2s health >/dev/null 2>&1; }
