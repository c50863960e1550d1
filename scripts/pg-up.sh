#!/usr/bin/env bash
# Start (or reuse) a local PostgreSQL server on loopback for the catalog of many
# stations: Debian's PostgreSQL packages, its own data dir, its own port, no
# systemd and nothing in /etc/postgresql or /var/lib/postgresql.
#
#   export $(scripts/pg-up.sh)     # DATABASE_URL=postgresql+psycopg://...
#
# stdout carries only that line; progress and errors go to stderr.
# Safe to call repeatedly: a running server is reused as is, a stopped or
# killed one is started again from its data (pg_ctl clears a dead postmaster's
# pid file itself). The data dir is never wiped by this script: a catalog is
# evidence. Stop with scripts/pg-down.sh. See docs/deployment.md ("Many stations").
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")

# ---- settings ---------------------------------------------------------------
PORT=${EVIDOCK_PG_PORT:-55432}        # not 5432: a system cluster may hold that one
DB_USER=${EVIDOCK_PG_USER:-evidock}
DB_PASSWORD=${EVIDOCK_PG_PASSWORD:-evidock-dev-password}
DB_NAME=${EVIDOCK_PG_DATABASE:-evidock}
TIMEOUT=${EVIDOCK_PG_TIMEOUT:-60}     # seconds pg_ctl waits for the server to accept connections

SUPERUSER=postgres             # the cluster's superuser role, whatever OS user runs the server

