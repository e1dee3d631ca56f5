#!/usr/bin/env bash
# The ledger benchmark, in one command: the ledger against plain PostgreSQL on the same throwaway
# cluster, in the same run.
#
#   bash tests/bench/run_ledger_bench.sh                    # concurrency 64, 30 s, 100000 entries
#   bash tests/bench/run_ledger_bench.sh --quick            # a smoke run of a few seconds
#   bash tests/bench/run_ledger_bench.sh --concurrency 64 --duration 20 --bulk-entries 100000
#
# 1. Builds tahe_ledger and tahe_ledger_load (cmake, in $TAHE_BUILD_DIR, default build/).
# 2. Starts a throwaway PostgreSQL 15 with tests/pg/start.sh (fsync on, synchronous_commit on)
#    with two databases: `tahe_ledger` (the ledger's migrations, served as a login role that is a
#    member of tahe_ledger_app) and `tahe_plain` (entries and entry_lines as plain tables with
#    the same columns, keys, indexes and foreign key, but no RLS, no hash chain and no chain head).
# 3. Posting, at --concurrency clients for --duration seconds. Both sides first get an unmeasured
#    warm-up of --warmup seconds, then both databases are ANALYZEd (the steady state of a
#    database that autovacuum looks after; see --no-analyze), then each is measured:
#      pgbench: one transaction = insert one entry row and its two line rows, then commit
#               (prepared statements, -j 2);
#      ledger:  tahe_ledger_load --mode=post, one PostEntry of a 2-line entry per call.
#    Prints entries/s and p50/p99 latency of both and the ratio (target: ledger >= 1.5 x pgbench).
# 4. Bulk import of --bulk-entries 2-line entries:
#      ledger: one PostEntries stream in batches of --batch-size entries;
#      psql:   \copy of the same number of lines (2 x entries) from a CSV file made beforehand
#              into a plain table with entry_lines' columns, key and account index.
#    Prints lines/s of both and the ratio (target: ledger >= 0.5 x \copy).
# 5. Prints a Markdown summary for services/ledger/README.md, then stops everything.
#
# Nothing here checks a threshold: the script reports, people judge. Exit status is non-zero
# only when something could not run (or a run had errors). Needs bash, awk, sort and curl.
#
# Options:
#   --concurrency N      concurrent clients for posting (default 64)
#   --duration S         measured seconds of each posting run (default 30)
#   --warmup S           unmeasured seconds before each posting run (default 5)
#   --bulk-entries N     entries for the bulk import (default 100000, i.e. 200000 lines)
#   --batch-size N       entries per PostEntries batch (default 1000)
#   --ledger-args "..."  extra flags for tahe_ledger (e.g. "--commit_threads=1")
#   --no-analyze         skip the ANALYZE after the warm-up: measures a freshly created database,
#                        whose query plans (foreign key checks included) were made on empty tables
#   --quick              short runs (3 s, 1 s warm-up, 5000 bulk entries) to check the plumbing
#   --keep               keep the work directory (logs, CSV, pgbench logs) and print its path
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "${repo}/tests/pg/lib.sh"
# shellcheck source=tests/bench/lib.sh
source "${repo}/tests/bench/lib.sh"

concurrency=64
duration=30
warmup=5
bulk_entries=100000
batch_size=1000
ledger_args=""
keep=0
analyze=1
command_line=$(bench_command_line run_ledger_bench.sh "$@")

while (($# > 0)); do
  case "$1" in
    --concurrency) concurrency=$2; shift 2 ;;
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --bulk-entries) bulk_entries=$2; shift 2 ;;
    --batch-size) batch_size=$2; shift 2 ;;
    --ledger-args) ledger_args=$2; shift 2 ;;
    --quick) duration=3; warmup=1; bulk_entries=5000; shift ;;
    --keep) keep=1; shift ;;
    --no-analyze) analyze=0; shift ;;
    -h | --help) bench_usage ;;
    *) echo "run_ledger_bench.sh: unknown option $1" >&2; bench_usage ;;
  esac
done
for n in concurrency duration warmup bulk_entries batch_size; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || tahe_die "--${n//_/-} must be a whole number, not '${!n}'"
done
((concurrency >= 1 && duration >= 1 && bulk_entries >= 1 && batch_size >= 1)) ||
  tahe_die "--concurrency, --duration, --bulk-entries and --batch-size must be >= 1"

