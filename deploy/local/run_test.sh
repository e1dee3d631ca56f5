#!/usr/bin/env bash
# Tests deploy/local/run.sh end to end with a stand-in ledger in both cells
# (tahectl_fake_ledger_server, same flags as the real one; it checks the database roles the
# launcher set up), the real payroll, invoicing and reporting, behind the real gateway, in a
# state directory of its own, so a developer's .tahe/ is never touched. Registered with ctest as
# deploy_local_launcher; by hand:
#
#   TAHE_BUILD_DIR=$PWD/build bash deploy/local/run_test.sh
#
# Covers: a service that dies at start-up (the launcher fails and stops PostgreSQL), --detach
# (health, metrics, directory and demo data through the gateway, local.env, secrets, keys,
# password auth), a second run while up,
# --stop, restart on the remembered ports, and the foreground mode stopped by --stop, by SIGTERM,
# and by a crashing service.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "${root}/tests/pg/lib.sh"

build=$(realpath -m "${TAHE_BUILD_DIR:-${root}/build}")
export TAHE_BUILD_DIR="${build}"
export TAHE_LOCAL_BIN_LEDGER="${TAHE_LOCAL_BIN_LEDGER:-${build}/tools/tahectl/tahectl_fake_ledger_server}"
tahectl="${build}/tools/tahectl/tahectl"
[[ -x "${TAHE_LOCAL_BIN_LEDGER}" && -x "${tahectl}" ]] ||
  tahe_die "build tahectl and tahectl_fake_ledger_server in ${build} first"

# The postgres user (when we are root) must reach the state directory: no 700 parents.
state=$(mktemp -d "${TMPDIR:-/tmp}/tahe-local-test.XXXXXX")
chmod 755 "${state}"
export TAHE_LOCAL_DIR="${state}"
# tahectl here reads only what this test gives it (the suite's local.env, once it exists).
export TAHE_LOCAL_ENV=/dev/null
unset TAHE_API_KEY TAHE_API_KEY_FILE TAHE_ADMIN_API_KEY TAHE_ADMIN_API_KEY_FILE TAHE_TENANT \
  TAHE_GATEWAY_ADDR TAHE_LEDGER_ADDR TAHE_INTERNAL_TOKEN TAHE_INTERNAL_TOKEN_FILE
launcher=(bash "${root}/deploy/local/run.sh" --no-build)
foreground_pid=""

cleanup() {
  local status=$?
  if [[ -n "${foreground_pid}" ]]; then
    kill -TERM "${foreground_pid}" 2>/dev/null || true
    wait "${foreground_pid}" 2>/dev/null || true
  fi
  "${launcher[@]}" --stop >/dev/null 2>&1 || true
  tahe_pg_stop "${state}/pg" 2>/dev/null || true
  rm -rf "${state}"
  if ((status == 0)); then
    echo "run_test.sh: all checks passed"
  else
    echo "run_test.sh: FAILED (status ${status})" >&2
  fi
  exit "${status}"
}
trap cleanup EXIT

fail() {
  echo "run_test.sh: FAIL: $*" >&2
  for log in "${state}"/logs/*.log; do
    [[ -f "${log}" ]] && {
      echo "--- ${log}" >&2
      tail -n 20 "${log}" >&2
    }
  done
  exit 1
}
step() { echo "run_test.sh: --- $*"; }

local_env() {
  # Prints one variable of local.env, as a shell that sources it would see it.
  (
    set -a
    # shellcheck source=/dev/null
    source "${state}/local.env"
    eval "echo \"\${$1}\""
  )
}

ledger_pid() { cat "${state}/run/ledger-paijat-hame.pid"; }
processes=(gateway ledger-paijat-hame payroll-paijat-hame invoicing-paijat-hame
  reporting-paijat-hame ledger-pohjanmaa payroll-pohjanmaa invoicing-pohjanmaa reporting-pohjanmaa)

expect_all_stopped() {
  local name
  for name in "${processes[@]}"; do
    if [[ -f "${state}/run/${name}.pid" ]]; then
      fail "the pid file of ${name} is still there"
    fi
  done
  if pgrep -f -- "--internal_token_file=${state}/internal_token" >/dev/null; then
    fail "a service of this test still runs"
  fi
  if tahe_pg_is_running "${state}/pg"; then
    fail "PostgreSQL still runs"
  fi
}

# HTTP GET on loopback with bash's /dev/tcp (no curl needed).
http_get() {
  local host=${1%%:*} rest=${1#*:} port path
  port=${rest%%/*}
  path=/${rest#*/}
  exec 3<>"/dev/tcp/${host}/${port}"
  printf 'GET %s HTTP/1.0\r\nHost: %s\r\n\r\n' "${path}" "${host}" >&3
  cat <&3
  exec 3<&-
}

