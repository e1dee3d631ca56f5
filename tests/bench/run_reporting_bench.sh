#!/usr/bin/env bash
# The reporting benchmark ("Speed" of services/reporting/README.md), in one command: an
# organisation with --lines journal lines over two years and --cost-centres cost centres, posted
# to the ledger and followed by reporting; its trial balance, income statement and cost-centre
# report timed against the equivalent naive GROUP BY over the ledger's journal lines in the same
# run; and the feed's lag under the ledger's posting benchmark.
#
#   bash tests/bench/run_reporting_bench.sh                   # 10 000 000 lines, 200 cost centres
#   bash tests/bench/run_reporting_bench.sh --quick           # 200 000 lines, to check the plumbing
#   bash tests/bench/run_reporting_bench.sh --build-dir build-reporting --lines 2000000 --keep
#
# 1. Builds nothing: takes tahe_ledger, tahe_reporting and tahe_reporting_load from --build-dir
#    (default $TAHE_BUILD_DIR, else build/), e.g. after
#    `ninja -C build tahe_ledger tahe_reporting tahe_reporting_load`.
# 2. Starts a throwaway PostgreSQL 15 with tests/pg/start.sh (fsync on, synchronous_commit on)
#    with the databases `tahe_ledger` and `tahe_reporting`, each migrated by its service as the
#    owner and served as a login role that is a member of the service's application role.
# 3. Starts tahe_ledger, and tahe_reporting following it (--ledger_addr), on free ports.
# 4. Set-up, not timed (tahe_reporting_load --mode=setup): in the ledger the chart fi-municipal,
#    the 24 periods of --first-year and the year after opened, the dimension cost_centre with
#    --cost-centres values.
# 5. The books (--mode=post): --lines lines in entries of --lines-per-entry lines, in date order
#    over the 24 months, on every account of the chart (sales, purchases, payroll, tax revenue,
#    financial items, depreciation, closing items, investments; tests/bench/reporting_load_driver.h
#    says which), the income-statement lines with a cost centre; through --streams concurrent
#    PostEntries streams of batches of --batch-size entries. Timed: the posting (lines/s), and
#    from its end until reporting has applied the ledger's last sequence (GetFeedStatus every
#    50 ms); reporting follows all along. CPU seconds of the ledger, reporting and PostgreSQL.
# 6. VACUUM ANALYZE of reporting's database and ANALYZE of the ledger's (what autovacuum does
#    after a bulk load; the naive queries get fresh statistics too), then a CHECKPOINT.
# 7. The reports (--mode=reports) for the second year, the first alongside: --calls calls each of
#    GetTrialBalance, GetIncomeStatement and GetCostCentreReport straight to reporting over gRPC
#    (internal token + x-tahe-tenant), one at a time after 3 warm-up calls; then --naive-runs runs
#    each of the equivalent GROUP BY over entry_lines in the ledger's database, as the ledger's
#    application role with SET LOCAL tahe.tenant (under row-level security, as the ledger reads).
#    Every report must equal its naive result to the cent: the run fails otherwise.
# 8. The lag (--mode=lag): the ledger benchmark's posting load (tahe_ledger_load's client,
#    --concurrency clients of one 2-line PostEntry each, 3 s warm-up + --lag-duration s) on a
#    second organisation while reporting follows; GetFeedStatus of the whole cell sampled every
#    100 ms (the max of seconds_behind), and the p99 of reporting's
#    tahe_reporting_feed_apply_delay_seconds histogram over the load (the delta of /metrics
#    before and after; interpolated inside its bucket, and the bucket's bound).
# 9. Prints a Markdown summary for services/reporting/README.md ("Speed"). Then stops everything
#    (also on failure or Ctrl-C).
#
# Nothing here checks a timing threshold: the script reports, people judge. Exit status is
# non-zero only when something could not run or came out wrong (rejected entries, a report that
# differs from its naive query, failed calls).
#
# Options:
#   --lines N             journal lines of the books (default 10000000)
#   --lines-per-entry N   lines per entry (default 10)
#   --cost-centres N      cost centres (default 200)
#   --first-year Y        the books cover Y and Y + 1; the reports are of Y + 1 (default: two
#                         years before this one)
#   --streams N           concurrent PostEntries streams (default 2)
#   --batch-size N        entries per PostEntries batch (default 500)
#   --calls N             timed calls of each report (default 50)
#   --naive-runs N        timed runs of each naive query (default 3)
#   --concurrency N       posting clients of the lag run (default 64)
#   --lag-duration S      measured seconds of the lag run's posting load (default 20)
#   --quick               --lines 200000 --calls 20 --naive-runs 2 --lag-duration 5
#   --build-dir DIR       where the binaries are built (default $TAHE_BUILD_DIR, else build/)
#   --ledger-args "..."   extra flags for tahe_ledger
#   --reporting-args "..." extra flags for tahe_reporting (e.g. "--feed_max_batch=5000")
#   --keep                keep the work directory (logs, PostgreSQL's log) and print its path
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "${repo}/tests/pg/lib.sh"
# shellcheck source=tests/bench/lib.sh
source "${repo}/tests/bench/lib.sh"

