#!/usr/bin/env bash
# Fault test with real processes (issue 7): the local suite (deploy/local/run.sh: two cells, the
# gateway, PostgreSQL) under load while its processes are killed and restarted, then checked for
# lost and duplicated writes.
#
#   bash tests/fault/fault_test.sh          # ctest: fault_kill_restart (labels fault, e2e)
#   TAHE_BUILD_DIR=/work/main/build TAHE_FAULT_LOAD=build-fault/tests/fault/tahe_fault_load \
#     bash tests/fault/fault_test.sh        # services of one build, the load client of another
#   TAHE_FAULT_ROUNDS=5 TAHE_FAULT_CLIENTS=16 bash tests/fault/fault_test.sh   # a longer run
#
# What runs at the same time, through the gateway with the demo operator key:
#   - the posting load: tahe_fault_load, TAHE_FAULT_CLIENTS clients posting 2-line entries for
#     lahti, phhyky, vaasa and seinajoki, each request under its own request id, retried with the
#     SAME id on UNAVAILABLE / DEADLINE_EXCEEDED until acknowledged; every acknowledgement (with
#     the entry's sequence) is written to a file;
#   - pay runs (lahti and vaasa, TAHE_FAULT_EMPLOYEES employees each): create, calculate and
#     approve one month after the other, posted by payroll's outbox;
#   - billing (lahti and vaasa): billing runs of TAHE_FAULT_DRAFTS drafts and single invoices
#     issued one by one, each posted by invoicing's outbox.
# Every tahectl step of the pay runs and billing has a fixed request id and is retried until it
# succeeds. Meanwhile, TAHE_FAULT_ROUNDS times, every TAHE_FAULT_INTERVAL seconds: kill -9 of the
# ledger, payroll, invoicing and reporting of cell paijat-hame, of the gateway and of the ledger
# of cell pohjanmaa, each restarted with its own command line (tests/e2e/e2e_lib.sh restart), and
# an immediate-mode stop and start of PostgreSQL (pg_ctl -m immediate: a crash, recovered from the
# WAL).
#
# Then it stops the load and asserts: every acknowledged posting is in the ledger under its
# sequence (lost 0); no request id, pay run, billing run or invoice posted twice (duplicated 0);
# no load entry the client did not send; every entry and every organisation's trial balance
# balances; every hash chain verifies; payroll's and invoicing's outboxes drain to 0 (table and
# metric); every pay run POSTED with its payslips, every billing run DONE with all its drafts
# issued and posted once, every single invoice posted once; every process SERVING; reporting's
# reports of lahti and vaasa equal their ledgers.
#
# The result (what was killed when and during what, restarts, writes attempted / acknowledged /
# lost / duplicated, entries per organisation, balance, chains, outbox backlog) goes to
# TAHE_FAULT_RESULT (default <build>/tests/fault/fault-result.md, else /tmp/tahe-fault-result.md)
# in Markdown, and beside it as JSON (.json); the load's records, the ledger dump and the logs of
# a failed run are kept in <result>.d/.
#
# Environment: TAHE_BUILD_DIR (default build), TAHE_FAULT_LOAD (default
# <build>/tests/fault/tahe_fault_load), TAHE_FAULT_ROUNDS (1), TAHE_FAULT_INTERVAL (5 s between
# faults), TAHE_FAULT_DOWN (1 s a process stays dead), TAHE_FAULT_CLIENTS (6),
# TAHE_FAULT_PAUSE_MS (5: each client's pause between requests), TAHE_FAULT_EMPLOYEES (40),
# TAHE_FAULT_DRAFTS (100), TAHE_FAULT_TARGETS (the kill list above; names as in .tahe/run/ plus
# "postgres"), TAHE_FAULT_PORT_BASE (unset: run.sh picks free ports; set, e.g. 27100: the suite's
# 19 ports from there, for a run by hand beside other suites on the same machine).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=$(realpath -m "${TAHE_BUILD_DIR:-${root}/build}")
tahectl=${build}/tools/tahectl/tahectl
load=$(realpath -m "${TAHE_FAULT_LOAD:-${build}/tests/fault/tahe_fault_load}")
rounds=${TAHE_FAULT_ROUNDS:-1}
interval=${TAHE_FAULT_INTERVAL:-5}
down=${TAHE_FAULT_DOWN:-1}
clients=${TAHE_FAULT_CLIENTS:-6}
pause_ms=${TAHE_FAULT_PAUSE_MS:-5}
employees=${TAHE_FAULT_EMPLOYEES:-40}
drafts=${TAHE_FAULT_DRAFTS:-100}
targets=${TAHE_FAULT_TARGETS:-"ledger-paijat-hame payroll-paijat-hame invoicing-paijat-hame reporting-paijat-hame gateway postgres ledger-pohjanmaa"}
if [[ -n "${TAHE_FAULT_RESULT:-}" ]]; then
  result=$(realpath -m "${TAHE_FAULT_RESULT}")
