#!/usr/bin/env bash
# The payroll benchmark (issue 4, "Speed"), in one command: one month's pay run of an
# organisation of --employees people, from CreatePayRun until the ledger has its posting, against
# psql \copy of as many payslip lines into a plain table, on the same throwaway cluster in the
# same run.
#
#   bash tests/bench/run_payroll_bench.sh                   # 100 000 employees
#   bash tests/bench/run_payroll_bench.sh --quick           # 2 000 employees, to check the plumbing
#   bash tests/bench/run_payroll_bench.sh --employees 20000 --keep
#
# 1. Builds tahe_ledger, tahe_payroll and tahe_payroll_load (cmake, in $TAHE_BUILD_DIR, default
#    build/).
# 2. Starts a throwaway PostgreSQL 15 with tests/pg/start.sh (fsync on, synchronous_commit on)
#    with three databases: `tahe_ledger` and `tahe_payroll`, each migrated by its service as the
#    owner and served as a login role that is a member of the service's application role
#    (tahe_ledger_app, tahe_payroll_app), and `tahe_plain` for the baseline.
# 3. Starts tahe_ledger, and tahe_payroll with --ledger_addr (its outbox relay posts there), a
#    --identity_key_file of 96 random hex characters and the same --internal_token_file.
# 4. Set-up, not timed (tahe_payroll_load --mode=setup): in the ledger the chart fi-municipal, the
#    period open and the dimension cost_centre with 200 values; in payroll the settings, the
#    employees (ImportEmployees, batches of 1 000), a tax card each (SetTaxCard) and two pay items
#    each (ImportPayItems, batches of 1 000); see tests/bench/payroll_load_driver.h for the mix.
#    Then ANALYZE of the payroll database (the steady state autovacuum keeps) and a CHECKPOINT.
# 5. The pay run, timed (tahe_payroll_load --mode=run): CreatePayRun, CalculatePayRun,
#    ApprovePayRun, then GetPayRun every 50 ms until POSTED; each phase's seconds, the payslips
#    and their lines, the ledger entry, and the peak resident set of tahe_payroll during the run
#    (its VmHWM, reset just before). CPU seconds of payroll, the ledger and PostgreSQL over the
#    run. Afterwards, not timed, every payslip line of the run is written to a CSV file.
# 6. The baseline: psql \copy of that CSV (as many lines as the run produced: tenant, run,
#    employee, line number, code, description, quantity, base, rate, amount, rate-table version)
#    into a plain table with a primary key, after a CHECKPOINT.
# 7. Prints a Markdown summary for services/payroll/README.md ("Speed"): seconds per phase, the
#    \copy, the ratio pay run / \copy (target <= 2), the whole run (target < 30 s) and the peak
#    resident set. Then stops everything (also on failure or Ctrl-C).
#
# Nothing here checks a threshold: the script reports, people judge. Exit status is non-zero only
# when something could not run or the run did not come out right (rejections, skipped payslips,
# an unbalanced posting).
#
# Options:
#   --employees N        employees of the organisation (default 100000)
#   --quick              --employees 2000
#   --payroll-args "..." extra flags for tahe_payroll (e.g. "--db_pool_size=4")
#   --perf               also profile tahe_payroll with `perf record` during the timed run and
#                        print its hottest symbols (costs CPU: compare figures of runs without
#                        it); implies --keep, perf.data stays in the work directory
#   --keep               keep the work directory (logs, CSV) and print its path
#   --no-build           use the binaries already built in $TAHE_BUILD_DIR instead of building
#                        them (e.g. while another change in the tree does not configure)
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "${repo}/tests/pg/lib.sh"
# shellcheck source=tests/bench/lib.sh
source "${repo}/tests/bench/lib.sh"

employees=100000
payroll_args=""
keep=0
profile=0
build=1
command_line=$(bench_command_line run_payroll_bench.sh "$@")

while (($# > 0)); do
  case "$1" in
    --employees) employees=$2; shift 2 ;;
    --quick) employees=2000; shift ;;
    --payroll-args) payroll_args=$2; shift 2 ;;
    --perf) profile=1; keep=1; shift ;;
    --keep) keep=1; shift ;;
    --no-build) build=0; shift ;;
    -h | --help) bench_usage ;;
    *) echo "run_payroll_bench.sh: unknown option $1" >&2; bench_usage ;;
  esac
done
[[ "${employees}" =~ ^[0-9]+$ ]] || tahe_die "--employees must be a whole number, not '${employees}'"
((employees >= 1)) || tahe_die "--employees must be >= 1"
((!profile)) || command -v perf >/dev/null || tahe_die "--perf needs perf (Debian: linux-perf)"

# --- 1. build ---------------------------------------------------------------------------------
if ((build)); then
  bench_build tahe_ledger tahe_payroll tahe_payroll_load
