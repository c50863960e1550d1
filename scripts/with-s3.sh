#!/usr/bin/env bash
# Run a command against the local S3 server that scripts/s3-up.sh starts (or reuses):
#
#   scripts/with-s3.sh .venv/bin/evidock --config config.toml run
#
# The command gets that server's endpoint and keys as EVIDOCK_S3_ENDPOINT,
# EVIDOCK_S3_ACCESS_KEY and EVIDOCK_S3_SECRET_KEY, which evidock prefers to
# config.toml's s3.endpoint: so `EVIDOCK_S3_PORT=7600 make run` writes to the
# server on 7600 that it started, never to another one config.toml names.
# All EVIDOCK_S3_* settings of s3-up.sh apply (see docs/local-s3.md).
set -euo pipefail
SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
(( $# )) || { echo "usage: scripts/with-s3.sh COMMAND [ARG...]" >&2; exit 2; }

server=$(bash "$SCRIPT_DIR/s3-up.sh")
while IFS='=' read -r key value; do
    case $key in
        S3_ENDPOINT) export EVIDOCK_S3_ENDPOINT=$value ;;
        S3_ACCESS_KEY) export EVIDOCK_S3_ACCESS_KEY=$value ;;
        S3_SECRET_KEY) export EVIDOCK_S3_SECRET_KEY=$value ;;
    esac
done <<<"$server"
[[ -n ${EVIDOCK_S3_ENDPOINT:-} ]] || { echo "with-s3: scripts/s3-up.sh printed no S3_ENDPOINT" >&2; exit 1; }
exec "$@"