step "a service that dies at start-up fails the launcher, which stops what it started"
if output=$(TAHE_LOCAL_BIN_LEDGER=/bin/false "${launcher[@]}" --detach 2>&1); then
  fail "the launcher succeeded with a ledger that exits at once"
fi
grep -q "ledger-paijat-hame exited during start-up" <<<"${output}" ||
  fail "no start-up failure message in: ${output}"
expect_all_stopped

step "--detach starts PostgreSQL, two cells and the gateway, seeds the demo and returns"
output=$("${launcher[@]}" --detach 2>&1) || fail "--detach failed: ${output}"
for tenant in lahti phhyky vaasa seinajoki; do
  grep -q "${tenant}: chart fi-municipal" <<<"${output}" ||
    fail "no seed summary for ${tenant}: ${output}"
done
[[ "$(stat -c %a "${state}/local.env")" == 600 ]] || fail "local.env is not mode 600"
for key in admin_api_key operator_api_key; do
  [[ "$(stat -c %a "${state}/secrets/${key}")" == 600 ]] || fail "${key} is not mode 600"
  grep -Eq '^tahe_[0-9a-f]{12}_[0-9a-f]{64}$' "${state}/secrets/${key}" ||
    fail "${key} is not an API key"
done
gateway=$(local_env TAHE_GATEWAY_ADDR)
[[ -n "${gateway}" && "$(local_env TAHE_API_KEY)" == "$(<"${state}/secrets/operator_api_key")" ]] ||
  fail "local.env lacks TAHE_GATEWAY_ADDR or the operator key"
[[ "$("${tahectl}" health --addr "${gateway}")" == SERVING ]] || fail "the gateway is not SERVING"
export TAHE_LOCAL_ENV="${state}/local.env"
orgs=$("${tahectl}" admin orgs list) || fail "admin orgs list failed"
grep -Eq '^vaasa +Vaasan kaupunki +0209602-6 +pohjanmaa ' <<<"${orgs}" ||
  fail "vaasa is not in region pohjanmaa: ${orgs}"
grep -Eq '^lahti +.* paijat-hame ' <<<"${orgs}" || fail "lahti is not in paijat-hame: ${orgs}"
regions=$("${tahectl}" admin regions list) || fail "admin regions list failed"
for cell in PAIJAT_HAME POHJANMAA; do
  grep -qF "tahe.ledger.v1=$(local_env "TAHE_LEDGER_ADDR_${cell}")" <<<"${regions}" ||
    fail "the ${cell} ledger address is not registered: ${regions}"
  grep -qF "tahe.invoicing.v1=$(local_env "TAHE_INVOICING_ADDR_${cell}")" <<<"${regions}" ||
    fail "the ${cell} invoicing address is not registered: ${regions}"
  grep -qF "tahe.reporting.v1=$(local_env "TAHE_REPORTING_ADDR_${cell}")" <<<"${regions}" ||
    fail "the ${cell} reporting address is not registered: ${regions}"
done
# The operator key is not an admin key.
if out=$(TAHE_ADMIN_API_KEY_FILE='' "${tahectl}" admin orgs list 2>&1); then
  fail "the operator key could call the admin API"
