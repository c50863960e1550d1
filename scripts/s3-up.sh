#!/usr/bin/env bash
# Start (or reuse) a throwaway single-node Ceph RADOS Gateway on loopback: a
# real S3 server with Object Lock, for `make run` and the `s3` tests.
#
#   export $(scripts/s3-up.sh)     # S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY
#
# stdout carries only those three lines; progress and errors go to stderr.
# Safe to call repeatedly: a healthy instance is reused as is, a dead or
# half-dead one is restarted from its existing data (so buckets survive), and
# only when that fails is the cluster thrown away and rebuilt.
# Everything (ceph.conf, mon/osd/rgw data, pid files, sockets, logs) lives in
# EVIDOCK_S3_DIR. See docs/local-s3.md; stop with scripts/s3-down.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")

# ---- settings ---------------------------------------------------------------
# realpath: the daemons are recognised by the ceph.conf path on their command
# line, so the path must be spelled the same way whatever the caller's cwd.
DIR=$(realpath -m -- "${EVIDOCK_S3_DIR:-$REPO/.local/s3}")
PORT=${EVIDOCK_S3_PORT:-7480}
# The mon port is baked into the cluster's monmap when the cluster is created.
# By default it follows the S3 port (7480 -> 3300, 7490 -> 3310) so that a
# second instance only needs a different EVIDOCK_S3_PORT.
MON_PORT_REQUESTED=${EVIDOCK_S3_MON_PORT:-}
BLOCK_SIZE=${EVIDOCK_S3_BLOCK_SIZE:-8G}   # sparse file; only used at creation
ACCESS_KEY=${EVIDOCK_S3_ACCESS_KEY:-evidock-dev}
SECRET_KEY=${EVIDOCK_S3_SECRET_KEY:-evidock-dev-secret-key-0123456789}
TIMEOUT=${EVIDOCK_S3_TIMEOUT:-120}        # seconds for one start attempt

S3_UID=evidock                 # the one S3 user
CONF=$DIR/ceph.conf
STATE=$DIR/cluster.env         # written once the cluster is fully created
MARKER=$DIR/.evidock-s3        # "this directory belongs to these scripts"
RUN=$DIR/run
LOGS=$DIR/log
DAEMONS=(mon.a osd.0 client.rgw.a)

unset CEPH_ARGS                # a caller's CEPH_ARGS must not leak into our cluster

