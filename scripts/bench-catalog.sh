#!/usr/bin/env bash
# Catalog benchmarks (see BENCHMARKS.md):
#   scan:    a catalog of 100,000 assets in 100 segments (and their objects)
#            read into a new library by `provider scan`, from a local folder
#            and from S3 (moto on 127.0.0.1, filled in-process)
#   restore: 10,000 files of 4 KiB restored from a local folder (`restore`
#            then `run --until-idle`, into a new folder) beside
#            `rclone copy --transfers 8` of the same objects
# Each measurement is taken RUNS times and the median reported.
#
#   scripts/bench-catalog.sh            on tmpfs (/dev/shm)
#   scripts/bench-catalog.sh --runs N   N runs of each (default 3)
#   scripts/bench-catalog.sh --no-s3    without the S3 scan
#
# Needs rclone and moto (`bash scripts/test.sh` installs both); builds the
# release binary; removes everything it made when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=3
S3=1
ASSETS=100000
SEGMENTS=100
FILES=10000
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        --no-s3) S3=; shift ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
log() { printf '%s\n' "$*" >&2; }
command -v rclone >/dev/null || { log "rclone is missing: run bash scripts/test.sh"; exit 1; }

WORK=
MOTO_PID=
cleanup() {
    if [ -n "$MOTO_PID" ]; then kill "$MOTO_PID" 2>/dev/null || true; fi
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building the release binary and the fixture maker"
cargo build --release --quiet --bin breakdex --example catalog_fixture
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}/release
BX=$TARGET/breakdex
FIXTURE=$TARGET/examples/catalog_fixture
WORK=$(mktemp -d /dev/shm/breakdex-bench-catalog.XXXXXX)
RESULTS=$WORK/results
: >"$RESULTS"
export BREAKDEX_SECRET_STORE=file

now_us() { date +%s%6N; }
# timed NAME CMD...: runs CMD, appends "NAME microseconds" to the results.
timed() {
    local name=$1
    shift
    local t0 t1
    t0=$(now_us)
    "$@" >"$WORK/out" 2>"$WORK/err" || { cat "$WORK/err" >&2; exit 1; }
    t1=$(now_us)
    echo "$name $((t1 - t0))" >>"$RESULTS"
}
median() {
    awk -v w="$1" '$1 == w { print $2 }' "$RESULTS" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
              m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e6 }'
}
each() { awk -v w="$1" '$1 == w { printf "%s%.3f", sep, $2 / 1e6; sep = " " }' "$RESULTS"; }
assets_scanned() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["assets"])' "$WORK/out"; }

# --- Scan ----------------------------------------------------------------------
DRIVE=$WORK/drive
log "writing $ASSETS assets in $SEGMENTS segments"
"$FIXTURE" "$DRIVE" "$ASSETS" "$SEGMENTS" >&2

# A new library, given the provider while its catalog is hidden (`provider
# add` scans a catalog it finds): the scan alone is timed.
for run in $(seq "$RUNS"); do
    lib=$WORK/lib-local
    rm -rf "$lib"
    mv "$DRIVE/catalog" "$DRIVE/catalog.hidden"
    "$BX" --db "$lib/library.db" provider add local drive --root "$DRIVE" >/dev/null
    mv "$DRIVE/catalog.hidden" "$DRIVE/catalog"
    timed scan_local "$BX" --db "$lib/library.db" provider scan drive --json
    got=$(assets_scanned)
    [ "$got" = "$ASSETS" ] || { log "the local scan found $got assets, not $ASSETS"; exit 1; }
    log "  local scan, run $run: $(tail -1 "$RESULTS" | awk '{ printf "%.3f s", $2 / 1e6 }')"
done