elif [[ -d "${build}/tests/fault" && -w "${build}/tests/fault" ]]; then
  result=${build}/tests/fault/fault-result.md
else
  result=/tmp/tahe-fault-result.md
fi
LOAD_TENANTS=lahti,phhyky,vaasa,seinajoki
WORK_TENANTS=(lahti vaasa)  # one per cell: pay runs and billing
STEP_SECONDS=240            # a pay-run or billing step that has not succeeded by then fails
YEAR=$(date -u +%Y)
TODAY=$(date -u +%F)

# shellcheck source=tests/pg/lib.sh
source "${root}/tests/pg/lib.sh"
# shellcheck source=tests/e2e/reporting_lib.sh
source "${root}/tests/e2e/reporting_lib.sh"
# shellcheck source=tests/e2e/e2e_lib.sh
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin fault
fdir=${state}/fault # everything this test writes besides the suite
mkdir -p "${fdir}"
stop_file=${fdir}/stop
background=()   # load client and workers, ended by pid on exit
report_done=0

[[ -x "${tahectl}" ]] || fail "no tahectl in ${build}"
[[ -x "${load}" ]] || fail "no load client ${load} (build tahe_fault_load, or set TAHE_FAULT_LOAD)"

# The report, also after a failure (then with what is known and the reason), and the files worth
# keeping; then e2e_lib's cleanup (stop the suite, remove the state directory).
fault_cleanup() {
  local status=$? pid
  for pid in "${background[@]}"; do
    kill -TERM "${pid}" 2>/dev/null || true
  done
  if ((report_done == 0)); then
    ((status == 0)) || echo "aborted with exit status ${status}" >>"${fdir}/failures.txt"
    write_report || true
  fi
  mkdir -p "${result}.d"
  cp -f "${fdir}"/*.tsv "${fdir}"/*.txt "${fdir}"/*.out "${fdir}"/*.log "${result}.d/" \
    2>/dev/null || true
  if ((status != 0)); then
    mkdir -p "${result}.d/logs"
    cp -f "${state}"/logs/*.log "${result}.d/logs/" 2>/dev/null || true
  fi
  echo "fault test: result in ${result} (details in ${result}.d/)"
  # e2e_cleanup takes the status from $?; without errexit, or (exit 1) would end the trap here.
  set +e
  (exit "${status}")
  e2e_cleanup
}

write_report() {
  python3 "${root}/tests/fault/fault_report.py" "${fdir}" "${result}"
}

now_ms() { echo $(($(date +%s%N) / 1000000)); }
t0_ms=$(now_ms)
# Seconds since the load started, one decimal.
elapsed() {
  local d=$(($(now_ms) - t0_ms))
  printf '%d.%d' $((d / 1000)) $((d % 1000 / 100))
}
# A problem found by the checks: the run goes on (the report shows everything) and fails at the end.
problem() {
  echo "$*" | tee -a "${fdir}/failures.txt" >&2
}

trap fault_cleanup EXIT
# No rate limit: the load must meet faults, not the token bucket.
export TAHE_GATEWAY_RATE_PER_SECOND=0

# Ports of our own (by hand, beside other suites on the same machine): run.sh reuses the ports
# remembered in the state directory while they are free.
if [[ -n "${TAHE_FAULT_PORT_BASE:-}" ]]; then
  mkdir -p "${state}/ports"
  port=${TAHE_FAULT_PORT_BASE}
  for name in pg gateway gateway-metrics; do
    echo "${port}" >"${state}/ports/${name}"
    port=$((port + 1))
  done
  for cell in paijat-hame pohjanmaa; do
    for service in ledger payroll invoicing reporting; do
      echo "${port}" >"${state}/ports/${service}-${cell}"
      echo "$((port + 1))" >"${state}/ports/${service}-${cell}-metrics"
      port=$((port + 2))
    done
  done
fi

step "the suite comes up (run.sh --detach)"
e2e_start_suite
pg_dir=${state}/pg
pg_port=$(local_env TAHE_PG_PORT)
T=("${tahectl}" --timeout 30s)
{
  echo "date=$(date -u +%FT%TZ)"
  echo "commit=$(git -C "${root}" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "rounds=${rounds}"
  echo "interval=${interval}"
  echo "down=${down}"
  echo "clients=${clients}"
  echo "pause_ms=${pause_ms}"
  echo "employees=${employees}"
  echo "drafts=${drafts}"
  echo "load_tenants=${LOAD_TENANTS}"
  echo "work_tenants=${WORK_TENANTS[*]}"
} >"${fdir}/meta.txt"

# psql as the superuser over the cluster's unix socket (row-level security does not apply).
sql() {
  local db=$1
  shift
  tahe_pg_as_owner "${pg_dir}" "${TAHE_PG_BINDIR}/psql" -h "${pg_dir}" -p "${pg_port}" \
    -U tahe_admin -d "${db}" -X -q -v ON_ERROR_STOP=1 -At -F $'\t' -c "$*"
}

# --- Set-up (no faults yet) ---------------------------------------------------------------------
step "set-up: employees, pay settings, invoicing settings, customers and products"
python3 - "${employees}" >"${fdir}/employees.csv" <<'PY'
import sys
n = int(sys.argv[1])
chars = "0123456789ABCDEFHJKLMNPRSTUVWXY"
print("employee_number,first_name,last_name,personal_identity_code,iban,start_date,cost_centre,"
      "salary_basis,monthly_salary,hourly_rate,pension_scheme,union_fee_percent")
for i in range(n):
    dd, mm, yy, nnn = 1 + i % 28, 1 + (i // 28) % 12, 60 + i % 40, 2 + i
    base = f"{dd:02d}{mm:02d}{yy:02d}"
    code = f"{base}-{nnn:03d}{chars[int(base + f'{nnn:03d}') % 31]}"
    cc = ("100", "200", "300", "400")[i % 4]
    scheme = "KEVA" if i % 3 else "TYEL"
    print(f"F{i + 1},Etu{i},Suku{i},{code},FI2112345600000785,2024-01-01,{cc},MONTHLY,"
          f"{2500 + 10 * i}.00,,{scheme},{'1.5' if i % 4 == 0 else '0'}")
PY
cat >"${fdir}/customers.csv" <<'CSV'
customer_number,kind,name,business_id,personal_identity_code,street,postal_code,city,delivery_channel
C-1,ORGANISATION,Asiakas Yksi,3221310-7,,Katu 1,15100,Lahti,PAPER
C-2,ORGANISATION,Asiakas Kaksi,0204819-8,,Katu 2,60100,Seinäjoki,PAPER
C-3,ORGANISATION,Asiakas Kolme,0135202-4,,Katu 3,15100,Lahti,PAPER
CSV
cat >"${fdir}/products.csv" <<'CSV'
code,name,unit,unit_price,vat_category,sales_account,cost_centre
FAULT,Palvelu,kpl,25.00,GENERAL,3000,100
FAULTM,Ateria,kpl,8.50,REDUCED,3000,200
CSV
declare -A BUSINESS_ID=([lahti]=0135202-4 [vaasa]=0209602-6)
for tenant in "${WORK_TENANTS[@]}"; do
  W=("${T[@]}" --tenant "${tenant}")
  "${W[@]}" payroll settings set --debtor-name "Organisaatio ${tenant}" \
    --debtor-iban FI2112345600000785 --request-id "fault-${tenant}-pay-settings" >/dev/null ||
    fail "payroll settings of ${tenant}"
  "${W[@]}" payroll employees import "${fdir}/employees.csv" >/dev/null ||
    fail "payroll employees of ${tenant}"
  cat >"${fdir}/settings-${tenant}.json" <<JSON
{"sellerName": "Organisaatio ${tenant}", "businessId": "${BUSINESS_ID[${tenant}]}",
 "address": {"street": "Katu 1", "postalCode": "15100", "city": "Lahti"},
 "iban": "FI2112345600000785", "referencePrefix": "12", "reminderFeeCents": "500"}
JSON
  "${W[@]}" invoicing settings set --file "${fdir}/settings-${tenant}.json" \
    --request-id "fault-${tenant}-inv-settings" >/dev/null || fail "invoicing settings of ${tenant}"
  "${W[@]}" invoicing customers import --file "${fdir}/customers.csv" >/dev/null ||
    fail "customers of ${tenant}"
  "${W[@]}" invoicing products import --file "${fdir}/products.csv" >/dev/null ||
    fail "products of ${tenant}"
done

# --- The workers (background) -------------------------------------------------------------------

# attempt WHAT COMMAND...: COMMAND until it succeeds, its stdout in ${out}; every failure goes to
# the worker's log; gives up (status 1) after STEP_SECONDS.
attempt() {
  local what=$1 deadline=$((SECONDS + STEP_SECONDS)) rc
  shift
  while true; do
    rc=0
    out=$("$@" 2>"${worker_err}") || rc=$?
    ((rc != 0)) || return 0
    echo "$(elapsed) ${worker}: ${what}: exit ${rc}: $(tr '\n' ' ' <"${worker_err}" | cut -c1-300)" \
      >>"${fdir}/workers.log"
    if ((SECONDS >= deadline)); then
      echo "$(elapsed) ${worker}: ${what}: GAVE UP after ${STEP_SECONDS}s" >>"${fdir}/workers.log"
      return 1
    fi
    sleep 1
  done
}
phase() { echo "$*" >"${fdir}/phase.${worker}"; }
stopping() { [[ -e "${stop_file}" ]]; }

# One month after the other, each pay run created, calculated and approved; paced so that the
# year's runs spread over the faults.
payroll_worker() {
  local tenant=$1 pace=$2 month period run
  worker=payroll-${tenant}
  worker_err=${fdir}/${worker}.err
  local W=("${T[@]}" --tenant "${tenant}")
  for month in $(seq 1 12); do
    stopping && break
    period=$(printf '%s-%02d' "${YEAR}" "${month}")
    phase "pay run ${tenant} ${period}: create"
    attempt "create ${period}" "${W[@]}" --json payroll run create --period "${period}" \
      --payment-date "${period}-20" --request-id "fault-${tenant}-create-${period}" || return 1
    run=$(json_get "${out}" "d['payRunId']")
    phase "pay run ${tenant} ${run}: calculate"
    attempt "calculate ${run}" "${W[@]}" --json payroll run calculate "${run}" \
      --request-id "fault-${tenant}-calculate-${run}" || return 1
    phase "pay run ${tenant} ${run}: approve"
    attempt "approve ${run}" "${W[@]}" --json payroll run approve "${run}" \
      --request-id "fault-${tenant}-approve-${run}" || return 1
    printf '%s\t%s\n' "${tenant}" "${run}" >>"${fdir}/payruns.txt"
    phase "pay run ${tenant}: idle"
    local until=$((SECONDS + pace))
    while ((SECONDS < until)) && ! stopping; do sleep 0.5; done
  done
  phase "pay runs ${tenant}: done"
}

# Billing runs of ${drafts} drafts, each followed by three single invoices, until told to stop.
invoicing_worker() {
  local tenant=$1 k=0 run j id file number
  worker=invoicing-${tenant}
  worker_err=${fdir}/${worker}.err
  local W=("${T[@]}" --tenant "${tenant}")
  until stopping; do
    k=$((k + 1))
    run=FAULT-B${k}
    file=${fdir}/drafts-${tenant}-${k}.csv
    {
      echo "invoice_id,customer_number,delivery_date,product_code,quantity"
      for j in $(seq 1 "${drafts}"); do
        echo "${run}-${j},C-$((1 + j % 3)),${TODAY},FAULT,$((1 + j % 5))"
        echo "${run}-${j},,,FAULTM,2"
      done
    } >"${file}"
    phase "billing run ${tenant} ${run}: import"
    attempt "import ${run}" "${W[@]}" invoicing billing import --run "${run}" --file "${file}" \
      --request-id "fault-${tenant}-import-${run}" || return 1
    phase "billing run ${tenant} ${run}: run"
    attempt "run ${run}" "${W[@]}" --json invoicing billing run "${run}" --date "${TODAY}" \
      --request-id "fault-${tenant}-run-${run}" || return 1
    printf '%s\t%s\t%s\n' "${tenant}" "${run}" "${drafts}" >>"${fdir}/billingruns.txt"
    for j in 1 2 3; do
      stopping && break
      id=FAULT-I${k}-${j}
      phase "invoice ${tenant} ${id}: create and issue"
      attempt "create ${id}" "${W[@]}" invoicing invoice create --invoice-id "${id}" \
        --customer "C-${j}" --delivery-date "${TODAY}" --line "FAULT:${j}" \
        --request-id "fault-${tenant}-create-${id}" || return 1
      attempt "issue ${id}" "${W[@]}" --json invoicing invoice issue "${id}" --date "${TODAY}" \
        --request-id "fault-${tenant}-issue-${id}" || return 1
      number=$(json_get "${out}" "d['displayNumber']")
      printf '%s\t%s\t%s\n' "${tenant}" "${id}" "${number}" >>"${fdir}/invoices.txt"
    done
  done
  phase "billing ${tenant}: done"
}

current_load() {
  local f parts=("posting load")
  for f in "${fdir}"/phase.*; do
    [[ -f "${f}" ]] && parts+=("$(<"${f}")")
  done
  local joined
  joined=$(IFS=';'; echo "${parts[*]}")
  echo "${joined//;/; }"
}

# --- Faults -------------------------------------------------------------------------------------
# The address whose health says the process is back.
process_addr() {
  local name=$1
  if [[ "${name}" == gateway ]]; then
    local_env TAHE_GATEWAY_ADDR
  else
    local service=${name%%-*} cell=${name#*-}
    local key=${cell//-/_}
    local_env "TAHE_${service^^}_ADDR_${key^^}"
  fi
}

# A call that needs PostgreSQL in both cells, through the gateway.
databases_answer() {
  "${T[@]}" --tenant lahti ledger accounts >/dev/null 2>&1 &&
    "${T[@]}" --tenant vaasa ledger accounts >/dev/null 2>&1
}

fault_count=0
record_fault() { # target action during t_kill t_up
  fault_count=$((fault_count + 1))
  printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${fault_count}" "$4" "$1" "$2" "$3" "$5" >>"${fdir}/faults.tsv"
  echo "fault test: ${fault_count}. t=$4 s $1: $2, back at $5 s (during: $3)"
}

process_gone() {
  [[ ! -e "/proc/$1" ]] || [[ $(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) == Z ]]
}

kill_and_restart() {
  local name=$1 pid addr during t_kill
  pid=$(<"${state}/run/${name}.pid")
  addr=$(process_addr "${name}")
  remember_cmdline "${name}"
  during=$(current_load)
  t_kill=$(elapsed)
  kill -KILL "${pid}"
  sleep "${down}"
  # A process of many threads on a loaded machine can take a moment to be torn down.
  until_true 30 "${name} (pid ${pid}) gone after kill -9" process_gone "${pid}"
  wait "${pid}" 2>/dev/null || true # reaps it when it is a process restarted by us
  restart "${name}"
  until_true 120 "${name} SERVING again after kill -9" serving "${addr}"
  record_fault "${name}" "SIGKILL, restarted" "${during}" "${t_kill}" "$(elapsed)"
}

restart_postgres() {
  local during t_kill
  during=$(current_load)
  t_kill=$(elapsed)
  tahe_pg_as_owner "${pg_dir}" "${TAHE_PG_BINDIR}/pg_ctl" stop -D "${pg_dir}/data" -m immediate \
    -w -t 60 -s || fail "pg_ctl stop -m immediate"
  sleep "${down}"
  tahe_pg_start "${pg_dir}" "${state}/logs/postgres.log" || fail "PostgreSQL did not start again"
  until_true 120 "the ledgers answer through the gateway after PostgreSQL's restart" \
    databases_answer
  record_fault postgres "pg_ctl stop -m immediate, start" "${during}" "${t_kill}" "$(elapsed)"
}

# --- The run ------------------------------------------------------------------------------------
read -r -a target_list <<<"${targets}"
faults_total=$((rounds * ${#target_list[@]}))
# Twelve pay runs spread over the faults.
pace=$(((faults_total * (interval + 3)) / 12))

step "load: ${clients} posting clients, pay runs and billing; ${faults_total} faults, one every ${interval}s"
t0_ms=$(now_ms)
"${load}" --mode=post --addr="$(local_env TAHE_GATEWAY_ADDR)" \
  --api_key_file="${state}/secrets/operator_api_key" --tenants="${LOAD_TENANTS}" \
  --clients="${clients}" --pause_ms="${pause_ms}" --stop_file="${stop_file}" --max_seconds=1800 \
  --drain_seconds=120 --run_id="fault-$(date +%s)" --out="${fdir}/acks.tsv" \
  >"${fdir}/load.out" 2>"${fdir}/load.err" &
load_pid=$!
background+=("${load_pid}")
declare -A worker_pids
for tenant in "${WORK_TENANTS[@]}"; do
  payroll_worker "${tenant}" "${pace}" &
  worker_pids[payroll-${tenant}]=$!
  background+=($!)
  invoicing_worker "${tenant}" &
  worker_pids[invoicing-${tenant}]=$!
  background+=($!)
done

sleep "${interval}"
for _ in $(seq 1 "${rounds}"); do
  for target in "${target_list[@]}"; do
    if [[ "${target}" == postgres ]]; then
      restart_postgres
    else
      kill_and_restart "${target}"
    fi
    sleep "${interval}"
  done
done

step "stopping the load; workers finish their step"
touch "${stop_file}"
for name in "${!worker_pids[@]}"; do
  wait "${worker_pids[${name}]}" || problem "worker ${name} failed (see workers.log)"
done
wait "${load_pid}" || problem "the load client failed: $(cat "${fdir}/load.err")"
echo "load stopped at $(elapsed) s" >>"${fdir}/meta.txt"
cat "${fdir}/load.out"

# --- Checks -------------------------------------------------------------------------------------
step "every process is still up and SERVING"
for pidfile in "${state}"/run/*.pid; do
  name=$(basename "${pidfile}" .pid)
  [[ "${name}" != launcher ]] || continue
  serving "$(process_addr "${name}")" || problem "${name} is not SERVING at the end"
done

step "the outboxes drain (tables and metrics)"
outbox_rows() { # cell service -> undelivered
  sql "tahe_${1//-/_}_$2" "SELECT count(*) FROM outbox WHERE delivered_at IS NULL"
}
metric() { # name metric
  local port
  port=$(<"${state}/ports/$1-metrics")
  curl -sf "http://127.0.0.1:${port}/metrics" | awk -v m="$2" '$1 == m {print $2; exit}'
}
outboxes_drained() {
  local cell service
  for cell in paijat-hame pohjanmaa; do
    for service in payroll invoicing; do
      [[ $(outbox_rows "${cell}" "${service}") == 0 ]] || return 1
      [[ $(metric "${service}-${cell}" "tahe_${service}_outbox_backlog_messages") == 0 ]] ||
        return 1
    done
  done
}
deadline=$((SECONDS + 180))
until outboxes_drained; do
  ((SECONDS < deadline)) || {
    problem "an outbox did not drain within 180 s"
    break
  }
  sleep 1
done
: >"${fdir}/outbox.tsv"
for cell in paijat-hame pohjanmaa; do
  for service in payroll invoicing; do
    name=${service}-${cell}
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${name}" "$(outbox_rows "${cell}" "${service}")" \
      "$(metric "${name}" "tahe_${service}_outbox_backlog_messages")" \
      "$(sql "tahe_${cell//-/_}_${service}" "SELECT count(*) FROM outbox")" \
      "$(metric "${name}" "tahe_${service}_outbox_delivered_total")" \
      "$(metric "${name}" "tahe_${service}_outbox_delivery_failures_total")" \
      >>"${fdir}/outbox.tsv"
  done
done

step "the ledgers, dumped, against the load's acknowledgements"
for cell in paijat-hame pohjanmaa; do
  sql "tahe_${cell//-/_}_ledger" "
    SELECT e.tenant_id, e.sequence, e.request_id, e.source_system, e.source_reference,
           coalesce(sum(l.amount_minor), 0), count(l.line_no)
    FROM entries e LEFT JOIN entry_lines l USING (tenant_id, sequence)
    GROUP BY 1, 2, 3, 4, 5 ORDER BY 1, 2"
done >"${fdir}/ledger.tsv"
rc=0
"${load}" --mode=check --acks="${fdir}/acks.tsv" --ledger="${fdir}/ledger.tsv" \
  >"${fdir}/check.out" || rc=$?
cat "${fdir}/check.out"
((rc == 0)) || problem "the ledger does not hold the acknowledged postings exactly once (check.out)"
load_failed=$(awk -F'\t' '$1 == "failed"' "${fdir}/acks.tsv" | wc -l)
((load_failed == 0)) ||
  problem "${load_failed} postings failed with a code that is not retried: $(awk -F'\t' '$1 == "failed" {print $2 "/" $3 ": " $7; exit}' "${fdir}/acks.tsv")"

step "pay runs, billing runs and invoices: completed, each posted exactly once"
# in_ledger TENANT SYSTEM REFERENCE: how many entries the dump has for it.
in_ledger() {
  awk -F'\t' -v t="$1" -v s="$2" -v r="$3" '$1 == t && $4 == s && $5 == r' "${fdir}/ledger.tsv" |
    wc -l
}
touch "${fdir}/payruns.txt" "${fdir}/billingruns.txt" "${fdir}/invoices.txt"
while IFS=$'\t' read -r tenant run; do
  got=$("${T[@]}" --tenant "${tenant}" --json payroll run get "${run}") ||
    { problem "payroll run get ${tenant} ${run}"; continue; }
  [[ $(json_get "${got}" "(d['status'], d['totals']['payslips'])") == \
    "('PAY_RUN_STATUS_POSTED', ${employees})" ]] ||
    problem "pay run ${tenant} ${run} is not POSTED with ${employees} payslips: ${got:0:300}"
  n=$(in_ledger "${tenant}" payroll "${run}")
  ((n == 1)) || problem "pay run ${tenant} ${run}: ${n} ledger entries, want 1"
done <"${fdir}/payruns.txt"
while IFS=$'\t' read -r tenant run count; do
  got=$("${T[@]}" --tenant "${tenant}" --json invoicing billing show "${run}") ||
    { problem "billing show ${tenant} ${run}"; continue; }
  [[ $(json_get "${got}" "(d['status'], d['issued'], d['posted'])") == \
    "('BILLING_RUN_STATUS_DONE', '${count}', True)" ]] ||
    problem "billing run ${tenant} ${run} is not DONE with ${count} issued and posted: ${got:0:300}"
  n=$(in_ledger "${tenant}" invoicing "${run}")
  ((n == 1)) || problem "billing run ${tenant} ${run}: ${n} ledger entries, want 1"
done <"${fdir}/billingruns.txt"
while IFS=$'\t' read -r tenant id number; do
  n=$(in_ledger "${tenant}" invoicing "${number}")
  ((n == 1)) || problem "invoice ${tenant} ${id} (${number}): ${n} ledger entries, want 1"
done <"${fdir}/invoices.txt"
for tenant in "${WORK_TENANTS[@]}"; do
  issued=$(sql "tahe_$([[ ${tenant} == lahti ]] && echo paijat_hame || echo pohjanmaa)_invoicing" \
    "SELECT count(*) FROM invoices WHERE tenant_id = '${tenant}' AND invoice_number IS NOT NULL AND invoice_id LIKE 'FAULT-%'") ||
    issued="?"
  want=$(($(awk -F'\t' -v t="${tenant}" '$1 == t {s += $3} END {print s + 0}' "${fdir}/billingruns.txt") +
    $(awk -F'\t' -v t="${tenant}" '$1 == t' "${fdir}/invoices.txt" | wc -l)))
  [[ "${issued}" == "${want}" ]] ||
    problem "invoicing of ${tenant} has ${issued} issued FAULT invoices, the workers issued ${want}"
done

step "every organisation: trial balance, hash chain, entries"
: >"${fdir}/tenants.tsv"
for tenant in ${LOAD_TENANTS//,/ }; do
  tb=$("${T[@]}" --tenant "${tenant}" --json ledger trial-balance --as-of "${YEAR}-12-31") ||
    tb='{}'
  debit=$(json_get "${tb}" "d.get('totalDebitMinor', '?')")
  credit=$(json_get "${tb}" "d.get('totalCreditMinor', '?')")
  [[ "${debit}" != "?" && "${debit}" == "${credit}" ]] && balanced=yes || balanced=no
  [[ "${balanced}" == yes ]] ||
    problem "${tenant}'s trial balance does not balance: debit ${debit}, credit ${credit}"
  chain=$("${tahectl}" --timeout 120s --tenant "${tenant}" --json ledger verify-chain) || chain='{}'
  chain_ok=$(json_get "${chain}" "'yes' if d.get('ok') else 'no'")
  checked=$(json_get "${chain}" "d.get('entriesChecked', '0')")
  entries=$(awk -F'\t' -v t="${tenant}" '$1 == t' "${fdir}/ledger.tsv" | wc -l)
  [[ "${chain_ok}" == yes ]] || problem "${tenant}'s hash chain does not verify: ${chain:0:300}"
  [[ "${checked}" == "${entries}" ]] ||
    problem "${tenant}: the chain has ${checked} entries, the ledger ${entries}"
  payruns=$(awk -F'\t' -v t="${tenant}" '$1 == t' "${fdir}/payruns.txt" | wc -l)
  billing=$(awk -F'\t' -v t="${tenant}" '$1 == t' "${fdir}/billingruns.txt" | wc -l)
  invoices=$(awk -F'\t' -v t="${tenant}" '$1 == t' "${fdir}/invoices.txt" | wc -l)
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "${tenant}" "${entries}" "${balanced}" "${debit}" \
    "${chain_ok}" "${checked}" "${payruns}" "${billing}" "${invoices}" >>"${fdir}/tenants.tsv"
done

step "reporting followed the ledgers through the faults: lahti's and vaasa's reports equal them"
for tenant in "${WORK_TENANTS[@]}"; do
  if ! (reports_match "${tenant}" "${YEAR}-01-01" "${YEAR}-12-31") >"${fdir}/reports-${tenant}.out" 2>&1; then
    problem "reporting of ${tenant} differs from its ledger ($(tail -n 3 "${fdir}/reports-${tenant}.out" | tr '\n' ' '))"
    echo "reporting ${tenant}: differs" >>"${fdir}/reporting.txt"
  else
    echo "reporting ${tenant}: equal" >>"${fdir}/reporting.txt"
  fi
done

write_report
report_done=1
cat "${result}"
if [[ -s "${fdir}/failures.txt" ]]; then
  fail "the fault test found problems:
$(cat "${fdir}/failures.txt")"
fi
echo "fault test: passed"
