#!/usr/bin/env bash
# End-to-end test of payroll with real processes (deploy/local/run.sh: two cells, the gateway,
# PostgreSQL), driven by tahectl through the gateway:
#   1. a pay run for lahti is calculated and approved while the cell's ledger is down: the run
#      stays APPROVED with a delivery error, nothing is lost;
#   2. payroll is then killed (SIGKILL) before it could deliver, and both are restarted with their
#      own command lines: the outbox delivers the posting, the run becomes POSTED;
#   3. the ledger has exactly one payroll entry for the run, balanced, whose net-pay line equals
#      the run's net pay; the SEPA file validates against the pain.001.001.03 schema and its
#      control sum equals the net pay;
#   4. the cell's reporting, which followed the ledger through its restart, gives lahti's reports
#      of the year equal to its ledger (tests/e2e/reporting_check.py), and its payroll costs per
#      cost centre equal the run's expense lines.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
tahectl=${build}/tools/tahectl/tahectl
# shellcheck source=tests/e2e/reporting_lib.sh
source "${root}/tests/e2e/reporting_lib.sh"
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin payroll

e2e_start_suite
T=("${tahectl}" --tenant lahti --timeout 30s)

cat >"${state}/employees.csv" <<'CSV'
employee_number,first_name,last_name,personal_identity_code,iban,start_date,cost_centre,salary_basis,monthly_salary,hourly_rate,pension_scheme,union_fee_percent
E1,Aino,Virtanen,150680-1234,FI2112345600000785,2020-01-01,100,MONTHLY,3500.00,,KEVA,1.5
E2,Eero,Korhonen,010594Y9032,FI5542345670000081,2021-03-01,200,HOURLY,,22.10,TYEL,0
CSV
cat >"${state}/items.csv" <<'CSV'
item_id,employee_number,period,kind,quantity,unit_rate,amount,description
i1,E2,2026-11,HOURLY_WORK,150,22.10,,Tunnit
i2,E2,2026-11,OVERTIME_50,5,22.10,,Ylityö
i3,E1,2026-11,MEAL_BENEFIT,,,150.00,Ravintoetu
CSV
"${T[@]}" payroll settings set --debtor-name "Lahden kaupunki" \
  --debtor-iban FI2112345600000785 >/dev/null || fail "settings"
"${T[@]}" payroll employees import "${state}/employees.csv" >/dev/null || fail "employees import"
"${T[@]}" payroll items import "${state}/items.csv" >/dev/null || fail "items import"
"${T[@]}" payroll run create --period 2026-11 --payment-date 2026-11-30 --request-id e2e-create \
  >/dev/null || fail "run create"
run=2026-11-1
"${T[@]}" payroll run calculate "${run}" >/dev/null 2>&1 || fail "run calculate"
net=$(json_get "$("${T[@]}" --json payroll run get "${run}")" "d['totals']['netPayMinor']")
((net > 0)) || fail "no net pay calculated: ${net}"

# 1. The ledger down during approval.
ledger_pid=$(<"${state}/run/ledger-paijat-hame.pid")
payroll_pid=$(<"${state}/run/payroll-paijat-hame.pid")
remember_cmdline ledger-paijat-hame
remember_cmdline payroll-paijat-hame
kill -KILL "${ledger_pid}"
"${T[@]}" payroll run approve "${run}" --request-id e2e-approve >/dev/null || fail "approve"
deadline=$((SECONDS + 30))
while true; do
  got=$("${T[@]}" --json payroll run get "${run}")
  [[ $(json_get "${got}" "d.get('deliveryError', '')") == *UNAVAILABLE* ]] && break
  ((SECONDS < deadline)) || fail "no delivery error while the ledger is down: ${got}"
  sleep 0.2
done
[[ $(json_get "${got}" "d['status']") == PAY_RUN_STATUS_APPROVED ]] ||
  fail "the run is not APPROVED while the ledger is down: ${got}"

# 2. Payroll killed before it could deliver; both come back.
kill -KILL "${payroll_pid}"
restart ledger-paijat-hame
restart payroll-paijat-hame
deadline=$((SECONDS + 120))
until [[ $(json_get "$("${T[@]}" --json payroll run get "${run}" 2>/dev/null || echo '{}')" \
  "d.get('status', '')") == PAY_RUN_STATUS_POSTED ]]; do
  ((SECONDS < deadline)) || fail "the run was not posted after the restart"
  sleep 0.5
done

# 3. Exactly one balanced payroll entry in lahti's ledger, equal to the run.
entries=$("${T[@]}" --json ledger entries)
python3 - "${run}" "${net}" 3<<<"${entries}" <<"PY" || fail "the ledger does not hold the run exactly once"
import json, sys
run, net = sys.argv[1], int(sys.argv[2])
d = json.load(open(3))
mine = [e for e in d.get("entries", []) if e.get("source", {}).get("system") == "payroll"
        and e["source"].get("reference") == run]
assert len(mine) == 1, f"{len(mine)} payroll entries for {run}"
lines = mine[0]["lines"]
total = sum(int(l["amount"]["amountMinor"]) for l in lines)
assert total == 0, f"entry does not balance: {total}"
net_line = sum(int(l["amount"]["amountMinor"]) for l in lines if l["account"] == "2880")
assert net_line == -net, f"net pay payable {net_line} != -{net}"
PY
"${T[@]}" payroll payment-file "${run}" --out "${state}/palkat.xml" >/dev/null ||
  fail "payment file"
xmllint --noout --schema "${root}/third_party/schemas/pain/pain.001.001.03.xsd" \
  "${state}/palkat.xml" || fail "the payment file does not validate"
grep -q "<CtrlSum>$((net / 100)).$(printf '%02d' $((net % 100)))</CtrlSum>" "${state}/palkat.xml" ||
  fail "the payment file's control sum is not the net pay ${net}"

# 4. Reporting followed it all.
reports_match lahti 2026-01-01 2026-12-31
costs=$("${T[@]}" --json report payroll-costs --month 2026-11) || fail "report payroll-costs"
python3 - "${run}" 3<<<"${entries}" 4<<<"${costs}" <<"PY" || fail "reporting's payroll costs differ from the run"
import json, sys
run = sys.argv[1]
entries, costs = json.load(open(3)), json.load(open(4))
want = {}
for e in entries.get("entries", []):
    if e.get("source", {}).get("system") != "payroll" or e["source"].get("reference") != run:
        continue
    for l in e["lines"]:
        if l["account"].startswith("4"):
            cc = l.get("dimensions", {}).get("cost_centre", "")
            want[cc] = want.get(cc, 0) + int(l["amount"]["amountMinor"])
got = {}
for row in costs.get("rows", []):
    got[row["costCentre"]] = got.get(row["costCentre"], 0) + int(row["totalMinor"])
assert got == want, f"payroll costs {got} != the run's expense lines {want}"
print(f"payroll costs by cost centre equal the run: {got}")
PY
echo "payroll end-to-end: passed"
