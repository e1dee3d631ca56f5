#!/usr/bin/env bash
# Builds everything and runs every test: unit tests and the integration tests that need a real
# PostgreSQL, which gets a throwaway cluster of its own for this run.
#
#   bash tests/run.sh                       # from any directory
#   TAHE_BUILD_DIR=build-asan bash tests/run.sh
#
# Exits non-zero if installing, configuring, building or any test fails. The tests find the
# cluster through TAHE_TEST_PG_HOST, TAHE_TEST_PG_PORT and TAHE_TEST_PG_USER (a superuser; any
# connection from this machine is trusted).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
build_dir=${TAHE_BUILD_DIR:-build}
jobs=$(nproc)

bash tests/deps.sh

cmake -G Ninja -S . -B "${build_dir}" -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build "${build_dir}" -j"${jobs}"

pg_dir=$(mktemp -d "${TMPDIR:-/tmp}/tahe-test-pg.XXXXXX")
cleanup() {
  local status=$?
  bash tests/pg/stop.sh "${pg_dir}" || status=1
  rm -rf "${pg_dir}"
  exit "${status}"
}
trap cleanup EXIT
# Turn Ctrl-C and kill into a normal exit so that the EXIT trap stops the cluster.
trap 'exit 130' INT
trap 'exit 143' TERM

bash tests/pg/start.sh "${pg_dir}" >/dev/null
set -a
# shellcheck source=/dev/null
source "${pg_dir}/env"
set +a
echo "run.sh: test PostgreSQL on ${TAHE_TEST_PG_HOST}:${TAHE_TEST_PG_PORT} (${pg_dir})"

# --no-tests=error: a build that registers no test must not pass as green.
ctest --test-dir "${build_dir}" --output-on-failure -j2 --timeout 600 --no-tests=error

# A short fuzzing run of every parser of outside input (tests/fuzz/README.md), in its own clang
# build directory; the kept corpus was already replayed above (ctest fuzz_replay_*).
bash tests/fuzz/run.sh --seconds 15
