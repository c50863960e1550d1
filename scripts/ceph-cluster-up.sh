#!/usr/bin/env bash
# Start (or reuse) a local Ceph cluster of THREE OSDs behind one RADOS Gateway,
# on loopback: the object store of many stations, every pool replicated three
# times (size 3, min_size 2), so one OSD may die without a failed write.
#
#   export $(scripts/ceph-cluster-up.sh)   # S3_ENDPOINT, S3_ACCESS_KEY, S3_SECRET_KEY
#
# It is scripts/s3-up.sh's cluster grown to three OSDs, with its own data dir,
# ports and daemons; it never touches the single-node server of s3-up.sh.
# stdout carries only the three lines; progress and errors go to stderr.
# Safe to call repeatedly: a healthy cluster is reused; stopped or killed daemons
# are started again from their data (buckets survive). A cluster that does not
# come back is not thrown away by this script: see the logs, or start over with
# scripts/ceph-cluster-down.sh --purge. Stop with scripts/ceph-cluster-down.sh.
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")

# ---- settings ---------------------------------------------------------------
DIR=$(realpath -m -- "${EVIDOCK_CLUSTER_DIR:-$REPO/.local/ceph-cluster}")
PORT=${EVIDOCK_CLUSTER_PORT:-7580}           # S3 (radosgw); s3-up.sh's server is on 7480
MON_PORT=${EVIDOCK_CLUSTER_MON_PORT:-3400}   # baked into the monmap at creation; s3-up.sh's mon is on 3300
OSD_PORTS=${EVIDOCK_CLUSTER_OSD_PORTS:-7000-7099}  # each OSD binds four ports in this range
BLOCK_SIZE=${EVIDOCK_CLUSTER_BLOCK_SIZE:-8G}        # sparse file per OSD; only used at creation
ACCESS_KEY=${EVIDOCK_S3_ACCESS_KEY:-evidock-dev}
SECRET_KEY=${EVIDOCK_S3_SECRET_KEY:-evidock-dev-secret-key-0123456789}
TIMEOUT=${EVIDOCK_CLUSTER_TIMEOUT:-180}      # seconds for one start

OSDS=(0 1 2)
DATA_POOL=default.rgw.buckets.data   # where radosgw puts the objects' bytes
S3_UID=evidock
CONF=$DIR/ceph.conf
STATE=$DIR/cluster.env         # written once the cluster is fully created
MARKER=$DIR/.evidock-ceph-cluster
RUN=$DIR/run
LOGS=$DIR/log
DAEMONS=(mon.a osd.0 osd.1 osd.2 client.rgw.a)

unset CEPH_ARGS

log() { printf '[ceph-cluster-up %3ds] %s\n' "$SECONDS" "$*" >&2; }
die() { printf '[ceph-cluster-up] ERROR: %s\n' "$*" >&2; exit 1; }