# --- 1. build ---------------------------------------------------------------------------------
bench_build tahe_ledger tahe_ledger_load
ledger_bin="${build_dir}/services/ledger/tahe_ledger"
load_bin="${build_dir}/tests/bench/tahe_ledger_load"

# --- 2. PostgreSQL and the ledger -------------------------------------------------------------
bench_make_work tahe-bench
bench_start_pg
# Every client session commits synchronously, whatever the cluster default.
export PGOPTIONS="-c synchronous_commit=on"

bench_create_service_db ledger
psql_db postgres -c "CREATE DATABASE tahe_plain"

# The plain equivalent of the ledger's journal tables (services/ledger/migrations/0001_ledger.sql):
# same columns, keys and indexes (no foreign key from lines to entries, as in the ledger); no
# row-level security, no hash chain, no chain head.
psql_db tahe_plain <<'SQL'
CREATE SEQUENCE entry_sequence;
CREATE TABLE entries (
  tenant_id         text NOT NULL,
  sequence          bigint NOT NULL CHECK (sequence > 0),
  request_id        text NOT NULL,
  request_hash      bytea NOT NULL,
  entry_date        date NOT NULL,
  description       text NOT NULL,
  source_system     text NOT NULL,
  source_reference  text NOT NULL,
  reverses_sequence bigint,
  posted_at         timestamptz NOT NULL,
  previous_hash     bytea NOT NULL,
  hash              bytea NOT NULL,
  PRIMARY KEY (tenant_id, sequence),
  UNIQUE (tenant_id, request_id)
);
CREATE UNIQUE INDEX entries_reverses ON entries (tenant_id, reverses_sequence)
  WHERE reverses_sequence IS NOT NULL;
CREATE INDEX entries_date ON entries (tenant_id, entry_date);
CREATE INDEX entries_source ON entries (tenant_id, source_system, source_reference);
CREATE TABLE entry_lines (
  tenant_id    text NOT NULL,
  sequence     bigint NOT NULL,
  line_no      integer NOT NULL,
  account      text NOT NULL,
  amount_minor bigint NOT NULL CHECK (amount_minor <> 0),
  currency     char(3) NOT NULL,
  dimensions   jsonb NOT NULL DEFAULT '{}',
  text         text NOT NULL DEFAULT '',
  entry_date   date NOT NULL,
  PRIMARY KEY (tenant_id, sequence, line_no)
);
CREATE INDEX entry_lines_account ON entry_lines (tenant_id, account, entry_date);
-- The \copy target: entry_lines' columns, key and account index, no foreign key.
CREATE TABLE bulk_lines (LIKE entry_lines INCLUDING DEFAULTS INCLUDING CONSTRAINTS);
ALTER TABLE bulk_lines ADD PRIMARY KEY (tenant_id, sequence, line_no);
CREATE INDEX bulk_lines_account ON bulk_lines (tenant_id, account, entry_date);
SQL

token_file="${work}/internal_token"
bench_secret_file "${token_file}"

# shellcheck disable=SC2086  # --ledger-args is a list of flags
bench_start_service ledger "${ledger_bin}" ${ledger_args}
ledger_pid=${service_pid}
grpc_addr=${service_addr}
metrics_url=${service_metrics}

load() {  # load ARGS...: tahe_ledger_load against our ledger
  "${load_bin}" --addr="${grpc_addr}" --tenant=bench --internal_token_file="${token_file}" "$@"
}
# Sum and count of the ledger's commit batch-size histogram.
batch_stats() {
  curl -fsS "${metrics_url}" 2>/dev/null |
    awk '/^tahe_ledger_commit_batch_entries_sum/ { s = $2 } /^tahe_ledger_commit_batch_entries_count/ { c = $2 }
         END { printf "%s %s\n", s + 0, c + 0 }'
}

# --- 3. posting: pgbench, then the ledger -----------------------------------------------------
pgbench_script="${work}/post_entry.sql"
cat >"${pgbench_script}" <<'SQL'
\set amount random(100, 100099)
\set r random(1, 9223372036854775806)
BEGIN;
INSERT INTO entries (tenant_id, sequence, request_id, request_hash, entry_date, description,
                     source_system, source_reference, posted_at, previous_hash, hash)
  VALUES ('bench', nextval('entry_sequence'), 'pgb-' || :client_id::text || '-' || :r::text,
          sha256(convert_to(:r::text, 'UTF8')), current_date, 'bench: card sale', 'bench',
          'pgb-' || :r::text, now(), sha256(convert_to(:amount::text, 'UTF8')),
          sha256(convert_to(:r::text || 'h', 'UTF8')));
