#!/usr/bin/env bash
# Stop the local S3 server started by scripts/s3-up.sh (same EVIDOCK_S3_DIR).
#
#   scripts/s3-down.sh            # stop; data is kept for the next s3-up
#   scripts/s3-down.sh --purge    # stop and delete the data dir
#
# Only processes named in the data dir's pid files are touched, and only if
# they were started with that data dir's ceph.conf. Idempotent: exits 0 when
# nothing is running. See docs/local-s3.md.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
DIR=$(realpath -m -- "${EVIDOCK_S3_DIR:-$REPO/.local/s3}")
CONF=$DIR/ceph.conf
RUN=$DIR/run
MARKER=$DIR/.evidock-s3
# Seconds to wait after SIGTERM before SIGKILL. It is a throwaway cluster and
# BlueStore survives a kill, so there is no point in waiting long.
TERM_WAIT=${EVIDOCK_S3_TERM_WAIT:-5}

log() { printf '[s3-down] %s\n' "$*" >&2; }
die() { printf '[s3-down] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $TERM_WAIT =~ ^[0-9]+$ ]] || die "EVIDOCK_S3_TERM_WAIT=$TERM_WAIT is not a number of seconds"

purge=0
for arg in "$@"; do
    case $arg in
        --purge) purge=1 ;;
        -h|--help) sed -n '2,9s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) die "unknown argument: $arg (only --purge)" ;;
    esac
done

if [[ ! -d $DIR ]]; then
    log "nothing to stop: $DIR does not exist"
    exit 0
fi
# Never act on (let alone delete) a directory s3-up.sh did not create.
if [[ ! -e $MARKER ]]; then
    (( ! purge )) || die "$DIR was not created by scripts/s3-up.sh; not deleting it"
    log "nothing to stop: $DIR is not a data dir of scripts/s3-up.sh"
    exit 0
fi

# Serialise with s3-up.sh. When s3-up.sh itself calls us it already holds the lock.
if [[ -z ${EVIDOCK_S3__LOCK_HELD:-} ]]; then
    exec 9>"$DIR/.lock"
    flock -w 300 9 || die "timed out waiting for another s3-up/s3-down on $DIR"
fi

# Is $1 a live (non-zombie) process started with our ceph.conf? A stale pid
# file may name a pid that now belongs to something else; a zombie has an
# empty command line and counts as gone.
is_ours() {
    local arg
    local -a args=()
    mapfile -d '' args 2>/dev/null <"/proc/$1/cmdline" || return 1
    for arg in "${args[@]}"; do [[ $arg == "$CONF" ]] && return 0; done
    return 1
}

gone_within() {  # pid, tenths of a second
    local n=$2
    while is_ours "$1"; do
        (( n-- > 0 )) || return 1
        sleep 0.1
    done
}

# Whether the cluster went down cleanly (radosgw unwatched its control
# objects, the OSD told the mon it is down) is remembered for the next s3-up,
# which otherwise has to clean up after the dead daemons first.
# Clean means: all three were running and each exited on SIGTERM.
found=0      # pid files seen
clean=0      # daemons that exited on SIGTERM
stop_daemon() {
    local name=$1 pid
    [[ -e $RUN/$name.pid ]] || return 0
    found=$((found + 1))
    pid=$(cat -- "$RUN/$name.pid" 2>/dev/null || true)
    if [[ $pid =~ ^[0-9]+$ ]] && is_ours "$pid"; then
        kill -TERM "$pid" 2>/dev/null || true
        if gone_within "$pid" $((TERM_WAIT * 10)); then
            clean=$((clean + 1))
            log "stopped $name (pid $pid)"
        else
            kill -KILL "$pid" 2>/dev/null || true
            gone_within "$pid" 50 || die "$name (pid $pid) survives SIGKILL"
            log "killed $name (pid $pid): still running ${TERM_WAIT}s after SIGTERM"
        fi
    else
        log "$name was not running (stale pid file: it crashed or was killed)"
    fi
    rm -f -- "$RUN/$name.pid"
}

# One at a time, clients before servers: radosgw, then the OSD, then the mon.
# (SIGTERM to radosgw and the OSD at the same moment hangs for ~10 s.)
for name in client.rgw.a osd.0 mon.a; do
    stop_daemon "$name"
done
if (( clean == 3 )); then
    touch -- "$DIR/stopped-cleanly"
elif (( found > 0 )); then
    rm -f -- "$DIR/stopped-cleanly"
fi   # nothing was running: leave the record of the last stop alone

if (( purge )); then
    rm -rf -- "$DIR"
    log "removed $DIR"
fi
