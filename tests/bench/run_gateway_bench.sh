#!/usr/bin/env bash
# The gateway benchmark, in one command: one cheap ledger read directly on the cell, through
# tahe_gateway and through nginx's grpc_pass (the well-known alternative), at concurrency 1 and
# 64, all in the same run.
#
#   bash tests/bench/run_gateway_bench.sh                   # 20 s per target and concurrency
#   bash tests/bench/run_gateway_bench.sh --quick           # a smoke run of a few seconds
#   bash tests/bench/run_gateway_bench.sh --duration 30 --rounds 5 --keep
#
# 1. Builds tahe_ledger, tahe_gateway and tahe_gateway_load (cmake, in $TAHE_BUILD_DIR, default
#    build/).
# 2. Starts a throwaway PostgreSQL 15 with tests/pg/start.sh with two databases: `tahe_ledger`
#    and `tahe_gateway`, each migrated by its service as the owner and served as a login role
#    that is a member of the service's application role (tahe_ledger_app, tahe_gateway_app).
# 3. Starts tahe_ledger and tahe_gateway on free loopback ports; the gateway with rate limiting
#    off (--rate_per_second=0) and --bootstrap_admin_key_file, which makes it issue an admin key.
#    With that key, `tahe_gateway_load --mode=setup_gateway` creates a region whose
#    tahe.ledger.v1 address is the ledger, the organisation `bench` and a client key (roles
#    ledger.read, ledger.write); `--mode=setup_ledger` loads the chart, opens the period and posts
#    two entries for `bench` directly on the ledger.
# 4. Writes an nginx config into the work directory and starts /usr/sbin/nginx on loopback:
#    plain-text HTTP/2 (h2c) in, `grpc_pass` to the ledger out, tuned as an operator would for
#    this job (see write_nginx_conf below and services/gateway/README.md, "Speed").
# 5. The load: tahe_gateway_load --mode=read, closed-loop clients each with one
#    GetAccountBalance(1910) in flight, at concurrency 1 and 64, against
#      direct   the ledger, with x-tahe-internal-token and x-tahe-tenant: bench
#      gateway  the gateway, with `authorization: Bearer <client key>` only
#      nginx    nginx, with the same metadata as direct (nginx passes everything through).
#    First one unmeasured warm-up run per target, then --rounds rounds; in each round every
#    target runs once per concurrency for --duration / --rounds measured seconds (after a
#    --warmup of its own, as each run opens new connections), in an order that rotates from
#    round to round, so that no target always runs first or last. Latencies of all rounds are
#    merged before the percentiles are taken.
# 6. Prints a Markdown summary for services/gateway/README.md: throughput and latency per target
#    and concurrency, the ratios gateway/direct and gateway/nginx at concurrency 64, the p50
#    latency the gateway adds at concurrency 1, and the CPU each process spent per call. Then
#    stops everything (also on failure or Ctrl-C).
#
# Nothing is pinned (no taskset): load generator, ledger, PostgreSQL and the proxy under test
# share every core of the machine, as they would on a small host; CPU a proxy spends is CPU the
# ledger and PostgreSQL do not get, which is part of what the comparison measures. The summary
# says how many cores there were.
#
# Nothing here checks a threshold: the script reports, people judge. Exit status is non-zero only
# when something could not run or a call failed. Needs bash, awk, sort and /usr/sbin/nginx (the
# Debian package nginx, with its grpc and http2 modules).
#
# Options:
#   --duration S             measured seconds per target and concurrency, over all rounds
#                            (default 20)
#   --warmup S               unmeasured seconds at the start of every run (default 2)
#   --rounds N               rounds the measured time is split into (default 3)
#   --clients-per-channel N  clients sharing one HTTP/2 connection (default 8)
#   --quick                  --duration 3 --warmup 1 --rounds 1, to check the plumbing
#   --keep                   keep the work directory (logs, nginx.conf, latencies); print its path
#   --perf                   also profile tahe_gateway and the nginx workers with `perf record`
#                            during their first-round runs at concurrency 64 and print the hottest
#                            symbols (the profiles cost CPU: compare figures of runs without it);
#                            implies --keep, the perf.data files stay in the work directory
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=tests/pg/lib.sh
source "${repo}/tests/pg/lib.sh"
# shellcheck source=tests/bench/lib.sh
source "${repo}/tests/bench/lib.sh"

