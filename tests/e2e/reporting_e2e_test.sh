#!/usr/bin/env bash
# End-to-end test of reporting with real processes (deploy/local/run.sh: two cells with ledger,
# payroll, invoicing and reporting, the gateway, PostgreSQL), driven by tahectl through the
# gateway with the demo operator key:
#   1. the demo (ten entries per organisation this year, with cost centres) plus, for lahti,
#      entries of last year and this year (income, expenses, an asset bought) and the reversal of
#      one of them; every report of lahti, phhyky and vaasa equals what reporting_check.py
#      computes from the ledger's own balances (trial balance per account, the year's result,
#      operating income, both sides of the balance sheet, the cost centres' net);
#   2. the reports as tables (the statement's subtotals, the totals row) and exported: CSV with a
#      header and a row per account, HTML of the income statement; HTML of the trial balance
#      refused before any call;
#   3. the regional view of paijat-hame (lahti and phhyky, never vaasa) equals the sum of its
#      organisations; a key of lahti alone may not ask for it (PERMISSION_DENIED), and its
#      reports.read role may not change the statement mapping;
#   4. reporting of paijat-hame killed with SIGKILL while entries are posted, restarted with its
#      own command line, killed again while it catches up and restarted: the reports equal the
#      ledger again and its feed is 0 events behind.
# Every wait polls with a generous deadline (a loaded 2-core machine).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
check=${root}/tests/e2e/reporting_check.py
# shellcheck source=tests/pg/lib.sh
source "${root}/tests/pg/lib.sh"
# shellcheck source=tests/e2e/reporting_lib.sh
source "${root}/tests/e2e/reporting_lib.sh"
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin reporting
WAIT_SECONDS=180

[[ -x "${tahectl}" ]] || fail "build tahectl in ${build}"

step "the suite comes up (run.sh --detach, with the demo)"
e2e_start_suite
year=$(date +%Y)
last_year=$((year - 1))
month=$(date +%m)
from="${year}-01-01"
# The last day of this month: the demo opens this year's periods up to this month.
to=$(date -d "${year}-${month}-01 +1 month -1 day" +%F)

L=("${tahectl}" --tenant lahti --timeout 60s)

# --- 1. Reports equal the ledger -----------------------------------------------------------------
step "1. lahti's entries of two years and a reversal; every organisation's reports equal its ledger"
"${L[@]}" ledger open-period "${last_year}-11" --request-id e2e-open-1 >/dev/null ||
  fail "open ${last_year}-11"
"${L[@]}" ledger post --date "${last_year}-11-15" --description "Last year's fees" \
  --line "1910:5000.00" --line "3100:-5000.00:cost_centre=100" --request-id e2e-ly >/dev/null ||
  fail "post last year's entry"
"${L[@]}" ledger post --date "${from}" --description "Grant" --line "1910:20000.00" \
  --line "3200:-20000.00:cost_centre=200" --request-id e2e-grant >/dev/null || fail "post grant"
"${L[@]}" ledger post --date "${from}" --description "Services bought" \
  --line "4300:1234.56:cost_centre=100" --line "4400:65.44:cost_centre=200" \
  --line "2800:-1300.00" --request-id e2e-services >/dev/null || fail "post services"
"${L[@]}" ledger post --date "${from}" --description "Machine" --line "1130:9999.99" \
  --line "1910:-9999.99" --request-id e2e-machine >/dev/null || fail "post machine"
wrong=$("${L[@]}" --json ledger post --date "${from}" --description "Posted by mistake" \
  --line "4700:777.77:cost_centre=100" --line "1910:-777.77" --request-id e2e-wrong) ||
  fail "post the wrong entry"
wrong_sequence=$(json_get "${wrong}" "d['entry']['sequence']")
"${L[@]}" ledger reverse "${wrong_sequence}" --request-id e2e-reverse >/dev/null ||
  fail "reverse entry ${wrong_sequence}"
for tenant in lahti phhyky vaasa; do
  reports_match "${tenant}" "${from}" "${to}"
done

# --- 2. Tables and exports -----------------------------------------------------------------------
step "2. reports as tables and exported as CSV and HTML"
table=$("${L[@]}" report income-statement --from "${from}" --to "${to}") ||
  fail "report income-statement (table)"
grep -q 'TOIMINTAKATE' <<<"${table}" || fail "the income statement lacks TOIMINTAKATE: ${table}"
grep -q 'Palvelujen ostot' <<<"${table}" || fail "the income statement lacks its rows: ${table}"
table=$("${L[@]}" report trial-balance --from "${from}" --to "${to}") ||
  fail "report trial-balance (table)"