# ---- validate ---------------------------------------------------------------
is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1024 && $1 <= 65535 )); }
is_port "$PORT" || die "EVIDOCK_CLUSTER_PORT=$PORT is not a port number in 1024..65535"
is_port "$MON_PORT" || die "EVIDOCK_CLUSTER_MON_PORT=$MON_PORT is not a port number in 1024..65535"
OSD_PORT_MIN=${OSD_PORTS%-*} OSD_PORT_MAX=${OSD_PORTS#*-}
is_port "$OSD_PORT_MIN" && is_port "$OSD_PORT_MAX" && (( OSD_PORT_MAX - OSD_PORT_MIN >= 4 * ${#OSDS[@]} )) \
    || die "EVIDOCK_CLUSTER_OSD_PORTS=$OSD_PORTS: give a range like 7000-7099 (four ports per OSD)"
[[ $TIMEOUT =~ ^[0-9]+$ ]] || die "EVIDOCK_CLUSTER_TIMEOUT=$TIMEOUT is not a number of seconds"
[[ $ACCESS_KEY =~ ^[A-Za-z0-9._+/=-]{3,128}$ ]] || die "EVIDOCK_S3_ACCESS_KEY has unsupported characters"
[[ $SECRET_KEY =~ ^[A-Za-z0-9._+/=-]{8,128}$ ]] || die "EVIDOCK_S3_SECRET_KEY has unsupported characters"
BLOCK_BYTES=$(numfmt --from=iec -- "${BLOCK_SIZE%B}" 2>/dev/null) \
    || die "EVIDOCK_CLUSTER_BLOCK_SIZE=$BLOCK_SIZE is not a size like 8G"
(( BLOCK_BYTES >= 1 << 30 )) || die "EVIDOCK_CLUSTER_BLOCK_SIZE=$BLOCK_SIZE: need at least 1G"

# ---- packages (as scripts/s3-up.sh) -------------------------------------------
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
    die "$DIR exists, is not empty and was not created by this script; choose another EVIDOCK_CLUSTER_DIR"
fi
mkdir -p -- "$DIR"
touch -- "$MARKER"
exec 9>"$DIR/.lock"
flock -w "$((TIMEOUT + 60))" 9 || die "timed out waiting for another ceph-cluster-up/-down on $DIR"
export EVIDOCK_CLUSTER__LOCK_HELD=1   # tells ceph-cluster-down.sh (called below) not to lock again

state_get() { sed -n "s/^$1=//p" "$STATE" 2>/dev/null | tail -n 1; }
if [[ -f $STATE && $(state_get mon_port) != "$MON_PORT" ]]; then
    die "the cluster in $DIR was created with mon port $(state_get mon_port); set EVIDOCK_CLUSTER_MON_PORT to it, or run scripts/ceph-cluster-down.sh --purge"
fi

emit_env() {
    printf 'S3_ENDPOINT=http://127.0.0.1:%s\nS3_ACCESS_KEY=%s\nS3_SECRET_KEY=%s\n' "$PORT" "$ACCESS_KEY" "$SECRET_KEY"
}
ceph_() { ceph -c "$CONF" --connect-timeout 30 "$@" </dev/null 9>&-; }

# ---- process helpers (as scripts/s3-up.sh) -----------------------------------
# A pid counts as ours only if that process is alive (not a zombie: a container's
# PID 1 may not reap it) and was started with our ceph.conf.
own_pid() {
    local pid arg state
    pid=$(cat -- "$RUN/$1.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(sed -n 's/^[0-9]* (.*) \([A-Z]\) .*/\1/p' "/proc/$pid/stat" 2>/dev/null)
    [[ -n $state && $state != Z ]] || return 1
    local -a args=()
    mapfile -d '' args 2>/dev/null <"/proc/$pid/cmdline" || return 1
    for arg in "${args[@]}"; do [[ $arg == "$CONF" ]] && { echo "$pid"; return 0; }; done
    return 1
}
all_running() { local d; for d in "${DAEMONS[@]}"; do own_pid "$d" >/dev/null || return 1; done; }
s3_answers() { curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$PORT/"; }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# ---- fast path: already running ---------------------------------------------
if [[ -f $STATE ]] && all_running && s3_answers; then
    log "already running"
    emit_env
    exit 0
fi

# ---- ceph.conf ----------------------------------------------------------------
# Regenerated on every start from the fsid fixed at creation; each setting that
# differs from scripts/s3-up.sh's single node says why.
write_conf() {
    cat >"$CONF" <<EOF
# Generated by scripts/ceph-cluster-up.sh on every start; edits are overwritten.
[global]
fsid = $1
mon_host = v2:127.0.0.1:$MON_PORT
public_addr = 127.0.0.1
cluster_addr = 127.0.0.1
ms_bind_msgr1 = false
ms_bind_msgr2 = true
# The OSDs' ports, apart from those of scripts/s3-up.sh's OSD (6800 up).
ms_bind_port_min = $OSD_PORT_MIN
ms_bind_port_max = $OSD_PORT_MAX
# No cephx on loopback (S3 requests are still SigV4-signed); crc mode for radosgw.
auth_cluster_required = none
auth_service_required = none
auth_client_required = none
ms_mon_client_mode = crc
mon_warn_on_insecure_global_id_reclaim_allowed = false

run_dir = $RUN
pid_file = $RUN/\$name.pid
admin_socket = $RUN/\$name.asok
log_file = $LOGS/\$name.log
mon_cluster_log_file = $LOGS/cluster.log
crash_dir = $DIR/crash
keyring = $DIR/keyring
mon_data = $DIR/mon
osd_data = $DIR/osd/\$id
rgw_data = $DIR/rgw

# Three copies of every object, one per OSD; a write needs two of them.
# All OSDs are on one host, so CRUSH spreads the copies over OSDs, not hosts.
osd_pool_default_size = 3
osd_pool_default_min_size = 2
osd_crush_chooseleaf_type = 0
osd_pool_default_pg_num = 8
osd_pool_default_pgp_num = 8
osd_pool_default_pg_autoscale_mode = off
mon_max_pg_per_osd = 1000
mgr_initial_modules =
paxos_propose_interval = 0.1
paxos_min_wait = 0.01
mon_data_avail_warn = 2
mon_data_avail_crit = 1
debug_rocksdb = 1/5
# A dead OSD is noticed by its peers within seconds (default grace 20 s): until
# the monitor marks it down, writes to its placement groups wait for it.
osd_heartbeat_interval = 1
osd_heartbeat_grace = 5
mon_osd_min_down_reporters = 1
# A down OSD stays "in": its copies wait for it to return instead of being
# re-created on the two others, which could not hold a third copy anyway.
mon_osd_down_out_interval = 0
mon_warn_on_osd_down_out_interval_zero = false

[osd]
osd_objectstore = bluestore
bluestore_block_create = true
bluestore_block_size = $BLOCK_BYTES
bluestore_block_db_create = false
bluestore_block_wal_create = false
# Three OSDs on a small machine: less cache each than the single node's 1 GiB.
osd_memory_target = 939524096
bdev_aio_poll_ms = 10
bluestore_fsck_on_mkfs = false

[client.rgw.a]
rgw_frontends = beast endpoint=127.0.0.1:$PORT tcp_nodelay=1
rgw_override_bucket_index_max_shards = 1
EOF
}

# ---- start / stop ---------------------------------------------------------------
stop_all() { EVIDOCK_CLUSTER_DIR=$DIR bash "$SCRIPT_DIR/ceph-cluster-down.sh" >&2; }

fail() {  # message, daemons whose logs matter
    local msg=$1 d f; shift
    printf '[ceph-cluster-up] ERROR: %s\n' "$msg" >&2
    for d in "$@"; do
        for f in "$LOGS/$d.out" "$LOGS/$d.log"; do
            [[ -s $f ]] || continue
            printf -- '----- last lines of %s -----\n' "$f" >&2
            tail -n 20 -- "$f" >&2
        done
    done
    exit 1
}
launch() {  # name, command...: the daemon forks and writes its own pid file
    local name=$1; shift
    "$@" -c "$CONF" </dev/null >>"$LOGS/$name.out" 2>&1 9>&- || fail "$name failed to start" "$name"
    STARTED+=("$name")
}
deadline=0
wait_until() {  # daemon waited for, what, command...
    local waited_for=$1 what=$2 d; shift 2
    until "$@"; do
        for d in "${STARTED[@]}"; do
            [[ -e $RUN/$d.pid ]] || continue
            own_pid "$d" >/dev/null || fail "$d died while waiting for $what" "$d"
        done
        (( SECONDS < deadline )) || fail "timed out after ${TIMEOUT}s waiting for $what" "$waited_for"
        sleep 0.2
    done
}
pidfile_written() { [[ -s $RUN/$1.pid ]]; }
# Every OSD up in the osdmap *as this very process* (its pid is the nonce of its
# address): after a kill the map still shows the dead one up for a while.
osds_up() {
    local dump id pid
    dump=$(ceph_ osd dump 2>/dev/null) || return 1
    for id in "${OSDS[@]}"; do
        pid=$(cat -- "$RUN/osd.$id.pid" 2>/dev/null) || return 1
        grep -q "^osd\.$id up .*/$pid " <<<"$dump" || return 1
    done
}
# The stale watches of a radosgw that died (see scripts/s3-up.sh): blocklist them.
drop_stale_watchers() {
    local i addr
    for i in 0 1 2 3 4 5 6 7; do
        timeout 30 rados -c "$CONF" -p default.rgw.control listwatchers "notify.$i" \
            </dev/null 2>>"$LOGS/admin.out" 9>&- || true
    done | sed -n 's/^watcher=\([^ ]*\) .*/\1/p' | sort -u | while read -r addr; do
        log "dropping the stale watches of a dead radosgw ($addr)"
        ceph_ osd blocklist add "$addr" >>"$LOGS/admin.out" 2>&1 || true
    done
}
start_rgw() {
    launch client.rgw.a radosgw -n client.rgw.a --no-mon-config
    wait_until client.rgw.a "the radosgw pid file" pidfile_written client.rgw.a
    wait_until client.rgw.a "radosgw to answer on 127.0.0.1:$PORT" s3_answers
}

# Start whatever of ours is not running, on an existing cluster. Daemons still
# running are kept: this is how a killed OSD rejoins a live cluster.
start_daemons() {
    local id
    STARTED=()
    own_pid mon.a >/dev/null || { rm -f -- "$RUN/mon.a.pid"; launch mon.a ceph-mon -i a; }
    for id in "${OSDS[@]}"; do
        own_pid "osd.$id" >/dev/null && continue
        rm -f -- "$RUN/osd.$id.pid"
        log "starting osd.$id"
        launch "osd.$id" ceph-osd -i "$id" --no-mon-config
    done
    wait_until osd.0 "all three OSDs to be up" osds_up
    if ! own_pid client.rgw.a >/dev/null; then
        rm -f -- "$RUN/client.rgw.a.pid"
        [[ -e $DIR/stopped-cleanly ]] || drop_stale_watchers
        start_rgw
    fi
}

# Create a fresh cluster: monitor store, three OSDs (in the osdmap and on disk).
create_cluster() {
    local fsid id
    local -A uuid=() mkfs=()
    fsid=$(uuidgen)
    mkdir -p "$DIR/mon" "$DIR/rgw" "$DIR/crash" "$RUN" "$LOGS"
    write_conf "$fsid"
    monmaptool --create --clobber --fsid "$fsid" --addv a "[v2:127.0.0.1:$MON_PORT]" \
        "$DIR/monmap" >>"$LOGS/admin.out" 2>&1 || fail "monmaptool failed" admin
    ceph-mon -c "$CONF" -i a --mkfs --monmap "$DIR/monmap" </dev/null >>"$LOGS/admin.out" 2>&1 9>&- \
        || fail "ceph-mon --mkfs failed" admin mon.a
    # The three BlueStore mkfs need no monitor: run them while the mon starts.
    for id in "${OSDS[@]}"; do
        uuid[$id]=$(uuidgen)
        mkdir -p "$DIR/osd/$id"
        ceph-osd -c "$CONF" -i "$id" --mkfs --osd-uuid "${uuid[$id]}" --no-mon-config \
            </dev/null >>"$LOGS/admin.out" 2>&1 9>&- &
        mkfs[$id]=$!
    done
    STARTED=()
    launch mon.a ceph-mon -i a
    for id in "${OSDS[@]}"; do
        ceph_ osd new "${uuid[$id]}" "$id" >>"$LOGS/admin.out" 2>&1 || fail "'ceph osd new' for osd.$id failed" admin mon.a
    done
    for id in "${OSDS[@]}"; do
        wait "${mkfs[$id]}" || fail "ceph-osd --mkfs of osd.$id failed" admin
        launch "osd.$id" ceph-osd -i "$id" --no-mon-config
    done
    wait_until osd.0 "all three OSDs to be up" osds_up
    # The first start creates the rgw pools (size 3, min_size 2 by the defaults above).
    start_rgw
    # The data pool, which radosgw would create with the first object, is made here and
    # checked, so that "three copies, two needed" is a fact of the cluster, not a default.
    ceph_ osd pool create "$DATA_POOL" 8 8 replicated >>"$LOGS/admin.out" 2>&1 || fail "creating $DATA_POOL failed" admin
    ceph_ osd pool application enable "$DATA_POOL" rgw >>"$LOGS/admin.out" 2>&1 || fail "tagging $DATA_POOL failed" admin
    ceph_ osd pool set "$DATA_POOL" size 3 >>"$LOGS/admin.out" 2>&1 || fail "setting the size of $DATA_POOL failed" admin
    ceph_ osd pool set "$DATA_POOL" min_size 2 >>"$LOGS/admin.out" 2>&1 || fail "setting min_size failed" admin
    [[ $(ceph_ osd pool get "$DATA_POOL" size) == "size: 3" && $(ceph_ osd pool get "$DATA_POOL" min_size) == "min_size: 2" ]] \
        || fail "$DATA_POOL is not replicated size 3, min_size 2" admin
    radosgw-admin -c "$CONF" user create --uid="$S3_UID" --display-name="evidock dev" --max-buckets=0 \
        --access-key="$ACCESS_KEY" --secret-key="$SECRET_KEY" </dev/null >/dev/null 2>>"$LOGS/admin.out" 9>&- \
        || fail "radosgw-admin user create failed" admin
    printf 'fsid=%s\nmon_port=%s\n' "$fsid" "$MON_PORT" >"$STATE.tmp"
    mv "$STATE.tmp" "$STATE"
}

# ---- main -----------------------------------------------------------------------
if [[ -f $STATE ]]; then
    mkdir -p "$RUN" "$LOGS"
    write_conf "$(state_get fsid)"
    if ! own_pid client.rgw.a >/dev/null && port_busy "$PORT"; then
        die "port $PORT on 127.0.0.1 is in use by another program; set EVIDOCK_CLUSTER_PORT"
    fi
    if ! own_pid mon.a >/dev/null && port_busy "$MON_PORT"; then
        die "port $MON_PORT on 127.0.0.1 is in use by another program (the mon port is fixed at creation)"
    fi
    log "starting what is not running of the cluster in $DIR (S3 on :$PORT, mon on :$MON_PORT)"
    deadline=$((SECONDS + TIMEOUT))
    start_daemons
    rm -f -- "$DIR/stopped-cleanly"
else
    for p in "$PORT" "$MON_PORT"; do
        port_busy "$p" && die "port $p on 127.0.0.1 is in use by another program; set EVIDOCK_CLUSTER_PORT / EVIDOCK_CLUSTER_MON_PORT"
    done
    stop_all   # a half-created cluster of ours, if any
    rm -rf -- "$DIR/mon" "$DIR/osd" "$DIR/rgw" "$DIR/crash" "$RUN" "$DIR/monmap" "$CONF" "$DIR/stopped-cleanly"
    if [[ -d $LOGS ]]; then rm -rf -- "$DIR/log.prev"; mv -- "$LOGS" "$DIR/log.prev"; fi
    log "creating a new cluster in $DIR: 3 OSDs ($(numfmt --to=iec "$BLOCK_BYTES") sparse block file each), S3 on :$PORT, mon on :$MON_PORT"
    deadline=$((SECONDS + TIMEOUT))
    set +e
    (set -e; create_cluster)
    rc=$?
    set -e
    if (( rc != 0 )); then
        stop_all
        die "could not create the cluster; logs are in $LOGS"
    fi
fi
log "ready"
emit_env