duration=20
warmup=2
rounds=3
clients_per_channel=8
keep=0
profile=0
concurrencies=(1 64)
targets=(direct gateway nginx)
nginx_bin=${NGINX:-/usr/sbin/nginx}
command_line=$(bench_command_line run_gateway_bench.sh "$@")

while (($# > 0)); do
  case "$1" in
    --duration) duration=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --clients-per-channel) clients_per_channel=$2; shift 2 ;;
    --quick) duration=3; warmup=1; rounds=1; shift ;;
    --keep) keep=1; shift ;;
    --perf) profile=1; keep=1; shift ;;
    -h | --help) bench_usage ;;
    *) echo "run_gateway_bench.sh: unknown option $1" >&2; bench_usage ;;
  esac
done
for n in duration warmup rounds clients_per_channel; do
  [[ "${!n}" =~ ^[0-9]+$ ]] || tahe_die "--${n//_/-} must be a whole number, not '${!n}'"
done
((duration >= 1 && rounds >= 1 && clients_per_channel >= 1)) ||
  tahe_die "--duration, --rounds and --clients-per-channel must be >= 1"
[[ -x "${nginx_bin}" ]] || tahe_die "${nginx_bin} not found: install the Debian package nginx"
((!profile)) || command -v perf >/dev/null || tahe_die "--perf needs perf (Debian: linux-perf)"

# --- 1. build ---------------------------------------------------------------------------------
bench_build tahe_ledger tahe_gateway tahe_gateway_load
ledger_bin="${build_dir}/services/ledger/tahe_ledger"
gateway_bin="${build_dir}/services/gateway/tahe_gateway"
load_bin="${build_dir}/tests/bench/tahe_gateway_load"

# --- 2. PostgreSQL ----------------------------------------------------------------------------
bench_make_work tahe-gwbench
nginx_dir="${work}/nginx"
bench_start_pg

bench_create_service_db ledger
bench_create_service_db gateway

token_file="${work}/internal_token"
bench_secret_file "${token_file}"
admin_key_file="${work}/admin_key"
client_key_file="${work}/client_key"

# --- 3. the ledger and the gateway ------------------------------------------------------------
bench_start_service ledger "${ledger_bin}"
ledger_pid=${service_pid}
ledger_addr=${service_addr}

bench_start_service gateway "${gateway_bin}" --rate_per_second=0 \
  --bootstrap_admin_key_file="${admin_key_file}"
gateway_pid=${service_pid}
gateway_addr=${service_addr}
[[ -s "${admin_key_file}" ]] ||
  tahe_die "the gateway did not write an admin key to --bootstrap_admin_key_file"

say "setting up the tenant: ledger ${ledger_addr}, gateway ${gateway_addr}"
"${load_bin}" --mode=setup_ledger --addr="${ledger_addr}" --internal_token_file="${token_file}" \
  --tenant=bench >"${work}/setup_ledger.out" 2>&1 ||
  { cat "${work}/setup_ledger.out" >&2; tahe_die "ledger set-up failed"; }
"${load_bin}" --mode=setup_gateway --addr="${gateway_addr}" --bearer_file="${admin_key_file}" \
  --tenant=bench --region=bench --ledger_addr="${ledger_addr}" \
  --api_key_out="${client_key_file}" >"${work}/setup_gateway.out" 2>&1 ||
  { cat "${work}/setup_gateway.out" >&2; tahe_die "gateway set-up failed"; }

