#!/usr/bin/env bash
# End-to-end test of the real suite as a user runs it: deploy/local/run.sh --detach with the real
# binaries (two cells, "paijat-hame" and "pohjanmaa", behind the gateway), its own PostgreSQL and
# the demo seed, in a state directory of its own; then tahectl drives the whole demo through the
# gateway with nothing but local.env. Checks what the README promises: every process is SERVING
# and lists its services through reflection, every metrics URL passes `promtool check metrics`,
# the directory holds both regions (at the cells' addresses) and the four demo organisations,
# every demo book balances and its hash chain verifies, a JSON entry posted with tahectl moves its
# account's balance by its amount, a key issued for one organisation works for it alone and stops
# working once revoked, --json output is JSON, and a backend refuses calls without the internal
# credential.
#
# With TAHE_LOCAL_TLS=1 the same runs with the launcher's --tls (every call above over TLS, the
# backends requiring client certificates), and the test also checks that plaintext is refused by
# every process, a backend refuses a TLS client without a certificate, and every process exports
# its certificates' expiry.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
state=$(mktemp -d "${TMPDIR:-/tmp}/tahe-e2e.XXXXXX")
chmod 755 "${state}" # PostgreSQL may run as the postgres user when we are root
export TAHE_LOCAL_DIR=${state} TAHE_BUILD_DIR=${build}

