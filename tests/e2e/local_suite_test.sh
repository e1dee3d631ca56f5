#!/usr/bin/env bash
# End-to-end test of the real suite as a user runs it: deploy/local/run.sh --detach with the real
# ledger binary, its own PostgreSQL and the demo seed, in a state directory of its own. Checks what
# the README promises: health SERVING, reflection lists the ledger, every metrics URL passes
# `promtool check metrics` and has grpc_server_handled_total, the demo books balance and their
# hash chains verify, and calls without the internal credential are refused.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
state=$(mktemp -d "${TMPDIR:-/tmp}/tahe-e2e.XXXXXX")
chmod 755 "${state}"  # PostgreSQL may run as the postgres user when we are root
export TAHE_LOCAL_DIR=${state} TAHE_BUILD_DIR=${build}

cleanup() {
  local status=$?
  bash "${root}/deploy/local/run.sh" --stop >/dev/null 2>&1 || status=1
  rm -rf "${state}"
  exit "${status}"
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  exit 1
}

bash "${root}/deploy/local/run.sh" --detach --no-build >"${state}/launcher.out" 2>&1 ||
  { cat "${state}/launcher.out" >&2; fail "run.sh --detach failed"; }

set -a
# shellcheck source=/dev/null
source "${state}/local.env"
set +a

[[ -n ${TAHE_LEDGER_ADDR:-} ]] || fail "local.env has no TAHE_LEDGER_ADDR"
[[ $("${tahectl}" health) == SERVING ]] || fail "ledger health is not SERVING"
[[ $("${tahectl}" health --service tahe.ledger.v1.LedgerService) == SERVING ]] ||
  fail "tahe.ledger.v1.LedgerService health is not SERVING"
"${tahectl}" reflection | grep -qx 'tahe.ledger.v1.LedgerService' ||
  fail "reflection does not list tahe.ledger.v1.LedgerService"

count=0
for url in ${TAHE_METRICS_URLS}; do
  curl -fsS "${url}" >"${state}/metrics.txt" || fail "cannot fetch ${url}"
  promtool check metrics <"${state}/metrics.txt" || fail "promtool rejects ${url}"
  grep -q '^grpc_server_handled_total{' "${state}/metrics.txt" ||
    fail "${url} has no grpc_server_handled_total"
  count=$((count + 1))
done
((count >= 1)) || fail "TAHE_METRICS_URLS is empty"

for tenant in lahti phhyky; do
  tb=$("${tahectl}" --tenant "${tenant}" ledger trial-balance)
  total=$(grep '^Total' <<<"${tb}") || fail "no total in the trial balance of ${tenant}"
  # Columns are separated by two or more spaces; amounts group thousands with single spaces.
  IFS='|' read -r _ debit credit net <<<"$(sed -E 's/ {2,}/|/g' <<<"${total}")"
  [[ ${debit} == "${credit}" && ${net} == 0.00 && ${debit} != 0.00 ]] ||
    fail "trial balance of ${tenant} does not balance or is empty: ${total}"
  "${tahectl}" --tenant "${tenant}" ledger verify-chain >/dev/null ||
    fail "hash chain of ${tenant} does not verify"
done

# The backend refuses callers without the internal credential.
if out=$(env -u TAHE_INTERNAL_TOKEN -u TAHE_INTERNAL_TOKEN_FILE "${tahectl}" --tenant lahti \
  ledger accounts 2>&1); then
  fail "a call without the internal credential succeeded"
fi
grep -q UNAUTHENTICATED <<<"${out}" || fail "expected UNAUTHENTICATED, got: ${out}"

echo "local suite end-to-end: 1 passed, 0 failed"