# --- 4. nginx -----------------------------------------------------------------------------------
# The settings an operator would choose for a gRPC pass-through on this machine:
#  - worker_processes auto: one worker per core; reuseport spreads connections over them.
#  - access_log off: the gateway keeps no access log either (it has metrics instead).
#  - listen ... http2 without TLS: h2c, as the clients speak to the ledger and the gateway.
#  - keepalive_requests 1000000 (server and upstream): the default of 1000 would make nginx end
#    a client connection (GOAWAY) or an upstream connection every 1000 calls.
#  - upstream keepalive 64 per worker: nginx does not multiplex calls on an upstream connection,
#    so each call in flight holds one; 64 idle ones are kept instead of reconnecting per call.
#  - http2_max_concurrent_streams 128 (the default): more than the clients put on a connection.
mkdir -p "${nginx_dir}/tmp"
nginx_port=$(tahe_find_free_port 50700)
write_nginx_conf() {
  local user_line=""
  # Workers of a root master drop to an unprivileged user; the build's default group "nobody"
  # does not exist on Debian.
  ((EUID != 0)) || user_line="user www-data;"
  cat >"${nginx_dir}/nginx.conf" <<EOF
# Written by tests/bench/run_gateway_bench.sh: gRPC (h2c) on 127.0.0.1:${nginx_port} -> the ledger.
${user_line}
daemon off;
worker_processes auto;
pid ${nginx_dir}/nginx.pid;
error_log ${nginx_dir}/error.log warn;

events {
  worker_connections 4096;
}

http {
  access_log off;
  client_body_temp_path ${nginx_dir}/tmp/client_body;
  proxy_temp_path ${nginx_dir}/tmp/proxy;
  fastcgi_temp_path ${nginx_dir}/tmp/fastcgi;
  uwsgi_temp_path ${nginx_dir}/tmp/uwsgi;
  scgi_temp_path ${nginx_dir}/tmp/scgi;

  upstream ledger {
    server ${ledger_addr};
    keepalive 64;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
  }

  server {
    listen 127.0.0.1:${nginx_port} http2 reuseport;
    keepalive_requests 1000000;
    keepalive_timeout 300s;
    http2_max_concurrent_streams 128;

    location / {
      grpc_pass grpc://ledger;
    }
  }
}
EOF
}
write_nginx_conf
nginx_cmd=("${nginx_bin}" -p "${nginx_dir}" -c "${nginx_dir}/nginx.conf" -e "${nginx_dir}/error.log")
"${nginx_cmd[@]}" -t >"${work}/nginx_test.out" 2>&1 ||
  { cat "${work}/nginx_test.out" >&2; tahe_die "nginx -t rejected ${nginx_dir}/nginx.conf"; }
say "starting nginx on 127.0.0.1:${nginx_port}"
"${nginx_cmd[@]}" >"${nginx_dir}/stdout.log" 2>&1 &
nginx_pid=$!
bench_track "${nginx_pid}"
for _ in $(seq 1 100); do
  tahe_port_in_use "${nginx_port}" && break
  kill -0 "${nginx_pid}" 2>/dev/null || { cat "${nginx_dir}/error.log" >&2; tahe_die "nginx exited"; }
  sleep 0.1
done
tahe_port_in_use "${nginx_port}" || tahe_die "nginx did not listen within 10 s"
nginx_addr="127.0.0.1:${nginx_port}"

