#!/usr/bin/env bash
# Check, before anything is installed, that the ports `make run` / `make test` need are free:
#
#   scripts/check-ports.sh            # the local S3 server's ports (S3 and Ceph monitor)
#   scripts/check-ports.sh 8080       # ... and the service's HTTP port
#
# A port held by this checkout's own running S3 server (the one in
# EVIDOCK_S3_DIR, on EVIDOCK_S3_PORT) counts as free: s3-up.sh reuses it.
# Exits 1 with what to set when a port is taken; nothing on stdout.
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(dirname "$SCRIPT_DIR")
DIR=$(realpath -m -- "${EVIDOCK_S3_DIR:-$REPO/.local/s3}")
PORT=${EVIDOCK_S3_PORT:-7480}
STATE=$DIR/cluster.env

die() { printf '[check-ports] ERROR: %s\n' "$*" >&2; exit 1; }
is_port() { [[ $1 =~ ^[0-9]+$ ]] && (( $1 >= 1 && $1 <= 65535 )); }
port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
state_get() { [[ -f $STATE ]] || return 0; sed -n "s/^$1=//p" "$STATE" | tail -n 1; }

is_port "$PORT" || die "EVIDOCK_S3_PORT=$PORT is not a port number"
# The mon port as s3-up.sh picks it: fixed in an existing cluster, else requested or derived.
MON_PORT=$(state_get mon_port)
MON_PORT=${MON_PORT:-${EVIDOCK_S3_MON_PORT:-$((PORT - 4180))}}

# Is our own server running on PORT? Its radosgw was started with our ceph.conf.
ours_running() {
    [[ $(state_get port) == "$PORT" ]] || return 1
    local pid
    pid=$(cat -- "$DIR/run/client.rgw.a.pid" 2>/dev/null) || return 1
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | grep -qxF -- "$DIR/ceph.conf"
}

# A suggestion that is free now: S3 port and derived monitor port, in steps of 10.
free_s3_port() {
    local p=$((PORT + 10))
    while (( p <= 65535 )) && { port_busy "$p" || port_busy $((p - 4180)); }; do p=$((p + 10)); done
    echo "$p"
}

if ! ours_running; then
    port_busy "$PORT" && die "port $PORT (S3) on 127.0.0.1 is in use by another program (not the S3 server of $DIR); pick free ports, e.g. EVIDOCK_S3_PORT=$(free_s3_port) make run"
    port_busy "$MON_PORT" && die "port $MON_PORT (the S3 server's Ceph monitor) on 127.0.0.1 is in use by another program; set EVIDOCK_S3_PORT to another port (the monitor's follows it: S3 port - 4180) or EVIDOCK_S3_MON_PORT"
fi
for http in "$@"; do
    is_port "$http" || die "$http is not a port number"
    port_busy "$http" && die "port $http (the service's HTTP) on 127.0.0.1 is in use (another evidock run?); stop it or pick another, e.g. EVIDOCK_HTTP_PORT=$((http + 1)) make run"
done
exit 0
