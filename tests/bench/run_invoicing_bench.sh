#!/usr/bin/env bash
# The invoicing benchmark ("Speed" of services/invoicing/README.md), in one command: a billing
# run of --invoices invoices (2-5 lines each) issued and posted, and the bank's camt.054 file
# paying them imported, matched and posted, each against psql \copy of as many invoice lines into
# a plain table, on the same throwaway cluster in the same run.
#
#   bash tests/bench/run_invoicing_bench.sh                      # 100 000 invoices
#   bash tests/bench/run_invoicing_bench.sh --quick              # 2 000, to check the plumbing
#   bash tests/bench/run_invoicing_bench.sh --build-dir build-invbench --invoices 20000 --keep
#
# 1. Builds nothing: takes tahe_ledger, tahe_invoicing and tahe_invoicing_load from --build-dir
#    (default $TAHE_BUILD_DIR, else build/), e.g. after
#    `ninja -C build tahe_ledger tahe_invoicing tahe_invoicing_load`.
# 2. Starts a throwaway PostgreSQL 15 with tests/pg/start.sh (fsync on, synchronous_commit on)
#    with three databases: `tahe_ledger` and `tahe_invoicing`, each migrated by its service as the
#    owner and served as a login role that is a member of the service's application role
#    (tahe_ledger_app, tahe_invoicing_app), and `tahe_plain` for the baseline.
# 3. Starts tahe_ledger, and tahe_invoicing with --ledger_addr (its outbox relay posts there), a
#    --identity_key_file of 96 random hex characters and the same --internal_token_file.
# 4. Set-up, not timed (tahe_invoicing_load --mode=setup): in the ledger the chart fi-municipal,
#    the periods of today and of the payment date (a week later) opened and the dimension
#    cost_centre; in invoicing the settings, 20 products, a price list and 1 000 customers; see
#    tests/bench/invoicing_load_driver.h for the mix. Then ANALYZE of the invoicing database and a
#    CHECKPOINT.
# 5. The run (tahe_invoicing_load --mode=run), each phase timed on its own:
#    - the drafts: ImportDraftInvoices, one stream of batches of 1 000;
#    - the billing run: RunBilling, then GetBillingRun every 50 ms until it is posted (the outbox
#      relay has delivered the one summarised entry to the ledger and marked it);
#    - not timed: the run's invoices listed, their lines written as CSV, the camt.054 file written
#      (one payment per invoice, national and RF references, 1 % each unknown, half paid and
#      overpaid);
#    - the payments: ImportPayments, the file in chunks of 1 MiB, then the ledger's entries every
#      50 ms until the payment posting is there;
#    - not timed: the same file parsed once more by the client with the service's parser
#      (ParseCamt054: schema validation and extraction), to show how much of the import that is;
#      the ledger's entries, trial balance and the open receivables checked against what the file
#      was made to give.
#    The peak resident set of tahe_invoicing in each phase (its VmHWM, reset just before), the
#    CPU seconds of invoicing and of PostgreSQL's backends in each phase, and those of invoicing,
#    the ledger and PostgreSQL over the whole run.
# 6. The baseline: psql \copy of that CSV (the run's invoice lines: tenant, invoice, line number,
#    product, description, quantity, unit price, VAT rate, net, sales account, cost centre) into a
#    plain table with a primary key, after a CHECKPOINT.
# 7. Prints a Markdown summary for services/invoicing/README.md ("Speed"): seconds per phase and
#    each as a multiple of the \copy; the targets are the billing run (issue + post) and the
#    payments (import + post) each at most 3 x the \copy. Then stops everything (also on failure
#    or Ctrl-C).
#
# Nothing here checks a threshold: the script reports, people judge. Exit status is non-zero only
# when something could not run or the run did not come out right (rejections, miscounted
# payments, an unbalanced ledger).
#
# Options:
#   --invoices N           invoices of the billing run, and payments of the file (default 100000)
#   --quick                --invoices 2000
#   --build-dir DIR        where the binaries are built (default $TAHE_BUILD_DIR, else build/)
#   --invoicing-args "..." extra flags for tahe_invoicing (e.g. "--db_pool_size=4")
#   --log-statements MS    log every statement of the run that takes MS ms or more (PostgreSQL's
#                          log_min_duration_statement, without parameters) with its plan
#                          (auto_explain) and print them summed per statement, slowest first;
#                          implies --keep (the log, with the plans, stays in pg/postgres.log)
#   --perf                 profile the whole machine with `perf record -a -g` during the run and
#                          print the hottest symbols of tahe_invoicing and of PostgreSQL (costs
#                          CPU: compare figures of runs without it); implies --keep
#   --keep                 keep the work directory (logs, CSV, PostgreSQL's log) and print its path
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "${repo}/tests/pg/lib.sh"
# shellcheck source=tests/bench/lib.sh
source "${repo}/tests/bench/lib.sh"