lines=10000000
lines_per_entry=10
cost_centres=200
first_year=$(($(date -u +%Y) - 2))
streams=2
batch_size=500
calls=50
naive_runs=3
concurrency=64
lag_duration=20
ledger_args=""
reporting_args=""
keep=0
build_dir=${TAHE_BUILD_DIR:-build}
command_line=$(bench_command_line run_reporting_bench.sh "$@")

while (($# > 0)); do
  case "$1" in
    --lines) lines=$2; shift 2 ;;
    --lines-per-entry) lines_per_entry=$2; shift 2 ;;
    --cost-centres) cost_centres=$2; shift 2 ;;
    --first-year) first_year=$2; shift 2 ;;
    --streams) streams=$2; shift 2 ;;
    --batch-size) batch_size=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --naive-runs) naive_runs=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --lag-duration) lag_duration=$2; shift 2 ;;
    --quick) lines=200000; calls=20; naive_runs=2; lag_duration=5; shift ;;
    --build-dir) build_dir=$2; shift 2 ;;
    --ledger-args) ledger_args=$2; shift 2 ;;
    --reporting-args) reporting_args=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    -h | --help) bench_usage ;;
    *) echo "run_reporting_bench.sh: unknown option $1" >&2; bench_usage ;;
  esac
done
for n in lines lines_per_entry cost_centres first_year streams batch_size calls naive_runs \
  concurrency lag_duration; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || tahe_die "--${n//_/-} must be a whole number, not '${!n}'"
done
((lines >= 2 && lines_per_entry >= 2 && cost_centres >= 1 && streams >= 1 && batch_size >= 1 &&
  calls >= 1 && naive_runs >= 1 && concurrency >= 1 && lag_duration >= 1)) ||
  tahe_die "--lines and --lines-per-entry must be >= 2, the other numbers >= 1"
year=$((first_year + 1))