else
  build_dir=${TAHE_BUILD_DIR:-build}
  [[ "${build_dir}" = /* ]] || build_dir="${repo}/${build_dir}"
  build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "${build_dir}/CMakeCache.txt" 2>/dev/null)
fi
ledger_bin="${build_dir}/services/ledger/tahe_ledger"
payroll_bin="${build_dir}/services/payroll/tahe_payroll"
load_bin="${build_dir}/tests/bench/tahe_payroll_load"
for bin in "${ledger_bin}" "${payroll_bin}" "${load_bin}"; do
  [[ -x "${bin}" ]] || tahe_die "${bin} is not built (drop --no-build)"
done

# --- 2. PostgreSQL ----------------------------------------------------------------------------
bench_make_work tahe-paybench
bench_start_pg
# Every client session commits synchronously, whatever the cluster default.
export PGOPTIONS="-c synchronous_commit=on"
bench_create_service_db ledger
bench_create_service_db payroll
psql_db postgres -c "CREATE DATABASE tahe_plain"
# The \copy target: one row per payslip line, as a plain payroll would keep them.
psql_db tahe_plain <<'SQL'
CREATE TABLE payslip_lines (
  tenant_id          text NOT NULL,
  pay_run_id         text NOT NULL,
  employee_number    text NOT NULL,
  line_no            integer NOT NULL,
  code               text NOT NULL,
  description        text NOT NULL,
  quantity_centi     bigint NOT NULL,
  base_minor         bigint NOT NULL,
  rate_ppm           bigint NOT NULL,
  amount_minor       bigint NOT NULL,
  rate_table_version text NOT NULL,
  PRIMARY KEY (tenant_id, pay_run_id, employee_number, line_no)
);
SQL

token_file="${work}/internal_token"
bench_secret_file "${token_file}"
identity_key_file="${work}/identity_key"
bench_secret_file "${identity_key_file}" 48

# --- 3. the ledger and payroll ------------------------------------------------------------------
bench_start_service ledger "${ledger_bin}"
ledger_pid=${service_pid}
ledger_addr=${service_addr}
# shellcheck disable=SC2086  # --payroll-args is a list of flags
bench_start_service payroll "${payroll_bin}" --ledger_addr="${ledger_addr}" \
  --identity_key_file="${identity_key_file}" ${payroll_args}
payroll_pid=${service_pid}
payroll_addr=${service_addr}

load() {  # load ARGS...: tahe_payroll_load against our payroll and ledger
  "${load_bin}" --addr="${payroll_addr}" --ledger_addr="${ledger_addr}" --tenant=bench \
    --internal_token_file="${token_file}" "$@"
}

# --- 4. set-up ----------------------------------------------------------------------------------
say "set-up: ${employees} employees, tax cards and pay items (not timed)"
load --mode=setup --employees="${employees}" >"${work}/setup.out" 2>&1 ||
  { cat "${work}/setup.out" >&2; tahe_die "set-up failed"; }
cat "${work}/setup.out"
psql_db tahe_payroll -c "ANALYZE"
checkpoint

# --- 5. the pay run -----------------------------------------------------------------------------
say "pay run: calculate, approve, posting delivered"
perf_pid=""
if ((profile)); then
  perf record -F 999 -g -p "${payroll_pid}" -o "${work}/perf_payroll.data" \
    >"${work}/perf_payroll.log" 2>&1 &
  perf_pid=$!
fi
read -r payroll_cpu0 ledger_cpu0 pg_cpu0 machine_cpu0 < <(echo "$(cpu_of "${payroll_pid}")" \
  "$(cpu_of "${ledger_pid}")" "$(cpu_of_tree "${postmaster_pid}")" "$(cpu_of_machine)")
run_status=0
load --mode=run --payroll_pid="${payroll_pid}" --lines_csv="${work}/payslip_lines.csv" \
  >"${work}/run.out" 2>&1 || run_status=$?
read -r payroll_cpu1 ledger_cpu1 pg_cpu1 machine_cpu1 < <(echo "$(cpu_of "${payroll_pid}")" \
  "$(cpu_of "${ledger_pid}")" "$(cpu_of_tree "${postmaster_pid}")" "$(cpu_of_machine)")
if [[ -n "${perf_pid}" ]]; then
  kill -INT "${perf_pid}" 2>/dev/null || true
  wait "${perf_pid}" 2>/dev/null || true
fi
cat "${work}/run.out"
grep -q '^RESULT mode=run ' "${work}/run.out" ||
  tahe_die "the pay run did not complete (exit ${run_status})"
field() { result_field "${work}/run.out" "$1"; }
create_s=$(field create_s)
calculate_s=$(field calculate_s)
approve_s=$(field approve_s)
posting_s=$(field posting_s)
total_s=$(field total_s)
payslips=$(field payslips)
skipped=$(field skipped)
lines=$(field payslip_lines)
ledger_lines=$(field ledger_lines)
rss_before_mib=$(calc "%.0f" "$(field rss_before_kib) / 1024")
peak_rss_mib=$(calc "%.0f" "$(field peak_rss_kib) / 1024")
peak_note=""
[[ "$(field peak_reset)" == 1 ]] || peak_note=" (peak since start: the reset failed)"
# The CPU counts include the not-timed listing of the payslips after the run.
cpu_payroll=$(calc "%.1f" "${payroll_cpu1} - ${payroll_cpu0}")
cpu_ledger=$(calc "%.1f" "${ledger_cpu1} - ${ledger_cpu0}")
cpu_pg=$(calc "%.1f" "${pg_cpu1} - ${pg_cpu0}")
cpu_machine=$(calc "%.1f" "${machine_cpu1} - ${machine_cpu0}")
[[ "${payslips}" == "${employees}" ]] ||
  echo "run_payroll_bench.sh: ${payslips} payslips for ${employees} employees" >&2

# --- 6. the baseline: psql \copy of as many payslip lines ---------------------------------------
csv="${work}/payslip_lines.csv"
csv_lines=$(wc -l <"${csv}")
[[ "${csv_lines}" == "${lines}" ]] || tahe_die "the CSV has ${csv_lines} lines, the run ${lines}"
checkpoint
say "psql \\copy: ${lines} payslip lines"
copy_start=$(now)
psql_db tahe_plain -c "\\copy payslip_lines FROM '${csv}' WITH (FORMAT csv)" >"${work}/copy.out"
copy_end=$(now)
copied=$(psql_db tahe_plain -At -c "SELECT count(*) FROM payslip_lines")
[[ "${copied}" == "${lines}" ]] || tahe_die "\\copy loaded ${copied} lines, not ${lines}"
copy_s=$(calc "%.3f" "${copy_end} - ${copy_start}")
ratio=$(calc "%.2f" "${total_s} / ${copy_s}")
echo "psql \\copy: ${lines} lines in ${copy_s} s; pay run / copy = ${ratio} (target <= 2)"

# --- 7. summary ---------------------------------------------------------------------------------
verdict() {  # verdict VALUE OP TARGET
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
    ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "**not met**" }'
}
pg_version=$(psql_db postgres -At -c "SHOW server_version")
pg_settings=$(psql_db postgres -At -F ' ' -c \
  "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
   WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem')")
mem_total=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
setup_field() { result_field "${work}/setup.out" "$1"; }

cat <<EOF

### Benchmark: a pay run of ${employees} employees

Measured with \`${command_line}\` on $(date -u +%F), commit $(bench_commit), build ${build_type}.
Machine: $(bench_cpu_model), nproc $(nproc), ${mem_total}, $(uname -sr); PostgreSQL ${pg_version}
(${pg_settings}). Client, ledger, payroll and PostgreSQL share the machine.${payroll_args:+ Payroll flags: \`${payroll_args}\`.}
Set-up (not timed): $(setup_field employees) employees in $(setup_field employees_s) s, \
$(setup_field tax_cards) tax cards in $(setup_field tax_cards_s) s, \
$(setup_field pay_items) pay items in $(setup_field pay_items_s) s.

| Phase | Seconds |
|---|---|
| CreatePayRun | ${create_s} |
| CalculatePayRun (${payslips} payslips, ${lines} lines, ${skipped} skipped) | ${calculate_s} |
| ApprovePayRun | ${approve_s} |
| Posting delivered (approval answered → GetPayRun shows POSTED; ${ledger_lines} ledger lines) | ${posting_s} |
| **Whole pay run** | **${total_s}** |
| psql \\copy of the ${lines} payslip lines into a plain table with a primary key | ${copy_s} |

| Measure | Value | Target |
|---|---|---|
| pay run / \\copy | ${ratio} | <= 2: $(verdict "${ratio}" "<=" 2) |
| whole pay run | ${total_s} s | < 30 s: $(verdict "${total_s}" "<=" 30) |
| tahe_payroll resident set | ${rss_before_mib} MiB before, peak ${peak_rss_mib} MiB during the run${peak_note} | bounded |

CPU seconds during the run and the (not timed) listing of its payslips after it: \
tahe_payroll ${cpu_payroll}, PostgreSQL ${cpu_pg}, tahe_ledger ${cpu_ledger}; \
the whole machine ${cpu_machine}.
EOF

if ((profile)) && [[ -s "${work}/perf_payroll.data" ]]; then
  echo
  echo "Hottest symbols of tahe_payroll during the run (self time; ${work}/perf_payroll.data):"
  echo
  perf report -i "${work}/perf_payroll.data" --stdio --no-children -g none --sort dso,symbol \
    2>/dev/null | grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]-]+$//' | cut -c1-160 | sed -n 1,30p
fi

status=0
if ((run_status != 0)) || [[ "${skipped}" != 0 || "${payslips}" != "${employees}" ]]; then
  echo "run_payroll_bench.sh: the pay run did not come out right (see above)" >&2
  status=1
fi
exit "${status}"