fi
grep -q PERMISSION_DENIED <<<"${out}" || fail "expected PERMISSION_DENIED, got: ${out}"
[[ "$(stat -c %a "${state}/internal_token")" == 600 ]] || fail "internal_token is not mode 600"
[[ "$(stat -c %a "${state}/secrets/pg_tahe_owner")" == 600 ]] || fail "a password is not mode 600"
grep -Eq '^[0-9a-f]{32}$' "${state}/internal_token" || fail "the token is not 32 hex digits"
addr=$(local_env TAHE_LEDGER_ADDR)
[[ "${addr}" == "$(local_env TAHE_LEDGER_ADDR_PAIJAT_HAME)" ]] || fail "cell address differs"
[[ "$(local_env TAHE_PG_USER)" == tahe_owner ]] || fail "TAHE_PG_USER is not tahe_owner"
[[ "$(local_env TAHE_INTERNAL_TOKEN_FILE)" == "${state}/internal_token" ]] ||
  fail "TAHE_INTERNAL_TOKEN_FILE is not the absolute token path"
[[ "$("${tahectl}" health --addr "${addr}")" == SERVING ]] || fail "the ledger is not SERVING"
read -r -a metrics_urls <<<"$(local_env TAHE_METRICS_URLS)"
((${#metrics_urls[@]} == 9)) || fail "TAHE_METRICS_URLS does not list 9 processes"
http_get "${metrics_urls[0]#http://}" | grep -q '^tahe_gateway_requests_total' ||
  fail "no gateway metrics at ${metrics_urls[0]}"
# Then per cell: the stand-in ledger, the real payroll, invoicing and reporting.
for i in 1 5; do
  http_get "${metrics_urls[i]#http://}" | grep -q '^tahe_fake_ledger_starts_total 1' ||
    fail "no ledger metrics at ${metrics_urls[i]}"
  http_get "${metrics_urls[i + 1]#http://}" | grep -q '^tahe_payroll_outbox_backlog_messages' ||
    fail "no payroll metrics at ${metrics_urls[i + 1]}"
  http_get "${metrics_urls[i + 2]#http://}" | grep -q '^tahe_invoicing_outbox_backlog_messages' ||
    fail "no invoicing metrics at ${metrics_urls[i + 2]}"
  http_get "${metrics_urls[i + 3]#http://}" | grep -q '^tahe_reporting_feed_lag_events' ||
    fail "no reporting metrics at ${metrics_urls[i + 3]}"
done
# Through the gateway with the operator key, and straight to the cell with the internal token.
entries=$("${tahectl}" --tenant phhyky ledger entries) || fail "cannot list entries"
grep -q '^10 entries$' <<<"${entries}" || fail "phhyky does not have the 10 demo entries"
entries=$("${tahectl}" --addr "$(local_env TAHE_LEDGER_ADDR_POHJANMAA)" \
  --internal-token-file "${state}/internal_token" --tenant vaasa ledger entries) ||
  fail "cannot list entries in the pohjanmaa cell"
grep -q '^10 entries$' <<<"${entries}" || fail "vaasa does not have the 10 demo entries"
grep -q '^database check passed: tahe_ledger reads what tahe_owner created' \
  "${state}/logs/ledger-paijat-hame.log" || fail "the stand-in's database check did not pass"
# TCP logins need the right password (scram-sha-256); the superuser cannot log in over TCP.
pg_port=$(local_env TAHE_PG_PORT)
PGPASSWORD=$(local_env TAHE_PG_PASSWORD) "${TAHE_PG_BINDIR}/psql" -h 127.0.0.1 -p "${pg_port}" \
  -U tahe_owner -d tahe_paijat_hame_ledger -Atc "SELECT 1" >/dev/null ||
  fail "tahe_owner cannot log in with the password in local.env"
if PGPASSWORD=wrong "${TAHE_PG_BINDIR}/psql" -h 127.0.0.1 -p "${pg_port}" -U tahe_owner \
  -d postgres -Atc "SELECT 1" >/dev/null 2>&1; then
  fail "a wrong password was accepted"
fi
if PGPASSWORD=x "${TAHE_PG_BINDIR}/psql" -h 127.0.0.1 -p "${pg_port}" -U tahe_admin \
  -d postgres -Atc "SELECT 1" >/dev/null 2>&1; then
  fail "the superuser logged in over TCP"
fi
first_pid=$(ledger_pid)

step "a second run while the suite is up says so and changes nothing"
output=$("${launcher[@]}" --detach 2>&1) || fail "the second run failed: ${output}"
grep -q "already running" <<<"${output}" || fail "no 'already running' in: ${output}"
[[ "$(ledger_pid)" == "${first_pid}" ]] || fail "the ledger was restarted"

step "--stop stops the ledger and PostgreSQL, whatever binary the ledger was"
env -u TAHE_LOCAL_BIN_LEDGER "${launcher[@]}" --stop >/dev/null 2>&1 || fail "--stop failed"
expect_all_stopped
output=$("${launcher[@]}" --stop 2>&1) || fail "a second --stop failed"
grep -q "not running" <<<"${output}" || fail "no 'not running' in: ${output}"

step "a restart reuses the cluster, the keys and the remembered ports"
output=$("${launcher[@]}" --detach --no-seed 2>&1) || fail "restart failed: ${output}"
[[ "$(local_env TAHE_LEDGER_ADDR)" == "${addr}" ]] || fail "the ledger moved to another port"
[[ "$(local_env TAHE_GATEWAY_ADDR)" == "${gateway}" ]] || fail "the gateway moved to another port"
[[ "$(local_env TAHE_PG_PORT)" == "${pg_port}" ]] || fail "PostgreSQL moved to another port"
"${tahectl}" --tenant lahti ledger entries >/dev/null || fail "the operator key stopped working"
"${launcher[@]}" --stop >/dev/null 2>&1 || fail "--stop failed"
expect_all_stopped

# Starts a foreground launcher and waits until the suite is up.
start_foreground() {
  "${launcher[@]}" --no-seed >"${state}/foreground.out" 2>&1 &
  foreground_pid=$!
  local deadline=$((SECONDS + 120))
  until [[ -f "${state}/run/launcher.pid" ]]; do
    kill -0 "${foreground_pid}" 2>/dev/null ||
      fail "the foreground launcher exited: $(cat "${state}/foreground.out")"
    ((SECONDS < deadline)) || fail "the foreground launcher did not come up"
    sleep 0.2
  done
}

# Waits for the foreground launcher to exit and checks its exit status.
expect_foreground_exit() {
  local want=$1 got=0
  wait "${foreground_pid}" || got=$?
  foreground_pid=""
  ((got == want)) || fail "the foreground launcher exited ${got}, not ${want}:
$(cat "${state}/foreground.out")"
  expect_all_stopped
}

step "foreground: --stop from elsewhere stops it cleanly"
start_foreground
"${launcher[@]}" --stop >/dev/null 2>&1 || fail "--stop of the foreground launcher failed"
expect_foreground_exit 0

step "foreground: SIGTERM stops it cleanly"
start_foreground
kill -TERM "${foreground_pid}"
expect_foreground_exit 0

step "foreground: a crashing service stops the suite with an error"
start_foreground
kill -KILL "$(ledger_pid)"
expect_foreground_exit 1
grep -q "ledger-paijat-hame exited unexpectedly" "${state}/foreground.out" ||
  fail "no crash message: $(cat "${state}/foreground.out")"

step "foreground: a crashing gateway stops the suite with an error too"
start_foreground
kill -KILL "$(cat "${state}/run/gateway.pid")"
expect_foreground_exit 1
grep -q "gateway exited unexpectedly" "${state}/foreground.out" ||
  fail "no crash message: $(cat "${state}/foreground.out")"