invoices=100000
invoicing_args=""
keep=0
log_statements=""
profile=0
build_dir=${TAHE_BUILD_DIR:-build}
command_line=$(bench_command_line run_invoicing_bench.sh "$@")

while (($# > 0)); do
  case "$1" in
    --invoices) invoices=$2; shift 2 ;;
    --quick) invoices=2000; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --invoicing-args) invoicing_args=$2; shift 2 ;;
    --log-statements) log_statements=$2; keep=1; shift 2 ;;
    --perf) profile=1; keep=1; shift ;;
    --keep) keep=1; shift ;;
    -h | --help) bench_usage ;;
    *) echo "run_invoicing_bench.sh: unknown option $1" >&2; bench_usage ;;
  esac
done
[[ "${invoices}" =~ ^[0-9]+$ ]] || tahe_die "--invoices must be a whole number, not '${invoices}'"
((invoices >= 1)) || tahe_die "--invoices must be >= 1"
[[ -z "${log_statements}" || "${log_statements}" =~ ^[0-9]+$ ]] ||
  tahe_die "--log-statements must be a whole number of milliseconds, not '${log_statements}'"
((!profile)) || command -v perf >/dev/null || tahe_die "--perf needs perf (Debian: linux-perf)"

# --- 1. the binaries ------------------------------------------------------------------------------
[[ "${build_dir}" = /* ]] || build_dir="${repo}/${build_dir}"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "${build_dir}/CMakeCache.txt" 2>/dev/null) ||
  true
ledger_bin="${build_dir}/services/ledger/tahe_ledger"
invoicing_bin="${build_dir}/services/invoicing/tahe_invoicing"
load_bin="${build_dir}/tests/bench/tahe_invoicing_load"
for bin in "${ledger_bin}" "${invoicing_bin}" "${load_bin}"; do
  [[ -x "${bin}" ]] ||
    tahe_die "${bin} is not built (ninja -C ${build_dir} tahe_ledger tahe_invoicing tahe_invoicing_load)"
done

# --- 2. PostgreSQL ----------------------------------------------------------------------------
bench_make_work tahe-invbench
bench_start_pg
# Every client session commits synchronously, whatever the cluster default.
export PGOPTIONS="-c synchronous_commit=on"
bench_create_service_db ledger
bench_create_service_db invoicing
psql_db postgres -c "CREATE DATABASE tahe_plain"
# The \copy target: one row per invoice line, as invoicing's own invoice_lines table has them.
psql_db tahe_plain <<'SQL'
CREATE TABLE invoice_lines (
  tenant_id        text NOT NULL,
  invoice_id       text NOT NULL,
  line_number      integer NOT NULL,
  product_code     text NOT NULL,
  description      text NOT NULL,
  quantity_milli   bigint NOT NULL,
  unit_price_cents bigint NOT NULL,
  vat_rate_ppm     bigint NOT NULL,
  net_cents        bigint NOT NULL,
  sales_account    text NOT NULL,
  cost_centre      text NOT NULL,
  PRIMARY KEY (tenant_id, invoice_id, line_number)
);
SQL

if [[ -n "${log_statements}" ]]; then
  # Loaded by the services' connections, which are opened after this; logs nothing until the run.
  psql_db postgres -c "LOAD 'auto_explain'" \
    -c "ALTER SYSTEM SET session_preload_libraries = 'auto_explain'" \
    -c "ALTER SYSTEM SET auto_explain.log_min_duration = -1" -c "SELECT pg_reload_conf()" \
    >/dev/null
fi

token_file="${work}/internal_token"
bench_secret_file "${token_file}"
identity_key_file="${work}/identity_key"
bench_secret_file "${identity_key_file}" 48

# --- 3. the ledger and invoicing ------------------------------------------------------------------
bench_start_service ledger "${ledger_bin}"
ledger_pid=${service_pid}
ledger_addr=${service_addr}
# shellcheck disable=SC2086  # --invoicing-args is a list of flags
bench_start_service invoicing "${invoicing_bin}" --ledger_addr="${ledger_addr}" \
  --identity_key_file="${identity_key_file}" ${invoicing_args}
invoicing_pid=${service_pid}
invoicing_addr=${service_addr}

load() {  # load ARGS...: tahe_invoicing_load against our invoicing and ledger
  "${load_bin}" --addr="${invoicing_addr}" --ledger_addr="${ledger_addr}" --tenant=bench \
    --internal_token_file="${token_file}" "$@"
}

# --- 4. set-up ----------------------------------------------------------------------------------
say "set-up: settings, products, customers (not timed)"
load --mode=setup >"${work}/setup.out" 2>&1 ||
  { cat "${work}/setup.out" >&2; tahe_die "set-up failed"; }
cat "${work}/setup.out"
psql_db tahe_invoicing -c "ANALYZE"
checkpoint

# --- 5. the run ---------------------------------------------------------------------------------
say "run: ${invoices} drafts, billing run until posted, payments until posted"
pg_log="${pg_dir}/postgres.log"
if [[ -n "${log_statements}" ]]; then
  log_from=$(($(wc -l <"${pg_log}") + 1))
  set_logging() {  # set_logging MS|-1: statements and their plans, without parameters
    psql_db postgres -c "LOAD 'auto_explain'" \
      -c "ALTER SYSTEM SET log_min_duration_statement = $1" \
      -c "ALTER SYSTEM SET auto_explain.log_min_duration = $1" \
      -c "ALTER SYSTEM SET log_parameter_max_length = 0" -c "SELECT pg_reload_conf()" >/dev/null
  }
  set_logging "${log_statements}"
fi
perf_pid=""
if ((profile)); then
  perf record -a -g -F 499 -o "${work}/perf.data" >"${work}/perf.log" 2>&1 &
  perf_pid=$!
fi
read -r invoicing_cpu0 ledger_cpu0 pg_cpu0 machine_cpu0 < <(echo "$(cpu_of "${invoicing_pid}")" \
  "$(cpu_of "${ledger_pid}")" "$(cpu_of_tree "${postmaster_pid}")" "$(cpu_of_machine)")
run_status=0
load --mode=run --invoices="${invoices}" --invoicing_pid="${invoicing_pid}" \
  --postgres_pid="${postmaster_pid}" --lines_csv="${work}/invoice_lines.csv" >"${work}/run.out" 2>&1 || run_status=$?
read -r invoicing_cpu1 ledger_cpu1 pg_cpu1 machine_cpu1 < <(echo "$(cpu_of "${invoicing_pid}")" \
  "$(cpu_of "${ledger_pid}")" "$(cpu_of_tree "${postmaster_pid}")" "$(cpu_of_machine)")
if [[ -n "${perf_pid}" ]]; then
  kill -INT "${perf_pid}" 2>/dev/null || true
  wait "${perf_pid}" 2>/dev/null || true
fi
[[ -z "${log_statements}" ]] || set_logging -1
cat "${work}/run.out"
grep -q '^RESULT mode=run ' "${work}/run.out" ||
  tahe_die "the run did not complete (exit ${run_status})"
field() { result_field "${work}/run.out" "$1"; }
mib() { calc "%.0f" "$(field "$1") / 1024"; }
import_s=$(field import_s)
billing_s=$(field billing_s)
billing_posting_s=$(field billing_posting_s)
billing_total_s=$(field billing_total_s)
payments_s=$(field payments_s)
payments_posting_s=$(field payments_posting_s)
payments_total_s=$(field payments_total_s)
parse_s=$(field parse_s)
issued=$(field issued)
lines=$(field invoice_lines)
transactions=$(field transactions)
file_mib=$(calc "%.1f" "$(field file_bytes) / 1048576")
peak_note=""
[[ "$(field peak_reset)" == 1 ]] || peak_note=" (peaks since start: the reset failed)"
# The CPU counts include the not-timed listing of the invoices and checks after the run.
cpu_invoicing=$(calc "%.1f" "${invoicing_cpu1} - ${invoicing_cpu0}")
cpu_ledger=$(calc "%.1f" "${ledger_cpu1} - ${ledger_cpu0}")
cpu_pg=$(calc "%.1f" "${pg_cpu1} - ${pg_cpu0}")
cpu_machine=$(calc "%.1f" "${machine_cpu1} - ${machine_cpu0}")

# --- 6. the baseline: psql \copy of as many invoice lines -----------------------------------------
csv="${work}/invoice_lines.csv"
csv_lines=$(wc -l <"${csv}")
[[ "${csv_lines}" == "${lines}" ]] || tahe_die "the CSV has ${csv_lines} lines, the run ${lines}"
checkpoint
say "psql \\copy: ${lines} invoice lines"
copy_start=$(now)
psql_db tahe_plain -c "\\copy invoice_lines FROM '${csv}' WITH (FORMAT csv)" >"${work}/copy.out"
copy_end=$(now)
copied=$(psql_db tahe_plain -At -c "SELECT count(*) FROM invoice_lines")
[[ "${copied}" == "${lines}" ]] || tahe_die "\\copy loaded ${copied} lines, not ${lines}"
copy_s=$(calc "%.3f" "${copy_end} - ${copy_start}")
x() { calc "%.2f" "$1 / ${copy_s}"; }  # seconds as a multiple of the copy
echo "psql \\copy: ${lines} lines in ${copy_s} s; billing run / copy = $(x "${billing_total_s}")," \
  "payments / copy = $(x "${payments_total_s}") (targets <= 3)"

# --- 7. summary ---------------------------------------------------------------------------------
verdict() {  # verdict RATIO: against the target of 3
  awk -v v="$1" 'BEGIN { print (v <= 3) ? "met" : "**not met**" }'
}
pg_version=$(psql_db postgres -At -c "SHOW server_version")
pg_settings=$(psql_db postgres -At -F ' ' -c \
  "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
   WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem')")
mem_total=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
setup_field() { result_field "${work}/setup.out" "$1"; }
billing_ratio=$(x "${billing_total_s}")
payments_ratio=$(x "${payments_total_s}")

cat <<EOF

### Benchmark: a billing run of ${invoices} invoices and the camt.054 file paying them

Measured with \`${command_line}\` on $(date -u +%F), commit $(bench_commit), build ${build_type}.
Machine: $(bench_cpu_model), nproc $(nproc), ${mem_total}, $(uname -sr); PostgreSQL ${pg_version}
(${pg_settings}). Client, ledger, invoicing and PostgreSQL share the machine.${invoicing_args:+ Invoicing flags: \`${invoicing_args}\`.}
Set-up (not timed): $(setup_field customers) customers and $(setup_field products) products in \
$(setup_field seconds) s.

| Phase | Seconds | × copy |
|---|---|---|
| \`ImportDraftInvoices\`: ${invoices} drafts, ${lines} lines | ${import_s} | $(x "${import_s}") |
| \`RunBilling\`: ${issued} invoices issued | ${billing_s} | $(x "${billing_s}") |
| Billing posting delivered (answer → \`GetBillingRun\` shows it posted; $(field billing_entry_lines) ledger lines) | ${billing_posting_s} | $(x "${billing_posting_s}") |
| **Billing run: issue + post** | **${billing_total_s}** | **${billing_ratio}** (≤ 3: $(verdict "${billing_ratio}")) |
| \`ImportPayments\`: ${transactions} payments, ${file_mib} MiB of camt.054 ($(field matched) matched, $(field partially_allocated) partially allocated, $(field unmatched) unmatched) | ${payments_s} | $(x "${payments_s}") |
| Payment posting delivered (answer → the ledger lists the entry) | ${payments_posting_s} | $(x "${payments_posting_s}") |
| **Payments: import + post** | **${payments_total_s}** | **${payments_ratio}** (≤ 3: $(verdict "${payments_ratio}")) |
| psql \\copy of the ${lines} invoice lines into a plain table with a primary key | ${copy_s} | 1.00 |
| (part of \`ImportPayments\`) the same file parsed by \`ParseCamt054\` alone, in the client | ${parse_s} | $(x "${parse_s}") |

tahe_invoicing resident set: $(mib rss_before_billing_kib) MiB before the billing run, peak \
$(mib peak_billing_kib) MiB during it; $(mib rss_before_payments_kib) MiB before the payments, \
peak $(mib peak_payments_kib) MiB during them${peak_note}.
CPU seconds of tahe_invoicing / PostgreSQL's backends in each phase: drafts \
$(field invoicing_cpu_import_s) / $(field postgres_cpu_import_s), billing run \
$(field invoicing_cpu_billing_s) / $(field postgres_cpu_billing_s), payments \
$(field invoicing_cpu_payments_s) / $(field postgres_cpu_payments_s).
CPU seconds during the whole run, drafts and the (not timed) listing and checks included: \
tahe_invoicing ${cpu_invoicing}, PostgreSQL ${cpu_pg}, tahe_ledger ${cpu_ledger}; \
the whole machine ${cpu_machine}.
EOF

if [[ -n "${log_statements}" ]]; then
  echo
  echo "Statements of the run that took ${log_statements} ms or more, summed (ms, calls, phase:" \
    "statement; ${pg_log} from line ${log_from}):"
  echo
  tail -n "+${log_from}" "${pg_log}" |
    sed -n 's/.*duration: \([0-9.]*\) ms  \([a-z]*\)\( <[^>]*>\)\{0,1\}: \(.*\)/\1\t\2: \4/p' |
    awk -F '\t' '{ key = substr($2, 1, 150); ms[key] += $1; n[key]++ }
      END { for (k in ms) printf "%10.0f %6d  %s\n", ms[k], n[k], k }' | sort -rn | sed -n 1,30p
fi
if ((profile)) && [[ -s "${work}/perf.data" ]]; then
  echo
  echo "Hottest symbols of tahe_invoicing and PostgreSQL during the run (self time, % of every" \
    "sample of the machine; ${work}/perf.data):"
  echo
  perf report -i "${work}/perf.data" --stdio --no-children -g none --comms tahe_invoicing,postgres \
    --sort comm,dso,symbol 2>/dev/null | grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]-]+$//' |
    cut -c1-160 | sed -n 1,40p
fi

status=0
if ((run_status != 0)) || [[ "$(field correct)" != 1 ]]; then
  echo "run_invoicing_bench.sh: the run did not come out right (see above)" >&2
  status=1
fi
exit "${status}"
