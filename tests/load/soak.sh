#!/usr/bin/env bash
# The soak test: the local suite (deploy/local/run.sh in a state directory of its own: two cells of
# ledger, payroll, invoicing and reporting, the gateway, PostgreSQL, the demo) under a steady
# open-loop load through the gateway, with the memory of every process followed from the start to
# the end. Loopback only; bounded in time and in calls.
#
#   bash tests/load/soak.sh                          # 600 s at half the measured capacity
#   bash tests/load/soak.sh --seconds 90             # the CI variant (ctest soak_short)
#   bash tests/load/soak.sh --seconds 3600 --fraction 0.5   # the long run (README.md)
#
# 1. Starts the suite with the gateway's per-organisation rate limit raised
#    (TAHE_GATEWAY_RATE_PER_SECOND/_BURST) so that it never throttles this load.
# 2. Capacity: tahe_soak_load --mode=capacity, closed-loop clients with the mix of calls (postings,
#    ledger balances, reporting trial balances, payroll and invoicing lists, spread over the four
#    demo organisations, i.e. both cells) for --capacity-seconds after a 2 s warm-up: calls/s.
# 3. Soak: tahe_soak_load --mode=soak at --fraction of that rate (open loop: calls are sent when
#    they are due whatever the answers do) for --seconds, reporting a window every --seconds/10.
#    Memory is sampled before the load and at the end of every window: VmRSS and RssAnon
#    (/proc/PID/status) and PSS (/proc/PID/smaps_rollup) of every service of both cells and the
#    gateway, and of PostgreSQL as one group (the postmaster and all its children).
#    The first window is the warm-up: "start" is the sample at its end (memory) and the second
#    window (latency, errors); "end" is the last sample and the last window.
# 4. Writes a Markdown summary (soak_report.py) to $TAHE_SOAK_RESULT (default
#    ${TMPDIR:-/tmp}/tahe-soak-result.md) and prints it.
#
# Fails (exit 1) when any Tahe process's RSS grew from start to end by 10 % or more and by more
# than --floor-mib (default 2; README.md says why), when a Tahe process is gone, or when any call
# ended with a status other than OK and RESOURCE_EXHAUSTED (the rate limiter's; there should be
# none either) or was not sent. Latency is reported, never checked. PostgreSQL is reported, not
# checked (its shared buffers and caches fill as the tables grow: a cache, not a leak).
#
# Options:
#   --seconds N            length of the soak (default 600)
#   --fraction F           of the measured capacity (default 0.5)
#   --capacity-seconds S   measured seconds of the capacity run (default 10)
#   --concurrency C        closed-loop clients of the capacity run (default 16)
#   --floor-mib M          growth at or below M MiB is never a failure (default 2)
#
# Environment: TAHE_BUILD_DIR (default build/: services, tahectl), TAHE_SOAK_LOAD (default
# $TAHE_BUILD_DIR/tests/load/tahe_soak_load), TAHE_SOAK_RESULT (the summary's file).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${TAHE_BUILD_DIR:-${root}/build}
[[ "${build}" = /* ]] || build="${root}/${build}"
tahectl=${build}/tools/tahectl/tahectl
load_bin=${TAHE_SOAK_LOAD:-${build}/tests/load/tahe_soak_load}
result=${TAHE_SOAK_RESULT:-${TMPDIR:-/tmp}/tahe-soak-result.md}
command_line="bash tests/load/soak.sh $*"

seconds=600
fraction=0.5
capacity_seconds=10
concurrency=16
floor_mib=2
usage() { sed -n '2,/^set -euo/{/^#/s/^# \{0,1\}//p}' "${BASH_SOURCE[0]}"; }
while (($# > 0)); do
  case "$1" in
    --seconds) seconds=$2; shift 2 ;;
    --fraction) fraction=$2; shift 2 ;;
    --capacity-seconds) capacity_seconds=$2; shift 2 ;;
    --concurrency) concurrency=$2; shift 2 ;;
    --floor-mib) floor_mib=$2; shift 2 ;;
    -h | --help) usage; exit 0 ;;
    *) echo "soak.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done
for n in seconds capacity_seconds concurrency floor_mib; do
  [[ "${!n}" =~ ^[0-9]+$ && "${!n}" -gt 0 ]] || {
    echo "soak.sh: --${n//_/-} must be a whole number above 0, not '${!n}'" >&2
    exit 2
  }
done
((seconds >= 20)) || { echo "soak.sh: --seconds must be at least 20" >&2; exit 2; }
if ! [[ "${fraction}" =~ ^(0?\.[0-9]+|1(\.0*)?)$ ]] ||
  ! awk -v f="${fraction}" 'BEGIN { exit !(f > 0) }'; then
  echo "soak.sh: --fraction must be in (0, 1], not '${fraction}'" >&2
  exit 2
fi

: >"${result}" # no stale summary if this run fails before writing one

# shellcheck source=tests/e2e/e2e_lib.sh disable=SC2154  # state: set by e2e_begin
source "${root}/tests/e2e/e2e_lib.sh"
e2e_begin soak
[[ -x "${tahectl}" ]] || fail "build tahectl in ${build}"
[[ -x "${load_bin}" ]] || fail "build tahe_soak_load (${load_bin}; or set TAHE_SOAK_LOAD)"
export TAHE_GATEWAY_RATE_PER_SECOND=100000 TAHE_GATEWAY_RATE_BURST=200000

step "the suite comes up (run.sh --detach, with the demo; gateway rate limit 100000/s a tenant)"
e2e_start_suite
gateway=$(local_env TAHE_GATEWAY_ADDR)
key_file=${state}/secrets/operator_api_key
[[ -s "${key_file}" ]] || fail "no demo operator key in ${key_file}"
load=("${load_bin}" --addr="${gateway}" --bearer_file="${key_file}")

# The processes followed: name and pid of every service and the gateway (run.sh's pid files).
names=()
declare -A pid_of
for f in "${state}"/run/*.pid; do
  name=$(basename "${f}" .pid)
  [[ "${name}" != launcher ]] || continue
  names+=("${name}")
  pid_of[${name}]=$(<"${f}")
done
[[ -n "${pid_of[gateway]:-}" && ${#names[@]} -gt 1 ]] ||
  fail "expected the gateway and the cells' services in ${state}/run, found: ${names[*]}"

# sample INDEX: one line per process into samples.tsv (soak_sample.py): index, seconds since the
# load began, name, RSS, RssAnon, PSS (KiB), processes (PostgreSQL: its group's size; 0: gone).
samples=${state}/samples.tsv
: >"${samples}"
sample_args=(--group "postgres=$(head -1 "${state}/pg/data/postmaster.pid")")
for name in "${names[@]}"; do
  sample_args+=(--process "${name}=${pid_of[${name}]}")
done
sample() {
  local t
  t=$(awk -v a="${load_start:-$(date +%s.%N)}" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
  python3 "${root}/tests/load/soak_sample.py" --index "$1" --seconds "${t}" "${sample_args[@]}" \
    >>"${samples}"
}

load_begin=$(cut -d' ' -f1 /proc/loadavg)
uptime_begin=$(uptime)

step "capacity: ${concurrency} closed-loop clients, ${capacity_seconds} s after a 2 s warm-up"
"${load[@]}" --mode=capacity --concurrency="${concurrency}" --warmup_seconds=2 \
  --duration_seconds="${capacity_seconds}" >"${state}/capacity.out" 2>&1 || {
  cat "${state}/capacity.out" >&2
  fail "the capacity run failed"
}
cat "${state}/capacity.out"
capacity=$(sed -n 's/^RESULT .*calls_per_s=\([0-9.]*\).*/\1/p' "${state}/capacity.out")
rate=$(awk -v c="${capacity}" -v f="${fraction}" 'BEGIN { r = c * f; printf "%.1f", (r < 1 ? 1 : r) }')
window=$(awk -v s="${seconds}" 'BEGIN { printf "%.3f", s / 10 }')

step "soak: ${rate} calls/s (${fraction} of ${capacity}) for ${seconds} s, a window every ${window} s"
sample 0
shown=0
show_windows() { # the WINDOW lines not shown yet
  local lines
  lines=$(grep '^WINDOW ' "${state}/soak.out" || true)
  [[ -n "${lines}" ]] || return 0
  tail -n +"$((shown + 1))" <<<"${lines}"
  shown=$(wc -l <<<"${lines}")
}
load_start=$(date +%s.%N)
"${load[@]}" --mode=soak --rate="${rate}" --duration_seconds="${seconds}" \
  --report_every_seconds="${window}" >"${state}/soak.out" 2>&1 &
load_pid=$!
restarted+=("${load_pid}") # stopped by e2e_cleanup if we fail
for k in $(seq 1 10); do
  wake=$(awk -v s="${load_start}" -v w="${window}" -v k="${k}" 'BEGIN { printf "%.3f", s + k * w }')
  delay=$(awk -v t="${wake}" -v now="$(date +%s.%N)" 'BEGIN { d = t - now; printf "%.3f", (d > 0 ? d : 0) }')
  sleep "${delay}"
  sample "${k}"
  show_windows
  awk -v k="${k}" '$1 == k { if (!t) { printf "RSS at %s s:", $2; t = 1 }
      printf " %s %s", $3, ($4 == "gone" ? "gone" : sprintf("%.1f MiB", $4 / 1024)) }
    END { print "" }' "${samples}"
done
load_status=0
wait "${load_pid}" || load_status=$?
restarted=()
show_windows
grep -q '^RESULT ' "${state}/soak.out" || {
  cat "${state}/soak.out" >&2
  fail "tahe_soak_load did not finish (exit ${load_status})"
}
grep -v '^WINDOW' "${state}/soak.out"
load_end=$(cut -d' ' -f1 /proc/loadavg)
uptime_end=$(uptime)

step "summary"
commit=$(git -C "${root}" rev-parse --short HEAD 2>/dev/null || echo unknown)
if [[ -n "$(git -C "${root}" status --porcelain --untracked-files=no 2>/dev/null)" ]]; then
  commit+=" (with uncommitted changes)"
fi
report_status=0
python3 "${root}/tests/load/soak_report.py" \
  --samples "${samples}" --soak "${state}/soak.out" --capacity "${state}/capacity.out" \
  --seconds "${seconds}" --fraction "${fraction}" --rate "${rate}" --floor-mib "${floor_mib}" \
  --command "${command_line}" --commit "${commit}" \
  --machine "$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), nproc $(nproc)" \
  --uptime-begin "${uptime_begin}" --uptime-end "${uptime_end}" \
  --concurrency "${concurrency}" --capacity-seconds "${capacity_seconds}" \
  >"${result}" || report_status=$?
cat "${result}"
echo "summary written to ${result}"
echo "load average (1 min) at the start ${load_begin}, at the end ${load_end}"
((report_status == 0)) || fail "the soak failed its checks (see the verdicts above)"
step "passed"
