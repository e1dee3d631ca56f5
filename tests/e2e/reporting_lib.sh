# Sourced by the e2e tests: reporting's reports of an organisation against its ledger.
#
#   source tests/e2e/reporting_lib.sh
#   reports_match lahti 2025-01-01 2025-12-31    # fails the test (fail ...) when they differ
#
# Needs ${tahectl}, ${state}, ${root} and fail(); the environment (TAHE_LOCAL_ENV) names the
# gateway and the operator key. FROM must be a 1 January and TO a month's last day. The reports
# are asked with --min-sequence of the ledger's head, so they wait for reporting to catch up.

# ledger_head TENANT: the tenant's last ledger sequence (the chain is gapless from 1).
ledger_head() {
  python3 -c 'import json, sys; print(json.load(sys.stdin).get("entriesChecked", 0))' \
    <<<"$("${tahectl}" --tenant "$1" --json ledger verify-chain)"
}

# wait_reporting TENANT SEQUENCE: until reporting has applied the tenant's entries up to
# SEQUENCE (a report asked with --min-sequence waits at most 10 s; after a ledger restart the
# follower may take longer to reconnect).
wait_reporting() {
  local deadline=$((SECONDS + 180))
  until "${tahectl}" --tenant "$1" --timeout 15s report trial-balance --year 2000 \
    --min-sequence "$2" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || fail "reporting has not applied $1's entries up to $2 in 180s"
    sleep 1
  done
}

# fetch_reports TENANT FROM TO DIR: what tests/e2e/reporting_check.py compares, into DIR.
fetch_reports() {
  local tenant=$1 from=$2 to=$3 dir=$4 head before
  mkdir -p "${dir}"
  head=$(ledger_head "${tenant}") || fail "verify-chain of ${tenant}"
  wait_reporting "${tenant}" "${head}"
  before=$(date -d "${from} -1 day" +%F)
  local T=("${tahectl}" --tenant "${tenant}" --timeout 60s --json)
  local R=(--min-sequence "${head}")
  "${T[@]}" ledger trial-balance --as-of "${before}" >"${dir}/ledger-opening.json" ||
    fail "ledger trial-balance of ${tenant} as of ${before}"
  "${T[@]}" ledger trial-balance --as-of "${to}" >"${dir}/ledger-closing.json" ||
    fail "ledger trial-balance of ${tenant} as of ${to}"
  "${T[@]}" report trial-balance --from "${from}" --to "${to}" "${R[@]}" \
    >"${dir}/trial-balance.json" || fail "report trial-balance of ${tenant}"
  "${T[@]}" report income-statement --from "${from}" --to "${to}" "${R[@]}" \
    >"${dir}/income-statement.json" || fail "report income-statement of ${tenant}"
  "${T[@]}" report balance-sheet --date "${to}" "${R[@]}" >"${dir}/balance-sheet.json" ||
    fail "report balance-sheet of ${tenant}"
  "${T[@]}" report cost-centres --from "${from}" --to "${to}" "${R[@]}" \
    >"${dir}/cost-centres.json" || fail "report cost-centres of ${tenant}"
}

# reports_match TENANT FROM TO: reporting agrees with the ledger for TENANT over the range.
reports_match() {
  local dir="${state}/reports/$1-$2"
  fetch_reports "$1" "$2" "$3" "${dir}"
  python3 "${root}/tests/e2e/reporting_check.py" organisation "${dir}" ||
    fail "the reports of $1 from $2 to $3 differ from its ledger"
}