if [ -n "$S3" ]; then
    PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    log "starting moto on $PORT and filling it"
    coproc MOTO { exec python3 "$ROOT/scripts/moto_host.py" "$PORT" "$DRIVE" 2>"$WORK/moto.log"; }
    MOTO_PID=$MOTO_PID
    read -r ready <&"${MOTO[0]}"
    [ "$ready" = ready ] || { log "moto did not start"; cat "$WORK/moto.log" >&2; exit 1; }
    for run in $(seq "$RUNS"); do
        lib=$WORK/lib-s3
        rm -rf "$lib"
        printf 'x\n' | "$BX" --db "$lib/library.db" provider add s3 bucket \
            --endpoint "http://127.0.0.1:$PORT" --bucket bx-bucket --path-style \
            --access-key-id x --secret-stdin >/dev/null
        echo show >&"${MOTO[1]}"
        read -r _ <&"${MOTO[0]}"
        timed scan_s3 "$BX" --db "$lib/library.db" provider scan bucket --json
        got=$(assets_scanned)
        [ "$got" = "$ASSETS" ] || { log "the S3 scan found $got assets, not $ASSETS"; exit 1; }
        echo hide >&"${MOTO[1]}"
        read -r _ <&"${MOTO[0]}"
        log "  S3 scan, run $run: $(tail -1 "$RESULTS" | awk '{ printf "%.3f s", $2 / 1e6 }')"
    done
    # The listing alone, as another client (boto3) makes it of the same moto.
    for run in $(seq "$RUNS"); do
        timed list_boto3 python3 -c '
import sys, boto3
c = boto3.client("s3", endpoint_url="http://127.0.0.1:" + sys.argv[1], region_name="us-east-1",
                 aws_access_key_id="x", aws_secret_access_key="x")
n = sum(len(p.get("Contents", [])) for p in
        c.get_paginator("list_objects_v2").paginate(Bucket="bx-bucket", Prefix="objects/"))
assert n == int(sys.argv[2]), n' "$PORT" "$ASSETS"
    done
    echo quit >&"${MOTO[1]}"
    wait "$MOTO_PID" 2>/dev/null || true
    MOTO_PID=
fi
rm -rf "$DRIVE" "$WORK"/lib-*

# --- Restore -------------------------------------------------------------------
log "writing $FILES files of 4 KiB and uploading them"
SRC=$WORK/src/photos
mkdir -p "$SRC"
python3 - "$SRC" "$FILES" <<'EOF'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%03d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d.jpg" % i), "wb") as f:
        f.write(i.to_bytes(8, "little") * 512)
EOF
ORIGIN=$WORK/origin
"$BX" --db "$ORIGIN/library.db" provider add local drive --root "$WORK/drive" --concurrency 8 >/dev/null
"$BX" --db "$ORIGIN/library.db" add --provider drive "$SRC" >/dev/null
"$BX" --db "$ORIGIN/library.db" run --until-idle --concurrency 8 >/dev/null
NEW=$WORK/new
"$BX" --db "$NEW/library.db" provider add local drive --root "$WORK/drive" --concurrency 8 >/dev/null
restore() {
    "$BX" --db "$NEW/library.db" restore --into "$WORK/into" >/dev/null &&
        "$BX" --db "$NEW/library.db" run --until-idle --concurrency 8 >/dev/null
}
for run in $(seq "$RUNS"); do
    rm -rf "$WORK/into" "$WORK/rclone-into"
    timed rclone rclone copy --transfers 8 "$WORK/drive/objects" "$WORK/rclone-into"
    timed restore restore
    diff -r "$SRC" "$WORK/into/photos" >/dev/null || { log "the restored tree differs"; exit 1; }
    log "  restore run $run done"
done

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "Breakdex catalog benchmark on tmpfs (/dev/shm)"
echo "machine: $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg); $(rclone version 2>/dev/null | head -1)"
echo "median of $RUNS runs, wall seconds (every run's in brackets)"
echo
printf 'scan, %d assets in %d segments, local folder: %s s   [%s]   target < 2 s\n' \
    "$ASSETS" "$SEGMENTS" "$(median scan_local)" "$(each scan_local)"
if [ -n "$S3" ]; then
    printf 'scan, %d assets in %d segments, S3 (moto):    %s s   [%s]   target < 10 s\n' \
        "$ASSETS" "$SEGMENTS" "$(median scan_s3)" "$(each scan_s3)"
    printf '  (boto3 listing the same %d objects from the same moto: %s s   [%s])\n' \
        "$ASSETS" "$(median list_boto3)" "$(each list_boto3)"
fi
printf 'restore, %d files of 4 KiB, local folder:    %s s   [%s]\n' \
    "$FILES" "$(median restore)" "$(each restore)"
printf 'rclone copy --transfers 8 of the same objects: %s s   [%s]\n' \
    "$(median rclone)" "$(each rclone)"
printf 'restore/rclone: %s   target <= 1.5x\n' "$(ratio "$(median restore)" "$(median rclone)")"