log() { printf '[pg-up] %s\n' "$*" >&2; }
die() { printf '[pg-up] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- validate ---------------------------------------------------------------
[[ $PORT =~ ^[0-9]+$ ]] && (( PORT >= 1024 && PORT <= 65535 )) \
    || die "EVIDOCK_PG_PORT=$PORT is not a port number in 1024..65535"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "EVIDOCK_PG_TIMEOUT=$TIMEOUT is not a number of seconds"
# The names and the password end up in SQL literals and in the URL: plain characters only.
[[ $DB_USER =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "EVIDOCK_PG_USER=$DB_USER: use lower-case letters, digits and _"
[[ $DB_NAME =~ ^[a-z_][a-z0-9_]{0,62}$ ]] || die "EVIDOCK_PG_DATABASE=$DB_NAME: use lower-case letters, digits and _"
[[ $DB_PASSWORD =~ ^[A-Za-z0-9._-]{8,128}$ ]] || die "EVIDOCK_PG_PASSWORD: 8 to 128 of A-Z a-z 0-9 . _ -"

# ---- packages ---------------------------------------------------------------
# Debian 12 ships PostgreSQL 15; take the newest installed major version.
find_bindir() { ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1; }
BINDIR=$(find_bindir)
if [[ -z $BINDIR || ! -x $BINDIR/pg_ctl ]]; then
    (( EUID == 0 )) || die "PostgreSQL is not installed and we are not root: apt-get install postgresql"
    log "installing PostgreSQL (postgresql postgresql-client) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >&2
    apt-get install -y -qq --no-install-recommends postgresql postgresql-client >&2
    BINDIR=$(find_bindir)
    [[ -n $BINDIR && -x $BINDIR/pg_ctl ]] || die "pg_ctl still missing after apt-get install"
fi

# The data dir: .local/pg in the repository, unless the "postgres" OS user that runs
# the server (when we are root) cannot reach the repository (a clone under /root,
# mode 0700): then /var/lib/evidock-pg/<hash of the repository path>.
default_dir() {
    if (( EUID == 0 )) && getent passwd postgres >/dev/null && ! runuser -u postgres -- test -x "$REPO" 2>/dev/null; then
        echo "/var/lib/evidock-pg/$(printf %s "$REPO" | sha256sum | cut -c1-12)"
    else
        echo "$REPO/.local/pg"
    fi
}
DIR=$(realpath -m -- "${EVIDOCK_PG_DIR:-$(default_dir)}")
DATA=$DIR/data                 # the cluster (initdb)
RUN=$DIR/run                   # the unix socket (only the server's own OS user may use it)
LOGS=$DIR/log
MARKER=$DIR/.evidock-pg        # "this directory belongs to these scripts"

# PostgreSQL refuses to run as root: as root, the server and its tools run as
# the "postgres" OS user that Debian's package creates.
if (( EUID == 0 )); then
    getent passwd postgres >/dev/null || die "no 'postgres' OS user (it comes with Debian's postgresql package)"
    as_server() { runuser -u postgres -- "$@"; }
    OWNER=postgres
else
    as_server() { "$@"; }
    OWNER=$(id -un)
fi
pg() { as_server "$BINDIR/$1" "${@:2}"; }
psql_admin() {  # SQL on stdin or -c, as the superuser over the private socket
    as_server "$BINDIR/psql" -X -q -A -t -v ON_ERROR_STOP=1 -h "$RUN" -p "$PORT" -U "$SUPERUSER" "$@"
}

# ---- data dir and lock ------------------------------------------------------
[[ -n ${EVIDOCK_PG_DIR:-} || $DIR == "$REPO/.local/pg" ]] \
    || log "the postgres OS user cannot reach $REPO; the data dir is $DIR"
if [[ -d $DIR && ! -e $MARKER ]] && [[ -n $(ls -A -- "$DIR") ]]; then
    die "$DIR exists, is not empty and was not created by this script; choose another EVIDOCK_PG_DIR"
fi
mkdir -p -- "$DIR"
touch -- "$MARKER"
# One pg-up/pg-down at a time per data dir (parallel test workers may all call pg-up).
exec 9>"$DIR/.lock"
flock -w "$((TIMEOUT + 60))" 9 || die "timed out waiting for another pg-up/pg-down on $DIR"
mkdir -p -- "$DATA" "$RUN" "$LOGS"
chown "$OWNER" -- "$DATA" "$RUN" "$LOGS"
chmod 0700 -- "$DATA" "$RUN"
if ! as_server test -x "$DIR" || ! as_server test -w "$LOGS"; then
    die "the OS user '$OWNER' that runs the server cannot reach $DIR (a parent directory is closed to it, e.g. /root); choose a reachable EVIDOCK_PG_DIR such as /var/tmp/evidock-pg"
fi

emit_env() {
    printf 'DATABASE_URL=postgresql+psycopg://%s:%s@127.0.0.1:%s/%s\n' "$DB_USER" "$DB_PASSWORD" "$PORT" "$DB_NAME"
}

# ---- the server's own settings ----------------------------------------------
# Regenerated on every start (included from postgresql.conf), so changing this
# script or EVIDOCK_PG_PORT applies on the next start.
write_conf() {
    as_server tee "$DATA/evidock.conf" >/dev/null <<EOF
# Generated by scripts/pg-up.sh on every start; edits are overwritten.
listen_addresses = '127.0.0.1'
port = $PORT
unix_socket_directories = '$RUN'
unix_socket_permissions = 0700
# Tests open one engine (a small pool) per station and per test.
max_connections = 300
# Durable like production: fsync, synchronous commit and full-page writes stay
# on (PostgreSQL's defaults); a test that kills the server must not be helped
# by a setting production will not have.
logging_collector = off
log_min_messages = warning
log_line_prefix = '%m [%p] %d '
EOF
}

# ---- create / start ---------------------------------------------------------
# The postmaster named in postmaster.pid, if it is alive and serves this data
# dir. A killed postmaster may linger as a zombie (the init of a container
# need not reap it): pg_ctl would call that "running" and wait for it forever.
live_pid() {  # a running process, not a zombie
    local state
    [[ $1 =~ ^[0-9]+$ ]] || return 1
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [[ -n $state && $state != Z ]]
}
postmaster_pid() {
    local pid arg
    pid=$(head -n 1 -- "$DATA/postmaster.pid" 2>/dev/null) || return 1
    live_pid "$pid" || return 1
    local -a args=()
    mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do [[ $arg == "$DATA" ]] && { echo "$pid"; return 0; }; done
    return 1
}
server_running() { postmaster_pid >/dev/null; }
answers() { pg pg_isready -q -h 127.0.0.1 -p "$PORT" -t 2; }

if [[ ! -s $DATA/PG_VERSION ]]; then
    [[ -z $(ls -A -- "$DATA") ]] || die "$DATA is not empty and holds no cluster; remove it (scripts/pg-down.sh --purge)"
    log "creating a new cluster in $DATA ($(basename "$(dirname "$BINDIR")"), port $PORT)"
    # Local socket: trust, the socket is reachable only by the server's OS user.
    # TCP: password (SCRAM) on loopback only, as a station would connect.
    pg initdb -D "$DATA" -U "$SUPERUSER" -E UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 >>"$LOGS/initdb.out" 2>&1 \
        || { tail -n 20 "$LOGS/initdb.out" >&2; die "initdb failed"; }
    echo "include = 'evidock.conf'" | as_server tee -a "$DATA/postgresql.conf" >/dev/null
fi

write_conf
if server_running && answers; then
    log "already running (port $PORT)"
else
    if server_running; then
        log "the server runs but does not answer on 127.0.0.1:$PORT; restarting it"
        pg pg_ctl stop -D "$DATA" -m fast -w -t "$TIMEOUT" >&2 || die "could not stop the server in $DATA"
    fi
    if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
        die "port $PORT on 127.0.0.1 is in use by another program; set EVIDOCK_PG_PORT"
    fi
    # Lock files naming a dead postmaster (checked above): when it is a zombie,
    # whose pid still "exists", the new postmaster would refuse to start.
    for lock in "$DATA/postmaster.pid" "$RUN/.s.PGSQL.$PORT.lock"; do
        [[ -e $lock ]] || continue
        pid=$(head -n 1 -- "$lock" 2>/dev/null || true)
        if ! live_pid "$pid"; then
            log "removing $(basename "$lock") of a server that was killed (pid $pid)"
            rm -f -- "$lock"
        fi
    done
    log "starting the server in $DATA (port $PORT)"
    # 9>&-: the server must not inherit (and hold) our lock.
    # One retry: after a kill -9 of the postmaster its children take a moment to
    # notice and exit, and until then the new one refuses the shared memory.
    start_server() { pg pg_ctl start -D "$DATA" -l "$LOGS/postgres.log" -w -t "$TIMEOUT" >/dev/null 2>&1 9>&-; }
    if ! start_server && ! { sleep 2; start_server; }; then
        tail -n 20 -- "$LOGS/postgres.log" >&2 || true
        die "the server did not start; its log is $LOGS/postgres.log"
    fi
fi

# ---- the application's role and database (idempotent) -----------------------
# CREATEDB: the test suite makes a fresh database per test.
psql_admin -d postgres >/dev/null <<SQL
SELECT 'CREATE ROLE $DB_USER LOGIN CREATEDB'
 WHERE NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '$DB_USER')\gexec
ALTER ROLE $DB_USER WITH LOGIN CREATEDB PASSWORD '$DB_PASSWORD';
SELECT 'CREATE DATABASE $DB_NAME OWNER $DB_USER'
 WHERE NOT EXISTS (SELECT FROM pg_database WHERE datname = '$DB_NAME')\gexec
SQL
log "ready"
emit_env
