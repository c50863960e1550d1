#!/usr/bin/env bash
# Stop the local PostgreSQL server started by scripts/pg-up.sh (same EVIDOCK_PG_DIR).
#
#   scripts/pg-down.sh            # stop ("fast": open transactions roll back); data is kept
#   scripts/pg-down.sh --purge    # stop and delete the data dir
#
# Idempotent: exits 0 when nothing is running. Refuses to delete a directory
# that pg-up.sh did not create.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
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
DATA=$DIR/data
MARKER=$DIR/.evidock-pg
TIMEOUT=${EVIDOCK_PG_TIMEOUT:-60}

log() { printf '[pg-down] %s\n' "$*" >&2; }
die() { printf '[pg-down] ERROR: %s\n' "$*" >&2; exit 1; }

purge=0
for arg in "$@"; do
    case $arg in
        --purge) purge=1 ;;
        -h|--help) sed -n '2,8s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $arg (only --purge)" ;;
    esac
done

if [[ ! -d $DIR ]]; then
    log "nothing to stop: $DIR does not exist"
    exit 0
fi
if [[ ! -e $MARKER ]]; then
    (( ! purge )) || die "$DIR was not created by scripts/pg-up.sh; not deleting it"
    log "nothing to stop: $DIR is not a data dir of scripts/pg-up.sh"
    exit 0
fi
exec 9>"$DIR/.lock"
flock -w "$((TIMEOUT + 60))" 9 || die "timed out waiting for another pg-up/pg-down on $DIR"

BINDIR=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
if (( EUID == 0 )); then as_server() { runuser -u postgres -- "$@"; }; else as_server() { "$@"; }; fi

# Alive, not a zombie, and serving this data dir (as in pg-up.sh).
postmaster_alive() {
    local pid state arg
    pid=$(head -n 1 -- "$DATA/postmaster.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null)
    [[ -n $state && $state != Z ]] || return 1
    local -a args=()
    mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do [[ $arg == "$DATA" ]] && return 0; done
    return 1
}

if [[ -n $BINDIR ]] && postmaster_alive; then
    as_server "$BINDIR/pg_ctl" stop -D "$DATA" -m fast -w -t "$TIMEOUT" >/dev/null \
        || die "the server in $DATA did not stop within ${TIMEOUT}s"
    log "stopped the server in $DATA"
else
    log "not running ($DATA)"
fi

if (( purge )); then
    rm -rf -- "$DIR"
    log "removed $DIR"
fi
