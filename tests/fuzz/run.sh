#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz with clang (ASan + UBSan + coverage, -DTAHE_FUZZ=ON)
# in a build directory of their own and runs each fuzzer for a while, starting from the kept
# corpus tests/fuzz/corpus/<name>/. Fails if any fuzzer finds a crash, a sanitizer report, a
# broken invariant, a leak or a timeout, and prints where the reproducer was kept.
#
#   bash tests/fuzz/run.sh                      # every fuzzer, 30 s each
#   bash tests/fuzz/run.sh --seconds 3600       # a long run
#   bash tests/fuzz/run.sh --seconds 600 --merge camt054 iban   # some fuzzers; keep what they found
#
# New inputs go to a fresh temporary directory: the repository's corpus is only read, unless
# --merge is given, which then adds to it (libFuzzer -merge=1) the new inputs that reach coverage
# the corpus does not. Environment: TAHE_FUZZ_BUILD_DIR (default build-fuzz), TAHE_FUZZ_JOBS
# (build jobs, default nproc), CCACHE_DIR as usual. Prints a summary table at the end.
set -euo pipefail

usage() {
  sed -n '2,15p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
}

seconds=30
merge=0
fuzzers=()
while (($# > 0)); do
  case "$1" in
    --seconds)
      seconds=${2:?--seconds needs a number}
      shift 2
      ;;
    --seconds=*)
      seconds=${1#--seconds=}
      shift
      ;;
    --merge)
      merge=1
      shift
      ;;
    -h | --help)
      usage
      exit 0
      ;;
    -*)
      echo "run.sh: unknown option $1" >&2
      usage >&2
      exit 2
      ;;
    *)
      fuzzers+=("$1")
      shift
      ;;
  esac
done
if ! [[ "${seconds}" =~ ^[1-9][0-9]*$ ]]; then
  echo "run.sh: --seconds must be a positive whole number, not '${seconds}'" >&2
  exit 2
fi

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
fuzz_dir=tests/fuzz
build_dir=${TAHE_FUZZ_BUILD_DIR:-build-fuzz}
jobs=${TAHE_FUZZ_JOBS:-$(nproc)}

all_fuzzers=()
for source in "${fuzz_dir}"/*_fuzz.cc; do
  name=$(basename "${source}" _fuzz.cc)
  all_fuzzers+=("${name}")
done
if ((${#fuzzers[@]} == 0)); then
  fuzzers=("${all_fuzzers[@]}")
fi
for name in "${fuzzers[@]}"; do
  if [[ ! -f "${fuzz_dir}/${name}_fuzz.cc" ]]; then
    echo "run.sh: no fuzzer ${name} (have: ${all_fuzzers[*]})" >&2
    exit 2
  fi
done

for tool in clang clang++; do
  if ! command -v "${tool}" >/dev/null 2>&1; then
    echo "run.sh: ${tool} is missing (bash tests/deps.sh installs clang and libclang-rt-14-dev)" >&2
    exit 1
  fi
done

launcher=()
if command -v ccache >/dev/null 2>&1; then
  launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi

build_start=${SECONDS}
mkdir -p "${build_dir}"
CC=clang CXX=clang++ cmake -G Ninja -S . -B "${build_dir}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DTAHE_FUZZ=ON "${launcher[@]}" >"${build_dir}/fuzz-configure.log" 2>&1 || {
  cat "${build_dir}/fuzz-configure.log" >&2
  echo "run.sh: configuring ${build_dir} failed" >&2
  exit 1
}
targets=()
for name in "${fuzzers[@]}"; do
  targets+=("${name}_fuzz")
done
nice -n 19 cmake --build "${build_dir}" -j"${jobs}" --target "${targets[@]}"
echo "run.sh: built ${#targets[@]} fuzzers in $((SECONDS - build_start)) s"

work=$(mktemp -d "${TMPDIR:-/tmp}/tahe-fuzz.XXXXXX")
keep_work=0
cleanup() {
  if ((keep_work == 0)); then
    rm -rf "${work}"
  fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# A field of libFuzzer's final statistics (-print_final_stats=1), or "?".
final_stat() {
  local value
  value=$(sed -n "s/^stat::$2: *//p" "$1" | tail -n 1)
  echo "${value:-?}"
}

rows=()
failed=()
for name in "${fuzzers[@]}"; do
  binary="${build_dir}/tests/fuzz/${name}_fuzz"
  corpus="${fuzz_dir}/corpus/${name}"
  mkdir -p "${corpus}"
  out="${work}/${name}"
  mkdir -p "${out}/new" "${out}/artifacts"
  args=(-max_total_time="${seconds}" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1
    -artifact_prefix="${out}/artifacts/")
  if [[ -f "${fuzz_dir}/${name}.dict" ]]; then
    args+=(-dict="${fuzz_dir}/${name}.dict")
  fi
  echo "run.sh: fuzzing ${name} for ${seconds} s (log ${out}/log)"
  status=0
  # New inputs go to the first directory (temporary); the kept corpus is only read.
  nice -n 19 "${binary}" "${args[@]}" "${out}/new" "${corpus}" >"${out}/log" 2>&1 || status=$?
  executions=$(final_stat "${out}/log" number_of_executed_units)
  per_second=$(final_stat "${out}/log" average_exec_per_sec)
  new_units=$(find "${out}/new" -type f | wc -l)
  kept=$(find "${corpus}" -type f | wc -l)
  coverage=$(grep -o 'cov: [0-9]*' "${out}/log" | tail -n 1 | sed 's/cov: //')
  artifacts=$(find "${out}/artifacts" -type f | sort)
  result=ok
  if ((status != 0)) || [[ -n "${artifacts}" ]]; then
    result="FAILED (exit ${status})"
    failed+=("${name}")
    keep_work=1
    echo "run.sh: ${name} FAILED; the end of its log:" >&2
    tail -n 60 "${out}/log" >&2
    for artifact in ${artifacts}; do
      echo "run.sh: reproducer kept: ${artifact}" >&2
      echo "run.sh: reproduce with: ${binary} ${artifact}" >&2
    done
  elif ((merge == 1)) && ((new_units > 0)); then
    before=${kept}
    nice -n 19 "${binary}" -merge=1 -timeout=10 -rss_limit_mb=2048 "${corpus}" "${out}/new" \
      >"${out}/merge.log" 2>&1 || {
      cat "${out}/merge.log" >&2
      echo "run.sh: merging into ${corpus} failed" >&2
      exit 1
    }
    kept=$(find "${corpus}" -type f | wc -l)
    result="ok, merged $((kept - before))"
  fi
  rows+=("$(printf '%-14s %8s %12s %10s %8s %8s %10s  %s' "${name}" "${seconds}" "${executions}" \
    "${per_second}" "${coverage:-?}" "${kept}" "${new_units}" "${result}")")
done

echo
printf '%-14s %8s %12s %10s %8s %8s %10s  %s\n' fuzzer seconds executions exec/s cov corpus \
  new-inputs result
for row in "${rows[@]}"; do
  echo "${row}"
done
echo "(corpus: files kept in ${fuzz_dir}/corpus/<fuzzer>; new-inputs: found in this run)"

if ((${#failed[@]} > 0)); then
  echo "run.sh: ${#failed[@]} fuzzer(s) failed: ${failed[*]}; logs and reproducers in ${work}" >&2
  exit 1
fi