cleanup() {
  local status=$?
  if ((status != 0)); then
    for log in "${state}"/logs/*.log; do
      [[ -f "${log}" ]] || continue
      echo "--- last lines of ${log}" >&2
      tail -n 40 "${log}" >&2 || true
    done
  fi
  bash "${root}/deploy/local/run.sh" --stop >/dev/null 2>&1 || status=1
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

# is_json TEXT: true if TEXT is one JSON document.
is_json() {
  python3 -c 'import json, sys; json.load(sys.stdin)' <<<"$1" 2>/dev/null
}

# json_get TEXT EXPR: evaluates the Python expression EXPR over the parsed JSON `d`.
json_get() {
  python3 -c 'import json, sys; d = json.load(sys.stdin); print(eval(sys.argv[1]))' "$2" <<<"$1"
}

bash "${root}/deploy/local/run.sh" --detach --no-build >"${state}/launcher.out" 2>&1 ||
  {
    cat "${state}/launcher.out" >&2
    fail "run.sh --detach failed"
  }

set -a
# shellcheck source=/dev/null
source "${state}/local.env"
set +a
# tahectl reads this suite's local.env, never a .tahe/local.env it might find above the working
# directory. (Set only now: run.sh's own tahectl calls would fail on a file that does not exist.)
export TAHE_LOCAL_ENV=${state}/local.env

for var in TAHE_GATEWAY_ADDR TAHE_API_KEY TAHE_ADMIN_API_KEY_FILE TAHE_LEDGER_ADDR \
  TAHE_LEDGER_ADDR_PAIJAT_HAME TAHE_LEDGER_ADDR_POHJANMAA TAHE_PAYROLL_ADDR_PAIJAT_HAME \
  TAHE_PAYROLL_ADDR_POHJANMAA TAHE_INTERNAL_TOKEN_FILE \
  TAHE_METRICS_URLS; do
  [[ -n ${!var:-} ]] || fail "local.env has no ${var}"
done
[[ $(stat -c %a "${state}/local.env") == 600 ]] || fail "local.env is not mode 600"
declare -A ledger_of=([paijat-hame]=${TAHE_LEDGER_ADDR_PAIJAT_HAME}
  [pohjanmaa]=${TAHE_LEDGER_ADDR_POHJANMAA})
declare -A payroll_of=([paijat-hame]=${TAHE_PAYROLL_ADDR_PAIJAT_HAME}
  [pohjanmaa]=${TAHE_PAYROLL_ADDR_POHJANMAA})
declare -A region_of=([lahti]=paijat-hame [phhyky]=paijat-hame [vaasa]=pohjanmaa
  [seinajoki]=pohjanmaa)
passed=0

# --- Every process: health, reflection, metrics ------------------------------------------------

# tahectl itself defaults to the gateway.
[[ $("${tahectl}" health) == SERVING ]] || fail "gateway health (default address) is not SERVING"
"${tahectl}" reflection | grep -qx 'tahe.gateway.v1.AdminService' ||
  fail "reflection on the gateway does not list tahe.gateway.v1.AdminService"
for region in paijat-hame pohjanmaa; do
  addr=${ledger_of[${region}]}
  [[ $("${tahectl}" --addr "${addr}" health) == SERVING ]] ||
    fail "ledger of ${region} (${addr}) is not SERVING"
  [[ $("${tahectl}" --addr "${addr}" health --service tahe.ledger.v1.LedgerService) == SERVING ]] ||
    fail "tahe.ledger.v1.LedgerService of ${region} is not SERVING"
  "${tahectl}" --addr "${addr}" reflection | grep -qx 'tahe.ledger.v1.LedgerService' ||
    fail "reflection on the ledger of ${region} does not list tahe.ledger.v1.LedgerService"
  addr=${payroll_of[${region}]}
  [[ $("${tahectl}" --addr "${addr}" health --service tahe.payroll.v1.PayrollService) == SERVING ]] ||
    fail "tahe.payroll.v1.PayrollService of ${region} (${addr}) is not SERVING"
done
health_json=$("${tahectl}" --json health) || fail "tahectl --json health failed"
is_json "${health_json}" || fail "tahectl --json health is not JSON: ${health_json}"
passed=$((passed + 1))

count=0
for url in ${TAHE_METRICS_URLS}; do
  curl -fsS "${url}" >"${state}/metrics.txt" || fail "cannot fetch ${url}"
  promtool check metrics <"${state}/metrics.txt" || fail "promtool rejects ${url}"
  grep -q '^grpc_server_handled_total{' "${state}/metrics.txt" ||
    fail "${url} has no grpc_server_handled_total"
  count=$((count + 1))
done
# The gateway, and each cell's ledger, payroll, invoicing and reporting.
((count == 9)) || fail "TAHE_METRICS_URLS lists ${count} URLs, want 9: ${TAHE_METRICS_URLS}"
# Into a file first: `curl | grep -q` fails under pipefail when grep stops reading early.
curl -fsS "${TAHE_METRICS_URLS%% *}" >"${state}/gateway-metrics.txt" ||
  fail "cannot fetch the gateway's metrics"
grep -q '^tahe_gateway_requests_total{' "${state}/gateway-metrics.txt" ||
  fail "the first metrics URL is not the gateway's"
passed=$((passed + 1))

# --- The directory, with the admin key from local.env ------------------------------------------

regions=$("${tahectl}" admin regions list) || fail "admin regions list failed"
for region in paijat-hame pohjanmaa; do
  grep -q "${region}" <<<"${regions}" || fail "admin regions list lacks ${region}: ${regions}"
done
regions_json=$("${tahectl}" --json admin regions list) || fail "admin regions list --json failed"
is_json "${regions_json}" || fail "admin regions list --json is not JSON: ${regions_json}"
for region in paijat-hame pohjanmaa; do
  got=$(json_get "${regions_json}" \
    "[r['serviceAddresses'].get('tahe.ledger.v1') for r in d['regions'] if r['slug'] == '${region}']")
  [[ ${got} == "['${ledger_of[${region}]}']" ]] ||
    fail "region ${region} routes tahe.ledger.v1 to ${got}, want ${ledger_of[${region}]}"
done

orgs=$("${tahectl}" admin orgs list) || fail "admin orgs list failed"
orgs_json=$("${tahectl}" --json admin orgs list) || fail "admin orgs list --json failed"
is_json "${orgs_json}" || fail "admin orgs list --json is not JSON: ${orgs_json}"
got=$(json_get "${orgs_json}" "sorted((o['slug'], o['region']) for o in d['organisations'])")
want="[('lahti', 'paijat-hame'), ('phhyky', 'paijat-hame'), ('seinajoki', 'pohjanmaa'), ('vaasa', 'pohjanmaa')]"
[[ ${got} == "${want}" ]] || fail "admin orgs list --json: ${got}, want ${want}"
for org in lahti phhyky vaasa seinajoki; do
  grep -q "${org}" <<<"${orgs}" || fail "admin orgs list lacks ${org}: ${orgs}"
done
passed=$((passed + 1))

# --- The demo books, with the operator key from local.env, through the gateway -----------------

for tenant in lahti phhyky vaasa seinajoki; do
  tb=$("${tahectl}" --tenant "${tenant}" ledger trial-balance) ||
    fail "trial balance of ${tenant} failed"
  total=$(grep '^Total' <<<"${tb}") || fail "no total in the trial balance of ${tenant}"
  # Columns are separated by two or more spaces; amounts group thousands with single spaces.
  IFS='|' read -r _ debit credit net <<<"$(sed -E 's/ {2,}/|/g' <<<"${total}")"
  [[ ${debit} == "${credit}" && ${net} == 0.00 && ${debit} != 0.00 ]] ||
    fail "trial balance of ${tenant} does not balance or is empty: ${total}"
  tb_json=$("${tahectl}" --json --tenant "${tenant}" ledger trial-balance) ||
    fail "trial balance --json of ${tenant} failed"
  is_json "${tb_json}" || fail "trial balance --json of ${tenant} is not JSON"
  [[ $(json_get "${tb_json}" "d['totalDebitMinor'] == d['totalCreditMinor'] != '0'") == True ]] ||
    fail "trial balance --json of ${tenant} does not balance or is empty: ${tb_json}"
  "${tahectl}" --tenant "${tenant}" ledger verify-chain >/dev/null ||
    fail "hash chain of ${tenant} does not verify"
  chain_json=$("${tahectl}" --json --tenant "${tenant}" ledger verify-chain) ||
    fail "verify-chain --json of ${tenant} failed"
  [[ $(json_get "${chain_json}" "d['ok'] and int(d['entriesChecked']) > 0") == True ]] ||
    fail "verify-chain --json of ${tenant}: ${chain_json}"
done
passed=$((passed + 1))

# A JSON entry posted with `ledger post --file` moves its account's balance by its amount.
year=$(date +%Y)
balance_of() { # tenant account -> balance in cents
  local out
  out=$("${tahectl}" --json --tenant "$1" ledger balance "$2") || fail "ledger balance $2 of $1 failed"
  json_get "${out}" "d['balance'].get('amountMinor', '0')"
}
before=$(balance_of seinajoki 1910)
vaasa_before=$(balance_of vaasa 1910)
lahti_before=$(balance_of lahti 1910)
cat >"${state}/entry.json" <<EOF
{"entry": {"entryDate": "${year}-01-20", "description": "local suite test entry",
  "source": {"system": "e2e", "reference": "local_suite_test.sh"},
  "lines": [{"account": "1910", "amount": {"amountMinor": "12345", "currencyCode": "EUR"}},
            {"account": "3000", "amount": {"amountMinor": "-12345", "currencyCode": "EUR"}}]}}
EOF
posted=$("${tahectl}" --json --tenant seinajoki ledger post --file "${state}/entry.json") ||
  fail "ledger post --file failed"
is_json "${posted}" || fail "ledger post --json is not JSON: ${posted}"
[[ $(json_get "${posted}" "d['entry']['description']") == "local suite test entry" ]] ||
  fail "ledger post --file posted something else: ${posted}"
after=$(balance_of seinajoki 1910)
((after - before == 12345)) ||
  fail "balance of 1910 moved from ${before} to ${after}, want +12345"
"${tahectl}" --tenant seinajoki ledger balance 1910 >/dev/null || fail "ledger balance (table) failed"
# Not in another organisation's books, in the same region or the other.
[[ $(balance_of vaasa 1910) == "${vaasa_before}" && $(balance_of lahti 1910) == "${lahti_before}" ]] ||
  fail "the entry posted for seinajoki moved 1910 of vaasa or lahti"
passed=$((passed + 1))

# --- A key for one organisation: issue, use, revoke --------------------------------------------

issued=$("${tahectl}" --json admin keys issue --role ledger.read --role ledger.write \
  --organisation lahti --description "local_suite_test.sh" --key-file "${state}/lahti.key") ||
  fail "admin keys issue failed"
is_json "${issued}" || fail "admin keys issue --json is not JSON: ${issued}"
key_id=$(json_get "${issued}" "d['key']['keyId']")
[[ ${key_id} =~ ^[0-9a-f]{12}$ ]] || fail "admin keys issue printed no key id: ${issued}"
grep -q "${key_id}" "${state}/lahti.key" || fail "the key file does not hold key ${key_id}"
[[ $(stat -c %a "${state}/lahti.key") == 600 ]] || fail "the key file is not mode 600"
[[ $(json_get "${issued}" "d.get('apiKey', '')") == "" ]] ||
  fail "admin keys issue --key-file printed the secret"
"${tahectl}" admin keys list --organisation lahti | grep -q "${key_id}" ||
  fail "admin keys list does not list ${key_id}"

as_lahti=("${tahectl}" --api-key-file "${state}/lahti.key")
"${as_lahti[@]}" ledger verify-chain >/dev/null || fail "the new lahti key cannot read lahti"
if out=$("${as_lahti[@]}" --tenant vaasa ledger accounts 2>&1); then
  fail "the lahti key read vaasa"
fi
grep -q PERMISSION_DENIED <<<"${out}" || fail "lahti key for vaasa: want PERMISSION_DENIED: ${out}"

"${tahectl}" admin keys revoke "${key_id}" >/dev/null || fail "admin keys revoke failed"
if out=$("${as_lahti[@]}" ledger verify-chain 2>&1); then
  fail "the revoked key still works"
fi
grep -q UNAUTHENTICATED <<<"${out}" || fail "revoked key: want UNAUTHENTICATED, got: ${out}"
"${tahectl}" admin keys list --include-revoked --organisation lahti | grep -q "${key_id}" ||
  fail "admin keys list --include-revoked does not list ${key_id}"
passed=$((passed + 1))

# --- Calls that must be refused ----------------------------------------------------------------

# Through the gateway without a key (the env file's key is overridden by the empty variable).
if out=$(TAHE_API_KEY='' TAHE_API_KEY_FILE='' "${tahectl}" --tenant lahti ledger accounts 2>&1); then
  fail "a call through the gateway without a key succeeded"
fi
grep -q UNAUTHENTICATED <<<"${out}" || fail "no key: want UNAUTHENTICATED, got: ${out}"
# The operator key is not an admin key.
if out=$(TAHE_ADMIN_API_KEY='' TAHE_ADMIN_API_KEY_FILE='' "${tahectl}" admin orgs list 2>&1); then
  fail "admin orgs list with the operator key succeeded"
fi
grep -q PERMISSION_DENIED <<<"${out}" || fail "operator key on admin: want PERMISSION_DENIED: ${out}"

# Straight to each backend without the internal credential: with no credential at all, and with a
# valid API key (which only the gateway understands).
for tenant in lahti vaasa; do
  addr=${ledger_of[${region_of[${tenant}]}]}
  if out=$(TAHE_API_KEY='' TAHE_API_KEY_FILE='' TAHE_INTERNAL_TOKEN='' TAHE_INTERNAL_TOKEN_FILE='' \
    "${tahectl}" --addr "${addr}" --tenant "${tenant}" ledger accounts 2>&1); then
    fail "a call to ${addr} without the internal credential succeeded"
  fi
  grep -q UNAUTHENTICATED <<<"${out}" || fail "${addr} without credential: want UNAUTHENTICATED: ${out}"
  if out=$(TAHE_INTERNAL_TOKEN='' TAHE_INTERNAL_TOKEN_FILE='' \
    "${tahectl}" --addr "${addr}" --tenant "${tenant}" ledger accounts 2>&1); then
    fail "a call to ${addr} with an API key but no internal credential succeeded"
  fi
  grep -q UNAUTHENTICATED <<<"${out}" || fail "${addr} with an API key: want UNAUTHENTICATED: ${out}"
  # With the credential (tahectl's direct mode) the backend answers: the refusals were about it.
  TAHE_API_KEY='' TAHE_API_KEY_FILE='' "${tahectl}" --addr "${addr}" --tenant "${tenant}" \
    ledger accounts >/dev/null || fail "a direct call to ${addr} with the internal credential failed"
done
passed=$((passed + 1))

# --- TLS mode: plaintext and certificate-less callers are refused ------------------------------

if [[ "${TAHE_LOCAL_TLS:-0}" == 1 ]]; then
  [[ -n ${TAHE_TLS_CA_FILE:-} && -n ${TAHE_TLS_CLIENT_CERT_FILE:-} ]] ||
    fail "TLS mode: local.env has no TAHE_TLS_CA_FILE / TAHE_TLS_CLIENT_CERT_FILE"
  plain=(env TAHE_TLS_CA_FILE='' TAHE_TLS_CLIENT_CERT_FILE='' TAHE_TLS_CLIENT_KEY_FILE=''
    "${tahectl}" --timeout 3s)
  no_cert=(env TAHE_TLS_CLIENT_CERT_FILE='' TAHE_TLS_CLIENT_KEY_FILE='' "${tahectl}" --timeout 3s)
  if out=$("${plain[@]}" health 2>&1); then
    fail "TLS mode: the gateway answered a plaintext health check: ${out}"
  fi
  # The gateway's public listener needs no client certificate: API keys authenticate clients.
  [[ $("${no_cert[@]}" health) == SERVING ]] ||
    fail "TLS mode: the gateway refused a TLS client without a certificate"
  for region in paijat-hame pohjanmaa; do
    for addr in "${ledger_of[${region}]}" "${payroll_of[${region}]}"; do
      if out=$("${plain[@]}" --addr "${addr}" health 2>&1); then
        fail "TLS mode: ${addr} answered a plaintext health check: ${out}"
      fi
      if out=$("${no_cert[@]}" --addr "${addr}" health 2>&1); then
        fail "TLS mode: ${addr} answered a TLS client without a certificate: ${out}"
      fi
      grep -q UNAVAILABLE <<<"${out}" || fail "TLS mode: ${addr} without a certificate: ${out}"
    done
  done
  # Every process exports the expiry of the certificate it serves with and of the client
  # certificate it presents upstream.
  for url in ${TAHE_METRICS_URLS}; do
    curl -fsS "${url}" >"${state}/metrics.txt" || fail "cannot fetch ${url}"
    for role in server client; do
      line=$(grep "^tahe_tls_certificate_expiry_timestamp_seconds{role=\"${role}\"}" \
        "${state}/metrics.txt") || fail "${url} has no ${role} certificate expiry"
      days=$(python3 -c 'import sys, time; print(int((float(sys.argv[1]) - time.time()) / 86400))' \
        "${line##* }")
      ((days >= 1 && days <= 30)) || fail "${url}: ${role} certificate expires in ${days} days"
    done
  done
  passed=$((passed + 1))
fi

echo "local suite end-to-end: ${passed} passed, 0 failed"