T0=${EPOCHREALTIME//[.,]/}   # microseconds
log() {
    local us=$(( ${EPOCHREALTIME//[.,]/} - T0 ))
    printf '[s3-up %3d.%ds] %s\n' $((us / 1000000)) $((us / 100000 % 10)) "$*" >&2
}
die() { printf '[s3-up] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- validate ---------------------------------------------------------------
is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1024 && $1 <= 65535 )); }
is_port "$PORT" || die "EVIDOCK_S3_PORT=$PORT is not a port number in 1024..65535"
[[ -z $MON_PORT_REQUESTED ]] || is_port "$MON_PORT_REQUESTED" \
    || die "EVIDOCK_S3_MON_PORT=$MON_PORT_REQUESTED is not a port number in 1024..65535"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "EVIDOCK_S3_TIMEOUT=$TIMEOUT is not a number of seconds"
# The keys end up on radosgw-admin's command line, in cluster.env and in sed
# replacements: keep them to a plain character set.
[[ $ACCESS_KEY =~ ^[A-Za-z0-9._+/=-]{3,128}$ ]] || die "EVIDOCK_S3_ACCESS_KEY has unsupported characters"
[[ $SECRET_KEY =~ ^[A-Za-z0-9._+/=-]{8,128}$ ]] || die "EVIDOCK_S3_SECRET_KEY has unsupported characters"
# 8G / 8GiB / 512M / plain bytes, binary units.
BLOCK_BYTES=$(numfmt --from=iec -- "${BLOCK_SIZE%B}" 2>/dev/null || numfmt --from=iec-i -- "${BLOCK_SIZE%B}" 2>/dev/null) \
    || die "EVIDOCK_S3_BLOCK_SIZE=$BLOCK_SIZE is not a size like 8G"
(( BLOCK_BYTES >= 1 << 30 )) || die "EVIDOCK_S3_BLOCK_SIZE=$BLOCK_SIZE: need at least 1G"

# ---- packages ---------------------------------------------------------------
need=(ceph-mon ceph-osd radosgw radosgw-admin ceph monmaptool)
missing=0
for b in "${need[@]}"; do command -v "$b" >/dev/null || missing=1; done
if (( missing )); then
    (( EUID == 0 )) || die "Ceph is not installed and we are not root: apt-get install ceph-mon ceph-osd radosgw ceph-common"
    log "installing Ceph (ceph-mon ceph-osd radosgw ceph-common) ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2
    apt-get install -y --no-install-recommends ceph-mon ceph-osd radosgw ceph-common >&2
    for b in "${need[@]}"; do command -v "$b" >/dev/null || die "$b still missing after apt-get install"; done
fi

# ---- data dir and lock ------------------------------------------------------
if [[ -d $DIR && ! -e $MARKER ]] && [[ -n $(ls -A -- "$DIR") ]]; then
    die "$DIR exists, is not empty and was not created by this script; choose another EVIDOCK_S3_DIR"
fi
mkdir -p -- "$DIR"
touch -- "$MARKER"
# One s3-up/s3-down at a time per data dir (parallel test workers may all call
# s3-up). Every daemon is started with 9>&- so it does not inherit the lock.
exec 9>"$DIR/.lock"
flock -w "$((TIMEOUT + 60))" 9 || die "timed out waiting for another s3-up/s3-down on $DIR"
export EVIDOCK_S3__LOCK_HELD=1   # tells s3-down.sh (called below) not to lock again

state_get() { sed -n "s/^$1=//p" "$STATE" 2>/dev/null | tail -n 1; }

if [[ -f $STATE ]]; then
    MON_PORT=$(state_get mon_port)
    if [[ -n $MON_PORT_REQUESTED && $MON_PORT_REQUESTED != "$MON_PORT" ]]; then
        die "the cluster in $DIR was created with mon port $MON_PORT; unset EVIDOCK_S3_MON_PORT, set it to $MON_PORT, or run scripts/s3-down.sh --purge"
    fi
else
    MON_PORT=${MON_PORT_REQUESTED:-$((PORT - 4180))}
    is_port "$MON_PORT" || die "derived mon port $MON_PORT is out of range; set EVIDOCK_S3_MON_PORT"
fi
[[ $MON_PORT != "$PORT" ]] || die "S3 port and mon port are both $PORT"

emit_env() {
    printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\n' "$PORT" "$ACCESS_KEY" "$SECRET_KEY"
}

# ---- process helpers ----------------------------------------------------------
# A pid counts as ours only if that process was started with our ceph.conf
# (guards against stale pid files whose pid now belongs to something else).
own_pid() {
    local pid arg
    pid=$(cat -- "$RUN/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    local -a args=()
    mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do [[ $arg == "$CONF" ]] && { echo "$pid"; return 0; }; done
    return 1
}
all_running() { local d; for d in "${DAEMONS[@]}"; do own_pid "$d" >/dev/null || return 1; done; }
s3_answers() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# A cluster made before the user's bucket limit was lifted (see create_cluster): lift it once.
lift_bucket_limit() {
    [[ $(state_get max_buckets) == 0 ]] && return 0
    radosgw-admin -c "$CONF" user modify --uid="$S3_UID" --max-buckets=0 </dev/null >/dev/null 2>&1 9>&- \
        && echo "max_buckets=0" >>"$STATE"
}

# ---- fast path: already running ---------------------------------------------
if [[ -f $STATE && $(state_get port) == "$PORT" ]] && all_running && s3_answers; then
    lift_bucket_limit || log "could not lift the S3 user's bucket limit (1000 by default)"
    if [[ $(state_get access_key) != "$ACCESS_KEY" || $(state_get secret_key) != "$SECRET_KEY" ]]; then
        NEED_KEY_UPDATE=1
    else
        log "already running"
        emit_env
        exit 0
    fi
fi

# ---- ceph.conf ----------------------------------------------------------------
# Regenerated on every start (from the fsid and mon port fixed at creation), so
# changing EVIDOCK_S3_PORT or this script's settings applies on the next start.
write_conf() {
    local fsid=$1
    cat >"$CONF" <<EOF
# Generated by scripts/s3-up.sh on every start; edits are overwritten.
[global]
fsid = $fsid
mon_host = v2:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
# msgr2 only: the monmap has no v1 address.
ms_bind_msgr1 = false
ms_bind_msgr2 = true
# No cephx on loopback (S3 requests are still SigV4-signed). crc mode is
# required too, or radosgw fails "get_initial_auth_request returned -13".
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc

# Every path under the data dir: never /etc/ceph, /var/lib/ceph, /var/run/ceph.
run_dir = $RUN
pid_file = $RUN/\$name.pid
log_file = $LOGS/\$name.log
mon_cluster_log_file = $LOGS/cluster.log
crash_dir = $DIR/crash
keyring = $DIR/keyring
mon_data = $DIR/mon
osd_data = $DIR/osd
rgw_data = $DIR/rgw

# One OSD: pools of size 1, CRUSH picks OSDs not hosts, few PGs.
osd_pool_default_size = 1
osd_pool_default_min_size = 1
mon_allow_pool_size_one = true
mon_warn_on_pool_no_redundancy = false
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
# No ceph-mgr at all: nothing here needs it (rgw creates its pools through the mon).
mgr_initial_modules =
# Commit monitor changes (pool creation, OSD boot) quickly: cold start 16 s -> 5 s.
paxos_propose_interval = 0.1
paxos_min_wait = 0.01
# The mon shuts itself down when its disk has < 5% free; a dev box may well.
mon_data_avail_warn = 2
mon_data_avail_crit = 1
# RocksDB's own chatter (options dumps, periodic stats) is ~1 MB of OSD log
# per start; keep only its warnings and errors.
debug_rocksdb = 1/5

[osd]
# BlueStore on a sparse file that the OSD creates itself at mkfs as osd/block
# (pointing bluestore_block_path into the OSD dir fails: "Too many levels of
# symbolic links").
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = $BLOCK_BYTES
bluestore_block_db_create = false
bluestore_block_wal_create = false
osd_memory_target = 1073741824
# Start-up speed. The block device's aio thread polls every bdev_aio_poll_ms
# (250) and closing the device waits for it; mkfs and OSD start open and close
# it a dozen times (~3 s). The fsck right after mkfs checks an empty store.
bdev_aio_poll_ms = 10
bluestore_fsck_on_mkfs = false

[client.rgw.a]
# tcp_nodelay: without it every response with a body (XML: retention, legal
# hold, versioning, listings, multipart create/complete) waits ~40 ms for the
# client's delayed ACK of the header segment (Nagle), 2 ms with it.
rgw_frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
# Object Lock is on by default in 16.2; pools are created on first use.
# New buckets get a single index shard instead of 11: bucket creation, which
# the tests do a lot (unique bucket per test), needs fewer RADOS objects.
rgw_override_bucket_index_max_shards = 1
EOF
}

# ---- start / stop ---------------------------------------------------------------
stop_all() { EVIDOCK_S3_DIR=$DIR bash "$SCRIPT_DIR/s3-down.sh" >&2; }

show_logs() {
    local f
    for f in "$@"; do
        [[ -s $f ]] || continue
        printf -- '----- last lines of %s -----\n' "$f" >&2
        tail -n 20 -- "$f" >&2
    done
}
daemon_logs() { local d; for d in "$@"; do echo "$LOGS/$d.out" "$LOGS/$d.log"; done; }
fail() {  # message, daemons whose logs matter
    local msg=$1; shift
    printf '[s3-up] ERROR: %s\n' "$msg" >&2
    # shellcheck disable=SC2046
    show_logs $(daemon_logs "$@")
    exit 1
}

deadline=0
# Launch one daemon (ceph daemons fork and write their own pid file). Output of
# the launcher goes to log/<name>.out; the lock fd is not inherited.
launch() {
    local name=$1; shift
    if ! "$@" -c "$CONF" </dev/null >>"$LOGS/$name.out" 2>&1 9>&-; then
        fail "$name failed to start" "$name"
    fi
}
# wait_until DAEMON WHAT COMMAND...: poll COMMAND until it succeeds. Give up
# when a started daemon dies (show its log) or at the deadline (show the log
# of DAEMON, the one being waited for).
wait_until() {
    local waited_for=$1 what=$2; shift 2
    local d
    until "$@"; do
        for d in "${STARTED[@]}"; do
            [[ -e $RUN/$d.pid ]] || continue   # radosgw writes it just after forking
            own_pid "$d" >/dev/null || fail "$d died while waiting for $what" "$d"
        done
        (( SECONDS < deadline )) || fail "timed out after ${TIMEOUT}s waiting for $what" "$waited_for"
        sleep 0.1
    done
}
pidfile_written() { [[ -s $RUN/$1.pid ]]; }

# After an unclean stop (kill -9, crash, reboot, SIGKILL from s3-down.sh) two
# things left behind by the dead daemons stall the new ones:
#  1. The osdmap still shows the dead OSD as up at its old address (the nonce
#     after the port is the pid). A client that fetches the map before the new
#     OSD has booted talks to the wrong instance and only asks for a newer map
#     after objecter_timeout (10 s). So wait until the map shows *this* OSD up.
#  2. radosgw watches the objects notify.0..7 in its control pool and notifies
#     them on every metadata change (users, buckets); a notify waits for every
#     watcher to ack, 10 s at most. The OSD keeps watches on disk, so the watches
#     of a radosgw that died stall the next radosgw's start and first bucket
#     creations (~30 s) until the OSD expires them. No radosgw of ours runs at
#     this point, so every watcher is stale: blocklisting its address makes the
#     OSD drop its watches at once.
osd_is_up() {
    local pid
    pid=$(cat -- "$RUN/osd.0.pid" 2>/dev/null) || return 1
    ceph -c "$CONF" --connect-timeout 5 osd dump </dev/null 2>/dev/null 9>&- | grep -q "^osd\.0 up .*/$pid "
}
drop_stale_watchers() {
    local i addr left=$((deadline - SECONDS))
    (( left > 0 )) || left=1
    for i in 0 1 2 3 4 5 6 7; do
        timeout "$left" rados -c "$CONF" -p default.rgw.control listwatchers "notify.$i" \
            </dev/null 2>>"$LOGS/admin.out" 9>&- || true
    done | sed -n 's/^watcher=\([^ ]*\) .*/\1/p' | sort -u | while read -r addr; do
        log "dropping the stale watches of a dead radosgw ($addr)"
        ceph -c "$CONF" osd blocklist add "$addr" </dev/null >>"$LOGS/admin.out" 2>&1 9>&- || true
    done
}

# Start mon, osd and radosgw on an existing (already created) cluster.
# $1 = 1 if s3-down.sh stopped it cleanly last time.
start_daemons() {
    local clean=$1
    STARTED=()
    launch mon.a ceph-mon -i a
    STARTED+=(mon.a)
    # --no-mon-config: everything is in ceph.conf, skip fetching config from the mon.
    launch osd.0 ceph-osd -i 0 --no-mon-config
    STARTED+=(osd.0)
    if (( ! clean )); then
        log "last stop was not clean: cleaning up after the dead daemons"
        wait_until osd.0 "osd.0 to be up" osd_is_up
        drop_stale_watchers
    fi
    launch client.rgw.a radosgw -n client.rgw.a --no-mon-config
    STARTED+=(client.rgw.a)
    wait_until client.rgw.a "the radosgw pid file" pidfile_written client.rgw.a
    wait_until client.rgw.a "radosgw to answer on 127.0.0.1:$PORT" s3_answers
}

# Create a fresh cluster: monitor store, OSD (in the osdmap and on disk).
create_cluster() {
    local fsid osd_uuid
    fsid=$(uuidgen)
    osd_uuid=$(uuidgen)
    mkdir -p "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/crash" "$RUN" "$LOGS"
    write_conf "$fsid"
    monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" \
        "$DIR/monmap" >>"$LOGS/admin.out" 2>&1 || fail "monmaptool failed" admin
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" </dev/null >>"$LOGS/admin.out" 2>&1 9>&- \
        || fail "ceph-mon --mkfs failed" admin mon.a
    # BlueStore mkfs (which creates the sparse osd/block) needs no monitor:
    # run it while the mon starts. It is osd.0 because it is the only OSD.
    ceph-osd -c "$CONF" -i 0 --mkfs --osd-uuid "$osd_uuid" --no-mon-config \
        </dev/null >>"$LOGS/admin.out" 2>&1 9>&- &
    local mkfs_pid=$!
    STARTED=()
    launch mon.a ceph-mon -i a
    STARTED+=(mon.a)
    ceph -c "$CONF" --connect-timeout "$TIMEOUT" osd new "$osd_uuid" 0 </dev/null >>"$LOGS/admin.out" 2>&1 9>&- \
        || fail "'ceph osd new' failed" admin mon.a
    wait "$mkfs_pid" || fail "ceph-osd --mkfs failed" admin osd.0
    launch osd.0 ceph-osd -i 0 --no-mon-config
    STARTED+=(osd.0)
    launch client.rgw.a radosgw -n client.rgw.a --no-mon-config
    STARTED+=(client.rgw.a)
    wait_until client.rgw.a "the radosgw pid file" pidfile_written client.rgw.a
    # The first start creates the rgw pools and the default zone.
    wait_until client.rgw.a "radosgw to answer on 127.0.0.1:$PORT" s3_answers
    # --max-buckets=0: no limit. Every test makes its own bucket (locked objects cannot be
    # deleted, so none is ever reused), and RGW's default of 1000 stops a full run part way.
    radosgw-admin -c "$CONF" user create --uid="$S3_UID" --display-name="evidock dev" --max-buckets=0 \
        --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" </dev/null >/dev/null 2>>"$LOGS/admin.out" 9>&- \
        || fail "radosgw-admin user create failed" admin client.admin
    printf 'fsid=%s\nmon_port=%s\naccess_key=%s\nsecret_key=%s\nmax_buckets=0\n' \
        "$fsid" "$MON_PORT" "$ACCESS_KEY" "$SECRET_KEY" >"$STATE.tmp"
    mv "$STATE.tmp" "$STATE"
}

# Make the S3 user's key match the requested one (after EVIDOCK_S3_*_KEY changed).
update_keys() {
    local old
    old=$(state_get access_key)
    radosgw-admin -c "$CONF" key create --uid="$S3_UID" --key-type=s3 \
        --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" </dev/null >/dev/null 2>>"$LOGS/admin.out" 9>&- \
        || fail "radosgw-admin key create failed" admin client.admin
    if [[ -n $old && $old != "$ACCESS_KEY" ]]; then
        radosgw-admin -c "$CONF" key rm --uid="$S3_UID" --key-type=s3 --access-key="$old" \
            </dev/null >/dev/null 2>>"$LOGS/admin.out" 9>&- || true
    fi
    sed -i -e "s|^access_key=.*|access_key=$ACCESS_KEY|" -e "s|^secret_key=.*|secret_key=$SECRET_KEY|" "$STATE"
}
record_port() {
    sed -i '/^port=/d' "$STATE"
    echo "port=$PORT" >>"$STATE"
}

# Remove everything a cluster consists of; keep the last logs in log.prev/.
wipe_cluster() {
    rm -rf -- "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/crash" "$RUN" "$DIR/monmap" "$CONF" "$STATE" \
        "$DIR/stopped-cleanly"
    if [[ -d $LOGS ]]; then rm -rf -- "$DIR/log.prev"; mv -- "$LOGS" "$DIR/log.prev"; fi
}

check_ports_free() {
    local p
    for p in "$PORT" "$MON_PORT"; do
        if port_busy "$p"; then
            die "port $p on 127.0.0.1 is in use by another program (not this instance in $DIR); set EVIDOCK_S3_PORT / EVIDOCK_S3_MON_PORT"
        fi
    done
}

# Run one start attempt in a subshell with its own `set -e`, so that an error
# or `fail` ends just that attempt and the caller decides what to do next; the
# result is left in $RC. Never call this as an `if`/`||` condition: bash would
# then silently ignore `set -e` inside the whole attempt.
attempt() {
    set +e
    (set -e; "$@")
    RC=$?
    set -e
}

# ---- main -----------------------------------------------------------------------
if [[ ${NEED_KEY_UPDATE:-0} == 1 ]]; then
    log "S3 keys changed; updating the user in the running instance"
    attempt update_keys
    (( RC == 0 )) || exit 1
    emit_env
    exit 0
fi

# Not healthy: stop whatever of ours is still running, drop stale pid files.
stop_all
rm -f -- "$RUN"/*.pid "$RUN"/*.asok
check_ports_free

if [[ -f $STATE ]]; then
    log "restarting the existing cluster in $DIR (S3 on :$PORT, mon on :$MON_PORT)"
    mkdir -p "$RUN" "$LOGS"
    write_conf "$(state_get fsid)"
    clean=0
    [[ -e $DIR/stopped-cleanly ]] && clean=1
    rm -f -- "$DIR/stopped-cleanly"   # from now on the daemons run (or die)
    deadline=$((SECONDS + TIMEOUT))
    attempt start_daemons "$clean"
    if (( RC == 0 )); then
        record_port
        lift_bucket_limit || log "could not lift the S3 user's bucket limit (1000 by default)"
        if [[ $(state_get access_key) != "$ACCESS_KEY" || $(state_get secret_key) != "$SECRET_KEY" ]]; then
            attempt update_keys
            (( RC == 0 )) || { stop_all; exit 1; }
        fi
        log "ready"
        emit_env
        exit 0
    fi
    log "the existing cluster did not start (see above); discarding it and creating a new one"
    stop_all
fi

if [[ -e $DIR/mon || -e $DIR/osd ]]; then
    log "removing the old or half-created cluster in $DIR"
fi
wipe_cluster
log "creating a new cluster in $DIR (S3 on :$PORT, mon on :$MON_PORT, $(numfmt --to=iec "$BLOCK_BYTES") sparse block file)"
deadline=$((SECONDS + TIMEOUT))
attempt create_cluster
if (( RC != 0 )); then
    stop_all
    die "could not create the S3 server; logs are in $LOGS"
fi
record_port
log "ready"
emit_env