grep -Eq '^1130 .* 9 999\.99' <<<"${table}" || fail "the machine is not in the table: ${table}"
"${L[@]}" report trial-balance --from "${from}" --to "${to}" --export csv \
  --out "${state}/trial-balance.csv" >/dev/null || fail "export CSV"
head -n 1 "${state}/trial-balance.csv" | grep -q 'account' ||
  fail "the CSV has no header: $(head -n 2 "${state}/trial-balance.csv")"
grep -q '^1130,' "${state}/trial-balance.csv" || fail "the CSV lacks account 1130"
"${L[@]}" report income-statement --from "${from}" --to "${to}" --export html \
  --out "${state}/income-statement.html" >/dev/null || fail "export HTML"
grep -q '<table' "${state}/income-statement.html" || fail "the HTML has no table"
if out=$("${L[@]}" report trial-balance --from "${from}" --to "${to}" --export html \
  --out "${state}/tb.html" 2>&1); then
  fail "HTML of a trial balance was exported"
fi
[[ ! -e "${state}/tb.html" ]] || fail "a refused export left a file"

# --- 3. The regional view ------------------------------------------------------------------------
step "3. the regional view of paijat-hame is the sum of lahti and phhyky, for the operator only"
mkdir -p "${state}/regional"
"${tahectl}" --tenant lahti --timeout 60s --json report regional --from "${from}" --to "${to}" \
  --min-sequence "$(ledger_head lahti)" >"${state}/regional/regional.json" ||
  fail "report regional"
cp -r "${state}/reports/lahti-${from}" "${state}/regional/lahti"
cp -r "${state}/reports/phhyky-${from}" "${state}/regional/phhyky"
python3 "${check}" regional "${state}/regional" lahti phhyky || fail "the regional view is wrong"
orgs=$(json_get "$(cat "${state}/regional/regional.json")" \
  "sorted(o['tenant'] for o in d['organisations'])")
[[ "${orgs}" == "['lahti', 'phhyky']" ]] || fail "the regional view lists ${orgs}"
# Admin commands take the admin key local.env names.
"${tahectl}" admin keys issue --role reports.read \
  --organisation lahti --key-file "${state}/lahti.key" --request-id e2e-lahti-key >/dev/null ||
  fail "issue lahti's key"
if out=$(TAHE_API_KEY= "${tahectl}" --api-key-file "${state}/lahti.key" report regional \
  --from "${from}" --to "${to}" 2>&1); then
  fail "lahti's own key read the regional view"
fi
grep -q PERMISSION_DENIED <<<"${out}" || fail "expected PERMISSION_DENIED, got: ${out}"
# The same key reads lahti's own reports, and may not change what they say.
TAHE_API_KEY= "${tahectl}" --api-key-file "${state}/lahti.key" report trial-balance \
  --from "${from}" --to "${to}" >/dev/null || fail "lahti's key cannot read lahti's reports"
if out=$(TAHE_API_KEY= "${tahectl}" --api-key-file "${state}/lahti.key" report mapping set \
  --default 2>&1); then
  fail "a reports.read key changed the statement mapping"
fi
grep -q PERMISSION_DENIED <<<"${out}" || fail "expected PERMISSION_DENIED, got: ${out}"

# --- 4. Killed mid-feed --------------------------------------------------------------------------
step "4. reporting killed while entries are posted and while it catches up: the same reports"
name=reporting-paijat-hame
reporting_pid=$(<"${state}/run/${name}.pid")
remember_cmdline "${name}"
reporting_addr=$(local_env TAHE_REPORTING_ADDR_PAIJAT_HAME)
post_batch() {
  local first=$1 count=$2 i
  for ((i = first; i < first + count; i++)); do
    "${L[@]}" ledger post --date "${from}" --description "Fee ${i}" --line "1910:${i}.01" \
      --line "3100:-${i}.01:cost_centre=$((100 * (i % 3 + 1)))" --request-id "e2e-fee-${i}" \
      >/dev/null || fail "post fee ${i}"
  done
}
post_batch 1 20
kill -KILL "${reporting_pid}"
post_batch 21 40
restart "${name}"
until_true "${WAIT_SECONDS}" "${name} serving after the restart" serving "${reporting_addr}"
kill -KILL "$(<"${state}/run/${name}.pid")"
post_batch 61 10
restart "${name}"
until_true "${WAIT_SECONDS}" "${name} serving after the second restart" serving "${reporting_addr}"
rm -rf "${state}/reports"
reports_match lahti "${from}" "${to}"
reports_match phhyky "${from}" "${to}"
feed=$("${tahectl}" --tenant lahti --json report feed) || fail "report feed"
[[ $(json_get "${feed}" "int(d.get('eventsBehind', 0))") == 0 ]] ||
  fail "the feed is behind after catching up: ${feed}"

echo "reporting e2e: all checks passed"