INSERT INTO entry_lines (tenant_id, sequence, line_no, account, amount_minor, currency,
                         dimensions, text, entry_date)
  VALUES ('bench', currval('entry_sequence'), 1, '1910', :amount::bigint, 'EUR', '{}', '',
          current_date),
         ('bench', currval('entry_sequence'), 2, '3000', -(:amount::bigint), 'EUR', '{}', '',
          current_date);
END;
SQL
pgbench() {  # pgbench SECONDS [ARGS...]
  local seconds=$1
  shift
  "${TAHE_PG_BINDIR}/pgbench" -h "${pg_host}" -p "${pg_port}" -U "${pg_user}" \
    -c "${concurrency}" -j 2 -T "${seconds}" -n -M prepared -f "${pgbench_script}" "$@" tahe_plain
}

if ((warmup > 0)); then
  say "warm-up: pgbench ${warmup} s, ledger ${warmup} s"
  pgbench "${warmup}" >"${work}/pgbench_warmup.out" 2>&1 ||
    { cat "${work}/pgbench_warmup.out" >&2; tahe_die "pgbench warm-up failed"; }
  load --mode=post --concurrency="${concurrency}" --duration_seconds="${warmup}" \
    --warmup_seconds=0 >"${work}/post_warmup.out" 2>&1 ||
    { cat "${work}/post_warmup.out" >&2; tahe_die "tahe_ledger_load warm-up failed"; }
fi
if ((analyze)); then
  # Fresh statistics also invalidate plans cached on the empty tables, in every open session.
  psql_db tahe_plain -c "ANALYZE"
  psql_db tahe_ledger -c "ANALYZE"
fi
checkpoint
say "pgbench: ${concurrency} clients, ${duration} s"
pg_cpu0=$(cpu_of_tree "${postmaster_pid}")
machine_cpu0=$(cpu_of_machine)
TIMEFORMAT='%R %U %S'
{ time pgbench "${duration}" -l --log-prefix="${work}/pgbench_log" \
  >"${work}/pgbench.out" 2>&1; } 2>"${work}/pgbench.time" ||
  { cat "${work}/pgbench.out" >&2; tahe_die "pgbench failed"; }
pg_cpu1=$(cpu_of_tree "${postmaster_pid}")
machine_cpu1=$(cpu_of_machine)
pgbench_tps=$(sed -n 's/^tps = \([0-9.]*\) (\(without initial connection time\|excluding connections establishing\)).*/\1/p' \
  "${work}/pgbench.out")
[[ -n "${pgbench_tps}" ]] || pgbench_tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' "${work}/pgbench.out" | head -1)
[[ -n "${pgbench_tps}" ]] || { cat "${work}/pgbench.out" >&2; tahe_die "no tps in pgbench's output"; }
pgbench_tps=$(calc "%.1f" "${pgbench_tps}")
pgbench_failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "${work}/pgbench.out")
pgbench_failed=${pgbench_failed:-0}
pgbench_txns=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' \
  "${work}/pgbench.out")
# Per-transaction logs: the third field is the latency in microseconds.
cat "${work}"/pgbench_log.* | awk '{ print $3 / 1000 }' >"${work}/pgbench_latency_ms"
read -r pgbench_p50 pgbench_p99 < <(percentiles "0.50 0.99" "${work}/pgbench_latency_ms")
read -r _ pgbench_client_user pgbench_client_sys <"${work}/pgbench.time"
pgbench_cpu_pg=$(calc "%.1f" "${pg_cpu1} - ${pg_cpu0}")
pgbench_cpu_client=$(calc "%.1f" "${pgbench_client_user} + ${pgbench_client_sys}")
pgbench_cpu_other=$(calc "%.1f" \
  "${machine_cpu1} - ${machine_cpu0} - (${pg_cpu1} - ${pg_cpu0}) - ${pgbench_cpu_client}")
echo "pgbench: ${pgbench_tps} transactions/s (1 entry + 2 lines each), p50 ${pgbench_p50} ms," \
  "p99 ${pgbench_p99} ms, ${pgbench_failed} failed"