# --- 5. the load --------------------------------------------------------------------------------
# load TARGET CONCURRENCY WARMUP DURATION [ARGS...]: one tahe_gateway_load read run.
load() {
  local target=$1 c=$2 w=$3 d=$4
  shift 4
  local args=(--mode=read --target_name="${target}" --concurrency="${c}"
    --clients_per_channel="${clients_per_channel}" --warmup_seconds="${w}"
    --duration_seconds="${d}")
  case "${target}" in
    direct) args+=(--addr="${ledger_addr}" --internal_token_file="${token_file}"
      --metadata=x-tahe-tenant=bench) ;;
    gateway) args+=(--addr="${gateway_addr}" --bearer_file="${client_key_file}") ;;
    nginx) args+=(--addr="${nginx_addr}" --internal_token_file="${token_file}"
      --metadata=x-tahe-tenant=bench) ;;
  esac
  "${load_bin}" "${args[@]}" "$@"
}
# Context switches (voluntary and not) so far of every thread of the given processes.
switches_of() {
  local pid
  for pid in "$@"; do
    cat /proc/"${pid}"/task/*/status 2>/dev/null
  done | awk '/^(non)?voluntary_ctxt_switches:/ { n += $2 } END { print n + 0 }'
}
# TCP segments sent so far in this network namespace (loopback included).
tcp_segments() { awk '/^Tcp:/ && ++n == 2 { print $12 }' /proc/net/snmp; }
cpu_snapshot() {  # CPU s: ledger gateway nginx postgres machine; switches: gateway nginx; segments
  # shellcheck disable=SC2046  # one pid per word
  echo "$(cpu_of "${ledger_pid}") $(cpu_of "${gateway_pid}") $(cpu_of_tree "${nginx_pid}")" \
    "$(cpu_of_tree "${postmaster_pid}") $(cpu_of_machine) $(switches_of "${gateway_pid}")" \
    "$(switches_of "${nginx_pid}" $(pgrep -P "${nginx_pid}")) $(tcp_segments)"
}

say "warm-up: every target at concurrency ${concurrencies[-1]} for $((warmup > 1 ? warmup : 1)) s"
for target in "${targets[@]}"; do
  load "${target}" "${concurrencies[-1]}" 0 "$((warmup > 1 ? warmup : 1))" \
    >"${work}/warmup_${target}.out" 2>&1 ||
    { cat "${work}/warmup_${target}.out" >&2; tahe_die "warm-up against ${target} failed"; }
done

run_seconds=$(calc "%.3f" "${duration} / ${rounds}")
mkdir -p "${work}/latency"
# target c round calls seconds errors calls_total, CPU s: client ledger gateway nginx postgres
# machine, context switches: gateway nginx, TCP segments
runs="${work}/runs.tsv"
: >"${runs}"
failed_runs=0
TIMEFORMAT='%R %U %S'
for ((round = 0; round < rounds; round++)); do
  for c in "${concurrencies[@]}"; do
    order=()
    for ((i = 0; i < ${#targets[@]}; i++)); do
      order+=("${targets[$(((i + round) % ${#targets[@]}))]}")
    done
    for target in "${order[@]}"; do
      say "round $((round + 1))/${rounds}: ${target}, concurrency ${c}, ${run_seconds} s"
      out="${work}/run_${target}_c${c}_r${round}.out"
      perf_pid=""
      if ((profile && round == 0)) && [[ "${c}" == "${concurrencies[-1]}" && "${target}" != direct ]]; then
        perf_pids=${gateway_pid}
        [[ "${target}" != nginx ]] || perf_pids=$(pgrep -P "${nginx_pid}" | paste -sd,)
        perf record -F 1999 -g -p "${perf_pids}" -o "${work}/perf_${target}_r${round}.data" \
          >"${work}/perf_${target}_r${round}.log" 2>&1 &
        perf_pid=$!
      fi
      read -r l0 g0 n0 p0 m0 gs0 ns0 t0 < <(cpu_snapshot)
      status=0
      { time load "${target}" "${c}" "${warmup}" "${run_seconds}" \
        --latency_file="${work}/latency/${target}_c${c}_r${round}" >"${out}" 2>&1; } \
        2>"${out}.time" || status=$?
      read -r l1 g1 n1 p1 m1 gs1 ns1 t1 < <(cpu_snapshot)
      if [[ -n "${perf_pid}" ]]; then
        kill -INT "${perf_pid}" 2>/dev/null || true
        wait "${perf_pid}" 2>/dev/null || true
      fi
      cat "${out}"
      if ! grep -q '^RESULT ' "${out}"; then
        tahe_die "tahe_gateway_load against ${target} did not run (exit ${status})"
      fi
      ((status == 0)) || failed_runs=$((failed_runs + 1))
      read -r _ cu cs <"${out}.time"
      echo "${target} ${c} ${round} $(result_field "${out}" calls) $(result_field "${out}" seconds)" \
        "$(result_field "${out}" errors) $(result_field "${out}" calls_total)" \
        "$(calc "%.3f" "${cu} + ${cs}") $(calc "%.3f" "${l1} - ${l0}") $(calc "%.3f" "${g1} - ${g0}")" \
        "$(calc "%.3f" "${n1} - ${n0}") $(calc "%.3f" "${p1} - ${p0}") $(calc "%.3f" "${m1} - ${m0}")" \
        "$((gs1 - gs0)) $((ns1 - ns0)) $((t1 - t0))" >>"${runs}"
    done
  done
done

# --- 6. summary ---------------------------------------------------------------------------------
# CPU microseconds per call: per_call CPU_SECONDS CALLS.
per_call() { calc "%.0f" "$1 * 1e6 / ($2 > 0 ? $2 : 1)"; }
declare -A tput p50 p90 p99 errors cpu_line
for target in "${targets[@]}"; do
  for c in "${concurrencies[@]}"; do
    key="${target}_${c}"
    read -r calls seconds errs total client ledger gateway nginx postgres machine gateway_switches \
      nginx_switches segments < <(awk -v t="${target}" -v c="${c}" '$1 == t && $2 == c {
        calls += $4; seconds += $5; errors += $6; total += $7; client += $8; ledger += $9;
        gateway += $10; nginx += $11; pg += $12; machine += $13; gs += $14; ns += $15; ts += $16 }
      END { print calls + 0, seconds + 0, errors + 0, total + 0, client + 0, ledger + 0,
                  gateway + 0, nginx + 0, pg + 0, machine + 0, gs + 0, ns + 0, ts + 0 }' "${runs}")
    tput[${key}]=$(calc "%.0f" "${calls} / ${seconds}")
    errors[${key}]=${errs}
    read -r a b d < <(percentiles "0.50 0.90 0.99" "${work}/latency/${target}_c${c}_r"*)
    p50[${key}]=$(calc "%.0f" "${a}")
    p90[${key}]=$(calc "%.0f" "${b}")
    p99[${key}]=$(calc "%.0f" "${d}")
    # CPU per call over the whole runs (warm-up included), by process.
    proxy_cpu="–"
    proxy_switches="–"
    if [[ "${target}" == "gateway" ]]; then
      proxy_cpu=$(per_call "${gateway}" "${total}")
      proxy_switches=$(calc "%.1f" "${gateway_switches} / (${total} > 0 ? ${total} : 1)")
    elif [[ "${target}" == "nginx" ]]; then
      proxy_cpu=$(per_call "${nginx}" "${total}")
      proxy_switches=$(calc "%.1f" "${nginx_switches} / (${total} > 0 ? ${total} : 1)")
    fi
    other=$(calc "%.3f" "${machine} - ${client} - ${ledger} - ${gateway} - ${nginx} - ${postgres}")
    cpu_line[${key}]="| ${target} | ${c} | $(per_call "${client}" "${total}") | ${proxy_cpu} |\
 ${proxy_switches} | $(calc "%.1f" "${segments} / (${total} > 0 ? ${total} : 1)") |\
 $(per_call "${ledger}" "${total}") | $(per_call "${postgres}" "${total}") |\
 $(per_call "${other}" "${total}") | $(per_call "${machine}" "${total}") |"
  done
done

verdict() {  # verdict VALUE OP TARGET
  awk -v v="$1" -v t="$3" -v op="$2" 'BEGIN {
    ok = (op == ">=") ? v >= t : v <= t; print ok ? "met" : "**not met**" }'
}
lo=${concurrencies[0]}
hi=${concurrencies[-1]}
ratio_direct=$(calc "%.2f" "${tput[gateway_${hi}]} / ${tput[direct_${hi}]}")
ratio_nginx=$(calc "%.2f" "${tput[gateway_${hi}]} / ${tput[nginx_${hi}]}")
ceiling=$(calc "%.2f" "${tput[direct_${hi}]} / ${tput[nginx_${hi}]}")
added_p50=$(calc "%.0f" "${p50[gateway_${lo}]} - ${p50[direct_${lo}]}")
nginx_added_p50=$(calc "%.0f" "${p50[nginx_${lo}]} - ${p50[direct_${lo}]}")

cpu_model=$(bench_cpu_model)
pg_version=$(psql_db postgres -At -c "SHOW server_version")
nginx_version=$("${nginx_bin}" -v 2>&1 | sed 's/^nginx version: //')
grpc_version=$(pkg-config --modversion grpc++ 2>/dev/null || echo unknown)
commit=$(bench_commit)
nproc=$(nproc)

cat <<EOF

### Benchmark: direct, through the gateway, through nginx

Measured with \`${command_line}\` on $(date -u +%F), commit ${commit}, build ${build_type}.
Machine: ${cpu_model}, nproc ${nproc}, $(uname -sr); PostgreSQL ${pg_version}; ${nginx_version};
gRPC ${grpc_version}. **All processes share the same ${nproc} cores** (load generator, ledger,
PostgreSQL, and the gateway or nginx; nothing pinned). The call: GetAccountBalance of one account
(one read-only transaction), closed loop, ${clients_per_channel} clients per HTTP/2 connection;
${duration} s measured per row in ${rounds} round(s) of ${run_seconds} s, each after a ${warmup} s
warm-up, targets in rotating order.

| Target | Concurrency | Calls/s | p50 µs | p90 µs | p99 µs | Errors |
|---|---|---|---|---|---|---|
EOF
for c in "${concurrencies[@]}"; do
  for target in "${targets[@]}"; do
    key="${target}_${c}"
    echo "| ${target} | ${c} | ${tput[${key}]} | ${p50[${key}]} | ${p90[${key}]} | ${p99[${key}]} | ${errors[${key}]} |"
  done
done
cat <<EOF

| Comparison | Measured | Target |
|---|---|---|
| gateway / direct throughput, concurrency ${hi} | ${ratio_direct} | >= 0.5: $(verdict "${ratio_direct}" ">=" 0.5) |
| gateway / nginx throughput, concurrency ${hi} | ${ratio_nginx} | >= 2: $(verdict "${ratio_nginx}" ">=" 2) |
| gateway − direct p50, concurrency ${lo} | ${added_p50} µs | <= 100 µs: $(verdict "${added_p50}" "<=" 100) |
| (for reference) nginx − direct p50, concurrency ${lo} | ${nginx_added_p50} µs | |
| (for reference) direct / nginx throughput, concurrency ${hi}: what a gateway costing nothing would reach against nginx | ${ceiling} | |

CPU microseconds per successful call, by process, over the whole runs (warm-ups included);
"other" is the machine's busy time (from /proc/stat, sampled at each tick: at concurrency 1,
with cores often idle, it undercounts and "other" can come out negative) minus the processes
listed, i.e. everyone else competing for the cores. "Proxy switches" are the context switches of
the gateway's threads or nginx's processes per call; "TCP segments" are those sent per call on the
whole network namespace (every hop, PostgreSQL's included, and anyone else's traffic):

| Target | Concurrency | Client | Proxy | Proxy switches | TCP segments | tahe_ledger | PostgreSQL | Other | Machine |
|---|---|---|---|---|---|---|---|---|---|
EOF
for c in "${concurrencies[@]}"; do
  for target in "${targets[@]}"; do
    echo "${cpu_line[${target}_${c}]}"
  done
done

if ((profile)); then
  for target in gateway nginx; do
    data="${work}/perf_${target}_r0.data"
    [[ -s "${data}" ]] || continue
    echo
    echo "Hottest symbols of ${target} at concurrency ${concurrencies[-1]} (self time; ${data}):"
    echo
    echo "By library:"
    perf report -i "${data}" --stdio --no-children -g none --sort dso 2>/dev/null |
      grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]]+$//' | sed -n 1,12p
    echo "By symbol:"
    perf report -i "${data}" --stdio --no-children -g none --sort dso,symbol 2>/dev/null |
      grep -E '^ +[0-9.]+%' | sed -E 's/[[:space:]-]+$//' | cut -c1-160 | sed -n 1,30p
  done
fi

status=0
if ((failed_runs > 0)); then
  echo "run_gateway_bench.sh: ${failed_runs} run(s) had failed calls (see above)" >&2
  status=1
fi
exit "${status}"
