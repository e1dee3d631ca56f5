#!/usr/bin/env bash
# Bad input through the gateway with real processes: starts the local suite with
# deploy/local/run.sh --detach (two cells, the gateway, its own PostgreSQL, the demo seed) in a
# state directory of its own (tests/e2e/e2e_lib.sh), runs tahe_badinput_test against it with
# local.env and TAHE_LOCAL_DIR in the environment, and always stops the suite. On failure it
# prints the end of every process's log.
#
#   bash tests/badinput/badinput_test.sh [Catch2 arguments]
#
# Environment: TAHE_BUILD_DIR (default build): the suite's binaries; TAHE_BADINPUT_TEST (default
# ${TAHE_BUILD_DIR}/tests/badinput/tahe_badinput_test): the test binary, which may come from
# another build directory. The gateway's rate limit is switched off for the run (thousands of
# calls in a few minutes); the test's own checks do not depend on it.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
test_binary=${TAHE_BADINPUT_TEST:-${build}/tests/badinput/tahe_badinput_test}
# shellcheck disable=SC2034  # e2e_lib.sh uses it
tahectl=${build}/tools/tahectl/tahectl
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin badinput
export TAHE_GATEWAY_RATE_PER_SECOND=0

[[ -x "${test_binary}" ]] || fail "${test_binary} was not built"

step "the suite comes up (run.sh --detach)"
e2e_start_suite

set -a
# shellcheck source=/dev/null disable=SC2154  # e2e_begin sets state
source "${state}/local.env"
set +a

step "every method with hostile fields, through the gateway"
# Declaration order: setup and the first fingerprint, the calls, the comparison, health.
"${test_binary}" --order decl --reporter console "$@" || fail "tahe_badinput_test failed"

echo "badinput: passed"
