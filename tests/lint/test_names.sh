#!/usr/bin/env bash
# Fails when a Catch test name cannot be run on its own by ctest: catch_discover_tests splits
# names at ';' and Catch reads a leading '-' or '~' as an exclusion, so such a test would be
# registered as something that matches nothing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
bad=$(grep -rnE 'TEST_CASE\("([^"]*;|[-~])' --include='*.cc' libs services tools tests || true)
if [[ -n "${bad}" ]]; then
  echo "test names with ';' or a leading '-'/'~':" >&2
  echo "${bad}" >&2
  exit 1
fi
echo "test names are safe for ctest"
