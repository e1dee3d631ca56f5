#!/usr/bin/env bash
# Stops the throwaway cluster that tests/pg/start.sh started in DIR (fast shutdown). A cluster
# that is not running, or a DIR without one, is not an error. DIR itself is left in place.
#
#   bash tests/pg/stop.sh DIR
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 DIR" >&2
  exit 2
fi
# shellcheck source=tests/pg/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=$(realpath -m "$1")
if [[ -d "${dir}" ]]; then
  tahe_pg_stop "${dir}"
fi