# --- 1. the binaries ------------------------------------------------------------------------------
[[ "${build_dir}" = /* ]] || build_dir="${repo}/${build_dir}"
build_type=$(sed -n 's/^CMAKE_BUILD_TYPE:STRING=//p' "${build_dir}/CMakeCache.txt" 2>/dev/null) ||
  true
ledger_bin="${build_dir}/services/ledger/tahe_ledger"
reporting_bin="${build_dir}/services/reporting/tahe_reporting"
load_bin="${build_dir}/tests/bench/tahe_reporting_load"
for bin in "${ledger_bin}" "${reporting_bin}" "${load_bin}"; do
  [[ -x "${bin}" ]] ||
    tahe_die "${bin} is not built (ninja -C ${build_dir} tahe_ledger tahe_reporting tahe_reporting_load)"
done

# --- 2. PostgreSQL ----------------------------------------------------------------------------
bench_make_work tahe-repbench
bench_start_pg
# Every client session commits synchronously, whatever the cluster default.
export PGOPTIONS="-c synchronous_commit=on"
bench_create_service_db ledger
bench_create_service_db reporting
token_file="${work}/internal_token"
bench_secret_file "${token_file}"

# --- 3. the ledger and reporting ------------------------------------------------------------------
# shellcheck disable=SC2086  # --ledger-args is a list of flags
bench_start_service ledger "${ledger_bin}" ${ledger_args}
ledger_pid=${service_pid}
ledger_addr=${service_addr}
# shellcheck disable=SC2086  # --reporting-args is a list of flags
bench_start_service reporting "${reporting_bin}" --ledger_addr="${ledger_addr}" ${reporting_args}
reporting_pid=${service_pid}
reporting_addr=${service_addr}
reporting_metrics=${service_metrics}

load() {  # load ARGS...: tahe_reporting_load against our ledger and reporting
  "${load_bin}" --addr="${reporting_addr}" --ledger_addr="${ledger_addr}" --tenant=bench \
    --internal_token_file="${token_file}" --first_year="${first_year}" \
    --cost_centres="${cost_centres}" "$@"
}
# run_step NAME ARGS...: load --mode=NAME ARGS into ${work}/NAME.out, shown; fails without RESULT.
run_step() {
  local name=$1 status=0
  shift
  load --mode="${name}" "$@" >"${work}/${name}.out" 2>&1 || status=$?
  cat "${work}/${name}.out"
  grep -q "^RESULT mode=${name} " "${work}/${name}.out" ||
    tahe_die "tahe_reporting_load --mode=${name} did not complete (exit ${status})"
  return "${status}"
}
# CPU seconds of the ledger, reporting, PostgreSQL (backends) and the whole machine, on one line.
cpu_now() {
  echo "$(cpu_of "${ledger_pid}") $(cpu_of "${reporting_pid}") $(cpu_of_tree "${postmaster_pid}")" \
    "$(cpu_of_machine)"
}

# --- 4. set-up --------------------------------------------------------------------------------
say "set-up: chart, 24 periods from ${first_year}, ${cost_centres} cost centres (not timed)"
run_step setup
checkpoint

# --- 5. the books -----------------------------------------------------------------------------
say "books: ${lines} lines in entries of ${lines_per_entry}, ${streams} PostEntries streams"
read -r l0 r0 p0 m0 < <(cpu_now)
post_status=0
run_step post --lines="${lines}" --lines_per_entry="${lines_per_entry}" --streams="${streams}" \
  --batch_size="${batch_size}" || post_status=$?
read -r l1 r1 p1 m1 < <(cpu_now)
post() { result_field "${work}/post.out" "$1"; }
cpu_post_ledger=$(calc "%.0f" "${l1} - ${l0}")
cpu_post_reporting=$(calc "%.0f" "${r1} - ${r0}")
cpu_post_pg=$(calc "%.0f" "${p1} - ${p0}")
cpu_post_machine=$(calc "%.0f" "${m1} - ${m0}")
cpu_post_other=$(calc "%.0f" "(${m1} - ${m0}) - (${l1} - ${l0}) - (${r1} - ${r0}) - (${p1} - ${p0})")
size_ledger=$(psql_db postgres -At -c "SELECT pg_size_pretty(pg_database_size('tahe_ledger'))")
size_reporting=$(psql_db postgres -At -c \
  "SELECT pg_size_pretty(pg_database_size('tahe_reporting'))")
aggregate_rows=$(psql_db tahe_reporting -At -F ' ' -c \
  "SELECT (SELECT count(*) FROM account_days), (SELECT count(*) FROM account_months),
          (SELECT count(*) FROM dimension_months), (SELECT count(*) FROM dimension_years)")
read -r rows_days rows_months rows_dims rows_dim_years <<<"${aggregate_rows}"

# --- 6. the steady state ------------------------------------------------------------------------
say "VACUUM ANALYZE of reporting's database, ANALYZE of the ledger's"
psql_db tahe_reporting -c "VACUUM ANALYZE"
psql_db tahe_ledger -c "ANALYZE"
checkpoint

# --- 7. the reports -----------------------------------------------------------------------------
say "reports of ${year}: ${calls} calls each; naive GROUP BY: ${naive_runs} runs each"
reports_status=0
run_step reports --year="${year}" --calls="${calls}" --naive_runs="${naive_runs}" \
  --ledger_db="$(bench_conninfo tahe_ledger_bench tahe_ledger)" || reports_status=$?
rep() { result_field "${work}/reports.out" "$1"; }
ratio() { calc "%.0f" "$(rep "naive_$1_p50_ms") / $(rep "$1_p50_ms")"; }

# --- 8. the feed's lag under the posting load -----------------------------------------------------
# The buckets of the apply-delay histogram: "le count" lines.
delay_buckets() {
  curl -fsS "${reporting_metrics}" |
    sed -n 's/^tahe_reporting_feed_apply_delay_seconds_bucket{le="\([^"]*\)"} \([0-9.e+]*\)$/\1 \2/p'
}
say "lag: ledger posting load, ${concurrency} clients, ${lag_duration} s, on a second organisation"
delay_buckets >"${work}/delay_before"
read -r l0 r0 p0 m0 < <(cpu_now)
lag_status=0
run_step lag --concurrency="${concurrency}" --duration_seconds="${lag_duration}" \
  --warmup_seconds=3 || lag_status=$?
read -r l1 r1 p1 m1 < <(cpu_now)
delay_buckets >"${work}/delay_after"
lag() { result_field "${work}/lag.out" "$1"; }
# p99 of the entries applied during the load: "interpolated bound count".
read -r delay_p99 delay_p99_bucket delay_count < <(
  paste -d ' ' "${work}/delay_before" "${work}/delay_after" |
    awk '{ le[NR] = $1; c[NR] = $4 - $2 } END {
      total = c[NR]; target = 0.99 * total; prev = 0; lo = 0
      for (i = 1; i <= NR; i++) {
        if (c[i] >= target) {
          hi = (le[i] == "+Inf") ? lo : le[i]
          f = (c[i] > prev) ? (target - prev) / (c[i] - prev) : 1
          printf "%.3f %s %d\n", lo + (hi - lo) * f, le[i], total; exit }
        prev = c[i]; lo = le[i] } print "0 0 0" }')
cpu_lag_ledger=$(calc "%.1f" "${l1} - ${l0}")
cpu_lag_reporting=$(calc "%.1f" "${r1} - ${r0}")
cpu_lag_pg=$(calc "%.1f" "${p1} - ${p0}")
cpu_lag_machine=$(calc "%.1f" "${m1} - ${m0}")

# --- 9. summary ---------------------------------------------------------------------------------
le() { awk -v v="$1" -v t="$2" 'BEGIN { print (v <= t) ? "met" : "**not met**" }'; }
ge() { awk -v v="$1" -v t="$2" 'BEGIN { print (v >= t) ? "met" : "**not met**" }'; }
pg_version=$(psql_db postgres -At -c "SHOW server_version")
pg_settings=$(psql_db postgres -At -F ' ' -c \
  "SELECT string_agg(name || '=' || current_setting(name), ', ' ORDER BY name) FROM pg_settings
   WHERE name IN ('fsync', 'synchronous_commit', 'shared_buffers', 'work_mem',
                  'max_parallel_workers_per_gather')")
mem_total=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
tb_ratio=$(ratio tb)
is_ratio=$(ratio is)
cc_ratio=$(ratio cc)
row() {  # row NAME KEY RATIO: a report's table row
  local p50
  p50=$(rep "$2_p50_ms")
  echo "| $1 | ${p50} | $(rep "$2_p99_ms") | $(le "${p50}" 20) | $(rep "naive_$2_p50_ms") ($(rep "naive_$2_n") runs) | **$3** | $(ge "$3" 100) |"
}

cat <<EOF

### Benchmark: ${lines} journal lines over two years, ${cost_centres} cost centres

Measured with \`${command_line}\` on $(date -u +%F), commit $(bench_commit), build ${build_type}.
Machine: $(bench_cpu_model), nproc $(nproc), ${mem_total}, $(uname -sr); PostgreSQL ${pg_version}
(${pg_settings}). Client, ledger, reporting and PostgreSQL share the machine.${ledger_args:+ Ledger flags: \`${ledger_args}\`.}${reporting_args:+ Reporting flags: \`${reporting_args}\`.}

**The books**: $(post entries) entries ($(post lines) lines, ${first_year}-01 … ${year}-12) posted
through ${streams} \`PostEntries\` streams in batches of ${batch_size} in $(post post_seconds) s =
**$(post lines_per_s) lines/s**; reporting, following all along, was $(post behind_at_post_end)
entries behind when the posting ended and had applied everything $(post catch_up_seconds) s later:
**$(post applied_lines_per_s) lines/s** applied from the first line to the last. CPU seconds meanwhile:
ledger ${cpu_post_ledger}, reporting ${cpu_post_reporting}, PostgreSQL ${cpu_post_pg}, everything
else on the machine ${cpu_post_other} (of ${cpu_post_machine}). Databases: ledger ${size_ledger},
reporting ${size_reporting} (${rows_days} account-day, ${rows_months} account-month,
${rows_dims} dimension-month and ${rows_dim_years} dimension-year rows).

**The reports** of ${year} (with ${first_year} alongside), after VACUUM ANALYZE; reporting over gRPC,
${calls} calls each after 3 warm-up calls; the naive GROUP BY over the $(rep journal_lines) journal
lines up to ${year}-12-31 in the ledger's database, as its application role under row-level
security. Every report equals its naive query to the cent: $( [[ "$(rep match)" == 1 ]] && echo yes || echo "**no**").

| Report | p50 ms | p99 ms | p50 ≤ 20 ms | Naive GROUP BY p50 ms | Naive / report | ≥ 100 × |
|---|---|---|---|---|---|---|
$(row "\`GetTrialBalance\` ($(rep tb_accounts) accounts)" tb "${tb_ratio}")
$(row "\`GetIncomeStatement\` (with previous year)" is "${is_ratio}")
$(row "\`GetCostCentreReport\` ($(rep cc_rows) rows, with previous year)" cc "${cc_ratio}")

**The feed's lag** under the ledger's posting load (${concurrency} clients, one 2-line entry a call,
on a second organisation): $(lag entries_per_s) entries/s (p50 $(lag post_p50_ms) ms, p99
$(lag post_p99_ms) ms, $(lag errors) errors). Reporting's apply delay (commit − \`posted_at\`) over
the ${delay_count} entries applied meanwhile: **p99 ${delay_p99} s** (interpolated; bucket ≤ ${delay_p99_bucket} s) —
≤ 1 s: $(le "${delay_p99}" 1). \`GetFeedStatus\` every 100 ms ($(lag samples) samples):
seconds_behind at most $(lag max_seconds_behind) s (p99 $(lag p99_seconds_behind) s), at most
$(lag max_events_behind) entries behind; caught up $(lag catch_up_seconds) s after the load.
CPU seconds meanwhile: ledger ${cpu_lag_ledger}, reporting ${cpu_lag_reporting}, PostgreSQL
${cpu_lag_pg}, the whole machine ${cpu_lag_machine}.
EOF

status=0
if ((post_status != 0 || reports_status != 0 || lag_status != 0)) ||
  [[ "$(post errors)" != 0 || "$(rep match)" != 1 || "$(lag errors)" != 0 ]]; then
  echo "run_reporting_bench.sh: the run did not come out right (see above)" >&2
  status=1
fi
exit "${status}"
