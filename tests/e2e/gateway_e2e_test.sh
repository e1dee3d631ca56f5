#!/usr/bin/env bash
# End-to-end test of the gateway with real processes: starts the suite with deploy/local/run.sh
# --detach (two cells, the gateway, its own PostgreSQL, the demo seed) in a state directory of its
# own, runs tahe_gateway_e2e_test against it with local.env in the environment, and always stops
# the suite. On failure it prints the end of every process's log.
#
# The gateway's rate limit is lowered for this run (TAHE_GATEWAY_RATE_PER_SECOND/_BURST, which
# run.sh passes on to the gateway) so that a few hundred calls are enough to exceed it; the test
# reads the same variables. Extra arguments go to the test binary (e.g. a Catch2 test name).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
test_binary=${build}/tests/e2e/tahe_gateway_e2e_test
state=$(mktemp -d "${TMPDIR:-/tmp}/tahe-e2e-gateway.XXXXXX")
chmod 755 "${state}" # PostgreSQL may run as the postgres user when we are root
export TAHE_LOCAL_DIR=${state} TAHE_BUILD_DIR=${build}
export TAHE_GATEWAY_RATE_PER_SECOND=50 TAHE_GATEWAY_RATE_BURST=100

print_logs() {
  local log
  for log in "${state}"/logs/*.log; do
    [[ -f "${log}" ]] || continue
    echo "--- last lines of ${log}" >&2
    tail -n 60 "${log}" >&2 || true
  done
}

cleanup() {
  local status=$?
  if ((status != 0)); then
    print_logs
  fi
  bash "${root}/deploy/local/run.sh" --stop >"${state}/stop.out" 2>&1 || {
    cat "${state}/stop.out" >&2
    status=1
  }
  rm -rf "${state}"
  exit "${status}"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

[[ -x "${test_binary}" ]] || fail "${test_binary} was not built"

bash "${root}/deploy/local/run.sh" --detach --no-build >"${state}/launcher.out" 2>&1 ||
  {
    cat "${state}/launcher.out" >&2
    fail "run.sh --detach failed"
  }

set -a
# shellcheck source=/dev/null
source "${state}/local.env"
set +a

# Declaration order: the last test case kills a cell's ledger.
"${test_binary}" --order decl --reporter console "$@" ||
  fail "tahe_gateway_e2e_test failed"

echo "gateway end-to-end: passed"
