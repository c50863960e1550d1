#!/usr/bin/env bash
# Stop the 3-OSD Ceph cluster started by scripts/ceph-cluster-up.sh (same EVIDOCK_CLUSTER_DIR).
#
#   scripts/ceph-cluster-down.sh            # stop; data is kept for the next ceph-cluster-up
#   scripts/ceph-cluster-down.sh --purge    # stop and delete the data dir
#
# Only processes named in the data dir's pid files are touched, and only if
# they were started with that data dir's ceph.conf. Idempotent.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
DIR=$(realpath -m -- "${EVIDOCK_CLUSTER_DIR:-$REPO/.local/ceph-cluster}")
CONF=$DIR/ceph.conf
RUN=$DIR/run
MARKER=$DIR/.evidock-ceph-cluster
TERM_WAIT=${EVIDOCK_S3_TERM_WAIT:-5}   # seconds between SIGTERM and SIGKILL

log() { printf '[ceph-cluster-down] %s\n' "$*" >&2; }
die() { printf '[ceph-cluster-down] ERROR: %s\n' "$*" >&2; exit 1; }
[[ $TERM_WAIT =~ ^[0-9]+$ ]] || die "EVIDOCK_S3_TERM_WAIT=$TERM_WAIT is not a number of seconds"

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
    (( ! purge )) || die "$DIR was not created by scripts/ceph-cluster-up.sh; not deleting it"
    log "nothing to stop: $DIR is not a data dir of scripts/ceph-cluster-up.sh"
    exit 0
fi
if [[ -z ${EVIDOCK_CLUSTER__LOCK_HELD:-} ]]; then
    exec 9>"$DIR/.lock"
    flock -w 300 9 || die "timed out waiting for another ceph-cluster-up/-down on $DIR"
fi

# Alive (not a zombie) and started with our ceph.conf.
is_ours() {
    local arg state
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$1/stat" 2>/dev/null)
    [[ -n $state && $state != Z ]] || return 1
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

found=0 clean=0
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

# Clients before servers, one at a time: radosgw, the OSDs, then the mon.
for name in client.rgw.a osd.2 osd.1 osd.0 mon.a; do
    stop_daemon "$name"
done
if (( clean == 5 )); then
    touch -- "$DIR/stopped-cleanly"
elif (( found > 0 )); then
    rm -f -- "$DIR/stopped-cleanly"
fi

if (( purge )); then
    rm -rf -- "$DIR"
    log "removed $DIR"
fi
