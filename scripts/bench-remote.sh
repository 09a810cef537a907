#!/usr/bin/env bash
# Remote transfer benchmark, side by side in one run: Breakdex (`add` then
# `run --until-idle --concurrency 8`, fresh library each time) against
# `rclone copy --transfers 8`, on the same local servers: S3 (moto) and
# WebDAV (rclone serve webdav), both on 127.0.0.1, data on tmpfs.
#   small: 1,000 files of 64 KiB      large: two files of 64 MiB
#   parts (S3 only): one file of 320 MiB, above the single-PUT limit, so
#   it goes up as a multipart upload
# Prints wall times and the ratio Breakdex / rclone (lower is better), and
# the same uploads to the provider added with --encrypt (age) beside the
# plain ones: encrypted / plain.
#
#   scripts/bench-remote.sh             one run of each
#   scripts/bench-remote.sh --runs N    N runs of each, median reported
#
# Needs what scripts/test.sh installs (rclone, moto); builds the release
# binary (BREAKDEX_BIN=PATH runs that binary instead, to compare two
# builds); removes everything it made when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=1
[ "${1:-}" = "--runs" ] && RUNS=$2

BIN=${BREAKDEX_BIN:-}
if [ -z "$BIN" ]; then
    cargo build --release --quiet --bin breakdex
    BIN=$PWD/target/release/breakdex
fi
W=$(mktemp -d /dev/shm/bx-remote-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_port() {
    for _ in $(seq 200); do (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done
    echo "nothing listens on $1" >&2; exit 1
}

S3_PORT=$(free_port)
moto_server -H 127.0.0.1 -p "$S3_PORT" >"$W/moto.log" 2>&1 &
PIDS+=($!)
DAV_PORT=$(free_port)
mkdir -p "$W/dav"
rclone serve webdav "$W/dav" --addr "127.0.0.1:$DAV_PORT" --user bx --pass pw >"$W/dav.log" 2>&1 &
PIDS+=($!)
wait_port "$S3_PORT"
wait_port "$DAV_PORT"
python3 -c "import boto3; boto3.client('s3', endpoint_url='http://127.0.0.1:$S3_PORT', region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x').create_bucket(Bucket='bench')"

mkdir -p "$W/small" "$W/large" "$W/parts"
head -c $((1000 * 65536)) /dev/urandom | split -b 65536 -d -a 4 - "$W/small/f"
for i in 1 2; do head -c $((64 << 20)) /dev/urandom >"$W/large/big$i"; done
head -c $((320 << 20)) /dev/urandom >"$W/parts/huge"

now() { echo "$EPOCHREALTIME"; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.3f", b - a }'; }
median() { tr ' ' '\n' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

RCLONE_S3=":s3,provider=Other,endpoint='http://127.0.0.1:$S3_PORT',access_key_id=x,secret_access_key=x,region=us-east-1,force_path_style=true:bench"
RCLONE_DAV=":webdav,url='http://127.0.0.1:$DAV_PORT',vendor=other,user=bx,pass=$(rclone obscure pw):"
# rclone fails on the machine's AWS_CA_BUNDLE with a plain-HTTP endpoint.
unset AWS_CA_BUNDLE

echo "a bench passphrase, never a real one" >"$W/passphrase"
breakdex_once() { # kind data [--encrypt]
    local lib crypt=()
    lib=$(mktemp -d "$W/lib-XXXXXX")
    local n=${lib##*-}
    [ "${3:-}" = --encrypt ] && crypt=(--encrypt --passphrase-file "$W/passphrase")
    export BREAKDEX_SECRET_STORE=file
    if [ "$1" = s3 ]; then
        echo x | "$BIN" --db "$lib/l.db" provider add s3 p --endpoint "http://127.0.0.1:$S3_PORT" \
            --bucket bench --prefix "bx-$n" --path-style --access-key-id x --secret-stdin \
            "${crypt[@]}" >/dev/null
    else
        echo pw | "$BIN" --db "$lib/l.db" provider add webdav p --endpoint "http://127.0.0.1:$DAV_PORT" \
            --root "bx-$n" --user bx --secret-stdin "${crypt[@]}" >/dev/null
    fi
    local t
    t=$(now)
    "$BIN" --db "$lib/l.db" add "$W/$2" --provider p >/dev/null
    "$BIN" --db "$lib/l.db" run --until-idle --concurrency 8 >/dev/null
    elapsed "$t"
}
rclone_once() { # kind data
    local n=$RANDOM$RANDOM
    local dest
    if [ "$1" = s3 ]; then dest="$RCLONE_S3/rc-$n"; else dest="$RCLONE_DAV/rc-$n"; fi
    local t
    t=$(now)
    rclone copy --transfers 8 "$W/$2" "$dest"
    elapsed "$t"
}

printf '%-8s %-6s %12s %12s %8s %12s %10s\n' server data breakdex_s rclone_s ratio encrypted_s enc/plain
for kind in s3 webdav; do
    sets="small large"
    [ "$kind" = s3 ] && sets="small large parts"
    for data in $sets; do
        b=()
        r=()
        e=()
        for _ in $(seq "$RUNS"); do
            b+=("$(breakdex_once $kind $data)")
            r+=("$(rclone_once $kind $data)")
            e+=("$(breakdex_once $kind $data --encrypt)")
        done
        bm=$(echo "${b[*]}" | median)
        rm_=$(echo "${r[*]}" | median)
        em=$(echo "${e[*]}" | median)
        printf '%-8s %-6s %12s %12s %7.2fx %12s %9.2fx\n' "$kind" "$data" "$bm" "$rm_" \
            "$(awk -v a="$bm" -v b="$rm_" 'BEGIN { print a / b }')" "$em" \
            "$(awk -v a="$em" -v b="$bm" 'BEGIN { print a / b }')"
    done
done