checkpoint
say "ledger post: ${concurrency} clients, ${duration} s"
read -r batch_sum0 batch_count0 < <(batch_stats)
pg_cpu0=$(cpu_of_tree "${postmaster_pid}")
machine_cpu0=$(cpu_of_machine)
ledger_cpu0=$(cpu_of "${ledger_pid}")
{ time load --mode=post --concurrency="${concurrency}" --duration_seconds="${duration}" \
  --warmup_seconds=1 >"${work}/post.out" 2>&1; } 2>"${work}/post.time" ||
  { cat "${work}/post.out" >&2; tahe_die "tahe_ledger_load --mode=post failed"; }
pg_cpu1=$(cpu_of_tree "${postmaster_pid}")
machine_cpu1=$(cpu_of_machine)
ledger_cpu1=$(cpu_of "${ledger_pid}")
read -r batch_sum1 batch_count1 < <(batch_stats)
cat "${work}/post.out"
ledger_eps=$(result_field "${work}/post.out" entries_per_s)
ledger_p50=$(result_field "${work}/post.out" p50_ms)
ledger_p99=$(result_field "${work}/post.out" p99_ms)
ledger_errors=$(result_field "${work}/post.out" errors)
ledger_total=$(result_field "${work}/post.out" entries_total)
read -r post_wall post_client_user post_client_sys <"${work}/post.time"
post_cpu_pg=$(calc "%.1f" "${pg_cpu1} - ${pg_cpu0}")
post_cpu_ledger=$(calc "%.1f" "${ledger_cpu1} - ${ledger_cpu0}")
post_cpu_client=$(calc "%.1f" "${post_client_user} + ${post_client_sys}")
post_cpu_other=$(calc "%.1f" "${machine_cpu1} - ${machine_cpu0} - (${pg_cpu1} - ${pg_cpu0})\
  - (${ledger_cpu1} - ${ledger_cpu0}) - ${post_cpu_client}")
# CPU of the whole stack per entry: the cost that decides throughput once the cores are busy.
pgbench_us=$(calc "%.0f" "(${pgbench_cpu_pg} + ${pgbench_cpu_client}) * 1e6 / ${pgbench_txns}")
post_us=$(calc "%.0f" "(${post_cpu_pg} + ${post_cpu_ledger} + ${post_cpu_client}) * 1e6 / ${ledger_total}")
avg_batch="n/a"
if [[ "${batch_count1}" != "${batch_count0}" ]]; then
  avg_batch=$(calc "%.1f" "(${batch_sum1} - ${batch_sum0}) / (${batch_count1} - ${batch_count0})")
fi
post_ratio=$(calc "%.2f" "${ledger_eps} / ${pgbench_tps}")
echo "post: ledger ${ledger_eps} entries/s vs pgbench ${pgbench_tps} transactions/s:" \
  "ratio ${post_ratio} (target >= 1.5); average group commit ${avg_batch} entries"

# --- 4. bulk: PostEntries, then psql \copy of as many lines ------------------------------------
checkpoint
say "ledger bulk: ${bulk_entries} entries in batches of ${batch_size}"
read -r batch_sum0 batch_count0 < <(batch_stats)
{ time load --mode=bulk --entries="${bulk_entries}" --batch_size="${batch_size}" \
  >"${work}/bulk.out" 2>&1; } 2>"${work}/bulk.time" ||
  { cat "${work}/bulk.out" >&2; tahe_die "tahe_ledger_load --mode=bulk failed"; }
cat "${work}/bulk.out"
bulk_lps=$(result_field "${work}/bulk.out" lines_per_s)
bulk_lines=$(result_field "${work}/bulk.out" lines)
bulk_seconds=$(result_field "${work}/bulk.out" seconds)
bulk_errors=$(result_field "${work}/bulk.out" errors)
[[ "${bulk_lines}" == "$((2 * bulk_entries))" ]] ||
  echo "run_ledger_bench.sh: the ledger imported ${bulk_lines} lines, not $((2 * bulk_entries))" >&2

copy_lines=$((2 * bulk_entries))
csv="${work}/lines.csv"
today=$(date -u +%F)
awk -v n="${bulk_entries}" -v d="${today}" 'BEGIN {
  for (i = 1; i <= n; i++) {
    a = 100 + i % 100000
    printf "bench,%d,1,1910,%d,EUR,{},\"\",%s\n", i, a, d
    printf "bench,%d,2,3000,%d,EUR,{},\"\",%s\n", i, -a, d
  } }' >"${csv}"
