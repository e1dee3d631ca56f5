# shellcheck shell=bash
# Helpers for running a private PostgreSQL 15 cluster in a directory of our own, shared by
# tests/pg/start.sh, tests/pg/stop.sh and deploy/local/run.sh. Source it; it defines functions
# only (prefixed tahe_) and the variable TAHE_PG_BINDIR.
#
# Layout of a cluster directory DIR:
#   DIR/data/            the data directory (initdb)
#   DIR/data/tahe.conf   our settings (port, sockets, sizes), included from postgresql.conf
#   DIR/.s.PGSQL.PORT    the unix socket: DIR is the socket directory
#
# initdb and postgres refuse to run as root. When the caller is root, DIR is handed to the
# `postgres` system user (created by the postgresql-15 package) and every PostgreSQL program runs
# as that user through runuser; a normal user runs them directly.

TAHE_PG_BINDIR=${TAHE_PG_BINDIR:-/usr/lib/postgresql/15/bin}

tahe_die() {
  echo "$(basename "$0"): $*" >&2
  exit 1
}

# True when something accepts TCP connections on 127.0.0.1:PORT. Uses bash's /dev/tcp, so it
# needs no extra tools; a refused connection fails fast on loopback.
tahe_port_in_use() {
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

# Prints the first port >= START that nothing listens on and that is not among EXCLUDED (ports
# this script already handed out but whose server is not bound yet).
# Usage: tahe_find_free_port START [EXCLUDED...]
tahe_find_free_port() {
  local port=$1
  shift
  local excluded=" $* "
  while ((port <= 65535)); do
    if [[ "${excluded}" != *" ${port} "* ]] && ! tahe_port_in_use "${port}"; then
      echo "${port}"
      return 0
    fi
    port=$((port + 1))
  done
  echo "no free port at or above $1" >&2
  return 1
}

# Runs a command as the owner of the cluster directory DIR: as that user when we are root,
# directly otherwise. Runs from / so that a cwd the postgres user cannot enter (/root) does not
# produce warnings. Usage: tahe_pg_as_owner DIR COMMAND [ARGS...]
tahe_pg_as_owner() {
  local dir=$1
  shift
  if ((EUID == 0)); then
    local owner
    owner=$(stat -c %U "${dir}")
    [[ "${owner}" != "root" ]] || tahe_die "${dir} is owned by root; PostgreSQL cannot run as root"
    (cd / && runuser -u "${owner}" -- "$@")
  else
    "$@"
  fi
}

# Creates DIR if needed and makes sure PostgreSQL can use it: when root, hands it to the postgres
# user and checks that this user can reach it through the parent directories.
tahe_pg_prepare_dir() {
  local dir=$1
  [[ "${dir}" != *"'"* ]] || tahe_die "a cluster directory must not contain a quote: ${dir}"
  # A unix socket path is limited to 107 bytes: DIR/.s.PGSQL.NNNNN must fit.
  ((${#dir} <= 90)) || tahe_die "path too long for a PostgreSQL socket directory: ${dir}"
  mkdir -p "${dir}"
  if ((EUID == 0)); then
    id -u postgres >/dev/null 2>&1 ||
      tahe_die "running as root needs the postgres system user (install postgresql-15)"
    chown postgres:postgres "${dir}"
    chmod 700 "${dir}"
    runuser -u postgres -- test -w "${dir}" ||
      tahe_die "the postgres user cannot reach ${dir}; make its parent directories" \
        "traversable (chmod o+x) or use another directory"
  fi
}

# initdb DIR/data unless it exists. Extra arguments go to initdb (authentication).
# The superuser is tahe_admin; fsync stays on so that commit timings are honest.
# Usage: tahe_pg_init DIR [INITDB_ARGS...]
tahe_pg_init() {
  local dir=$1
  shift
  if [[ -f "${dir}/data/PG_VERSION" ]]; then
    return 0
  fi
  tahe_pg_as_owner "${dir}" "${TAHE_PG_BINDIR}/initdb" -D "${dir}/data" -U tahe_admin \
    -E UTF8 --locale=C.UTF-8 "$@" >"${dir}/initdb.log" 2>&1 ||
    {
      cat "${dir}/initdb.log" >&2
      tahe_die "initdb failed in ${dir}/data"
    }
  tahe_pg_as_owner "${dir}" sh -c "echo \"include 'tahe.conf'\" >>'${dir}/data/postgresql.conf'"
}

# Writes DIR/data/tahe.conf: loopback only on PORT, socket in DIR, room for many connections.
# Usage: tahe_pg_write_conf DIR PORT
tahe_pg_write_conf() {
  local dir=$1 port=$2
  tahe_pg_as_owner "${dir}" tee "${dir}/data/tahe.conf" >/dev/null <<EOF
# Written by tests/pg/lib.sh on every start; edit the script, not this file.
listen_addresses = '127.0.0.1'
port = ${port}
unix_socket_directories = '${dir}'
max_connections = 300
shared_buffers = 256MB
fsync = on
EOF
}

# The port in DIR/data/tahe.conf, empty if there is none.
tahe_pg_configured_port() {
  sed -n 's/^port = \([0-9]*\)$/\1/p' "$1/data/tahe.conf" 2>/dev/null || true
}

tahe_pg_is_running() {
  local dir=$1
  [[ -f "${dir}/data/PG_VERSION" ]] &&
    tahe_pg_as_owner "${dir}" "${TAHE_PG_BINDIR}/pg_ctl" status -D "${dir}/data" >/dev/null 2>&1
}

# Starts the cluster with the settings in tahe.conf and waits until it accepts connections.
# LOG must be writable by the owner of DIR. pg_ctl detaches the server from our session, so a
# Ctrl-C in the caller's terminal does not reach it. Fails (after printing the log tail) if the
# server does not come up. Usage: tahe_pg_start DIR LOG
tahe_pg_start() {
  local dir=$1 log=$2
  # fd 9 may hold deploy/local/run.sh's lock; the server must not inherit it.
  tahe_pg_as_owner "${dir}" "${TAHE_PG_BINDIR}/pg_ctl" start -D "${dir}/data" -l "${log}" \
    -w -t 60 -s 9>&-
}

# Fast shutdown (rolls back open transactions, then a clean checkpoint). A cluster that is not
# running, or does not exist, is fine.
tahe_pg_stop() {
  local dir=$1
  if tahe_pg_is_running "${dir}"; then
    tahe_pg_as_owner "${dir}" "${TAHE_PG_BINDIR}/pg_ctl" stop -D "${dir}/data" -m fast -w -t 60 -s
  fi
}

# psql as the superuser tahe_admin over the unix socket in DIR, stopping at the first error.
# Usage: tahe_psql DIR PORT [PSQL_ARGS...]   (SQL on stdin or with -c)
tahe_psql() {
  local dir=$1 port=$2
  shift 2
  tahe_pg_as_owner "${dir}" "${TAHE_PG_BINDIR}/psql" -h "${dir}" -p "${port}" -U tahe_admin \
    -d postgres -X -q -v ON_ERROR_STOP=1 "$@"
}
