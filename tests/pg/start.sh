#!/usr/bin/env bash
# Starts a throwaway PostgreSQL 15 cluster in DIR for the tests and prints how to reach it.
#
#   bash tests/pg/start.sh DIR      # then: set -a; . DIR/env; set +a
#   bash tests/pg/stop.sh DIR       # stop it; removing DIR is the caller's business
#
# The cluster trusts every local connection (it listens on 127.0.0.1 only and lives as long as
# a test run), has the superuser tahe_admin (with a database of the same name, so that a libpq
# connection without dbname works), keeps fsync on so that benchmarks measure honest commits,
# and allows 300 connections. The port is the first free one from 25432 up (below the ephemeral range). DIR/env holds:
#   TAHE_TEST_PG_HOST=127.0.0.1
#   TAHE_TEST_PG_PORT=<port>
#   TAHE_TEST_PG_USER=tahe_admin
# Starting a cluster that already runs in DIR only prints its env again.
set -euo pipefail

if (($# != 1)); then
  echo "usage: $0 DIR" >&2
  exit 2
fi
# shellcheck source=tests/pg/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

dir=$(realpath -m "$1")
log="${dir}/postgres.log"
tahe_pg_prepare_dir "${dir}"

if tahe_pg_is_running "${dir}"; then
  port=$(tahe_pg_configured_port "${dir}")
else
  tahe_pg_init "${dir}" -A trust
  # Another process may take the probed port before the server binds it (tests run in
  # parallel): then probe again from the next port.
  candidate=25432
  for attempt in 1 2 3 4 5; do
    port=$(tahe_find_free_port "${candidate}")
    tahe_pg_write_conf "${dir}" "${port}"
    log_lines=0
    if [[ -f "${log}" ]]; then
      log_lines=$(wc -l <"${log}")
    fi
    if tahe_pg_start "${dir}" "${log}"; then
      break
    fi
    if ((attempt < 5)) &&
      tail -n "+$((log_lines + 1))" "${log}" 2>/dev/null | grep -q "could not bind"; then
      candidate=$((port + 1))
      continue
    fi
    tail -n 20 "${log}" >&2 || true
    tahe_die "PostgreSQL did not start in ${dir} (log: ${log})"
  done
  # A database named like the superuser: libpq's default dbname.
  tahe_psql "${dir}" "${port}" <<'SQL'
SELECT 'CREATE DATABASE tahe_admin'
WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = 'tahe_admin') \gexec
SQL
fi

cat >"${dir}/env" <<EOF
TAHE_TEST_PG_HOST=127.0.0.1
TAHE_TEST_PG_PORT=${port}
TAHE_TEST_PG_USER=tahe_admin
EOF
cat "${dir}/env"