checkpoint
say "psql \\copy: ${copy_lines} lines"
copy_start=$(now)
psql_db tahe_plain -c "\\copy bulk_lines FROM '${csv}' WITH (FORMAT csv)" >"${work}/copy.out"
copy_end=$(now)
copied=$(psql_db tahe_plain -At -c "SELECT count(*) FROM bulk_lines")
[[ "${copied}" == "${copy_lines}" ]] || tahe_die "\\copy loaded ${copied} lines, not ${copy_lines}"
copy_seconds=$(calc "%.3f" "${copy_end} - ${copy_start}")
copy_lps=$(calc "%.1f" "${copy_lines} / (${copy_end} - ${copy_start})")
bulk_ratio=$(calc "%.2f" "${bulk_lps} / ${copy_lps}")
echo "psql \\copy: ${copy_lines} lines in ${copy_seconds} s = ${copy_lps} lines/s"
echo "bulk: ledger ${bulk_lps} lines/s vs \\copy ${copy_lps} lines/s: ratio ${bulk_ratio}" \
  "(target >= 0.5)"

# --- 5. summary -------------------------------------------------------------------------------
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r >= t) ? "met" : "**not met**" }'; }
cpu_model=$(bench_cpu_model)
pg_version=$(psql_db postgres -At -c "SHOW server_version")
pg_settings=$(psql_db postgres -At -F ' ' -c \
  "SELECT string_agg(name || '=' || setting, ', ' ORDER BY name) FROM pg_settings
   WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'shared_buffers',
                  'full_page_writes', 'commit_delay')")
commit=$(bench_commit)
nproc=$(nproc)

cat <<EOF

### Benchmark: posting and bulk import

Measured with \`${command_line}\` on $(date -u +%F), commit ${commit}, build ${build_type}.
Machine: ${cpu_model}, nproc ${nproc}, $(uname -sr); PostgreSQL ${pg_version} (${pg_settings}).
Client, ledger and PostgreSQL share the machine. Each posting run follows a ${warmup} s warm-up
$( ((analyze)) && echo "and an ANALYZE of both databases" || echo "without ANALYZE (--no-analyze: a fresh database)").${ledger_args:+ Ledger flags: \`${ledger_args}\`.}

| Workload | Ledger | Plain PostgreSQL | Ratio | Target |
|---|---|---|---|---|
| Post one 2-line entry, ${concurrency} concurrent clients, ${duration} s | ${ledger_eps} entries/s (PostEntry; p50 ${ledger_p50} ms, p99 ${ledger_p99} ms; ${ledger_errors} errors) | ${pgbench_tps} tx/s (pgbench, 1 entry + 2 lines a transaction; p50 ${pgbench_p50} ms, p99 ${pgbench_p99} ms) | ${post_ratio} | >= 1.5: $(verdict "${post_ratio}" 1.5) |
| Bulk import ${bulk_entries} entries (${copy_lines} lines) | ${bulk_lps} lines/s (PostEntries, batches of ${batch_size}, ${bulk_seconds} s; ${bulk_errors} errors) | ${copy_lps} lines/s (psql \\copy of the lines only, ${copy_seconds} s) | ${bulk_ratio} | >= 0.5: $(verdict "${bulk_ratio}" 0.5) |

CPU seconds used during the measured posting runs (${nproc} cores; "other" is every other process
on the machine, which competes for the same cores):

| Posting run | Wall s | Entries | PostgreSQL | tahe_ledger | Client | Other | CPU µs/entry (ours) |
|---|---|---|---|---|---|---|---|
| pgbench | ${duration} | ${pgbench_txns} | ${pgbench_cpu_pg} | – | ${pgbench_cpu_client} | ${pgbench_cpu_other} | ${pgbench_us} |
| ledger (incl. 1 s ramp-up) | ${post_wall} | ${ledger_total} | ${post_cpu_pg} | ${post_cpu_ledger} | ${post_cpu_client} | ${post_cpu_other} | ${post_us} |

Average group commit: ${avg_batch} entries per transaction (tahe_ledger_commit_batch_entries).
EOF

status=0
if [[ "${ledger_errors}" != "0" || "${bulk_errors}" != "0" || "${pgbench_failed}" != "0" ]]; then
  echo "run_ledger_bench.sh: some calls failed (see above)" >&2
  status=1
fi
exit "${status}"
