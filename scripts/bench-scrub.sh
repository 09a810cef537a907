#!/usr/bin/env bash
# Scrub benchmark (see BENCHMARKS.md): 200 MiB of uploads (50 files of
# 4 MiB, four batches one after another per engine) run by a long-running
# `breakdex run` beside a scrub of 2 GiB of
# copies (2,048 of 1 MiB, all on one local folder) at a 20 MiB/s budget,
# against the same uploads with the scrub off, interleaved; and the scrub's
# reading rate (bytes of the scrub's completed verifies per second of the
# engine's life, 30 s) against its budget. For scale, `rclone copy
# --transfers 8` of the same uploads, and after each batch a `dd` of
# 200 MiB into the same tmpfs: the kernel's copy alone, whose own spread
# says how much of the uploads' spread is the machine's.
#
#   scripts/bench-scrub.sh            on tmpfs (/dev/shm), 5 runs of each
#   scripts/bench-scrub.sh --runs N   N runs of each
#
# Targets (issue 13): uploads beside the scrub take at most 1.1x their time
# without it; the scrub reads within 10% of its budget.
# Needs rclone, b3sum and python3; builds the release binary; removes
# everything it made when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
RUNS=5
BUDGET_MIB=20
LIFE=30
BATCHES=4
while [ $# -gt 0 ]; do
    case "$1" in
        --runs) RUNS=$2; shift 2 ;;
        -h | --help) sed -n '2,16p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1 (try --help)" >&2; exit 2 ;;
    esac
done
log() { printf '%s\n' "$*" >&2; }
for tool in rclone b3sum python3; do
    command -v $tool >/dev/null || { log "$tool is missing (Debian: apt-get install rclone b3sum python3; scripts/bench.sh installs them)"; exit 1; }
done

WORK=
ENGINE=
cleanup() {
    if [ -n "$ENGINE" ]; then kill "$ENGINE" 2>/dev/null || true; fi
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

log "building the release binary"
cargo build --release --quiet --bin breakdex
BX=${CARGO_TARGET_DIR:-$ROOT/target}/release/breakdex
WORK=$(mktemp -d /dev/shm/breakdex-bench-scrub.XXXXXX)
RESULTS=$WORK/results
: >"$RESULTS"
export BREAKDEX_SECRET_STORE=file
LIB=$WORK/lib/library.db
bx() { "$BX" --db "$LIB" "$@"; }

# Reads the library: `q SQL` prints the first column of the first row.
q() { python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute(sys.argv[2]).fetchone()[0])' "$LIB" "$1"; }
# Seconds since the epoch of a timestamp in the library's format (UTC).
EPOCH="(julianday(%s) - 2440587.5) * 86400.0"
epoch_of() { printf "$EPOCH" "$1"; }

stream() { printf '%s' "breakdex-bench-scrub-$1" | b3sum --raw --length "$2"; }
log "making a library holding 2 GiB of copies in $WORK"
mkdir -p "$WORK/lib" "$WORK/copies"
stream copies $((2048 << 20)) | (cd "$WORK/copies" && split -b $((1 << 20)) -a 4 -d - c)
bx provider add local bench --root "$WORK/objects" --concurrency 8 >/dev/null
bx add --provider bench "$WORK/copies" >/dev/null
bx run --until-idle --concurrency 8 >/dev/null
[ "$(q "SELECT COUNT(*) FROM asset_copies WHERE verify_status = 'ok'")" = 2048 ] \
    || { log "the library does not hold 2,048 copies"; exit 1; }
rm -rf "$WORK/copies"

# measure RUN MODE: a long-running engine; from 3 s after it starts, 200 MiB
# of new files are added $BATCHES times, each once the one before is
# uploaded; it is stopped $LIFE s after it started. Records each batch's
# upload span (first start to last end) and the scrub's bytes per second.
measure() {
    local run=$1 mode=$2 budget=0 first t0 t1
    [ "$mode" = on ] && budget=${BUDGET_MIB}M
    bx scrub set --every 1s --budget "$budget" >/dev/null
    first=$(q "SELECT COALESCE(MAX(rowid), 0) FROM sync_operations")
    t0=$(date +%s.%N)
    # (The binary itself, not through bx: $! must be the engine's pid.)
    "$BX" --db "$LIB" run --concurrency 8 >/dev/null 2>"$WORK/engine.log" &
    ENGINE=$!
    sleep 3
    local batch up before uploads waited span spans="" t
    for batch in $(seq "$BATCHES"); do
        up=$WORK/up-$run-$mode-$batch
        mkdir -p "$up"
        stream "up-$run-$mode-$batch" $((200 << 20)) | (cd "$up" && split -b $((4 << 20)) -a 2 -d - u)
        before=$(q "SELECT COALESCE(MAX(rowid), 0) FROM sync_operations")
        bx add --provider bench "$up" >/dev/null
        uploads="FROM sync_operations WHERE rowid > $before AND operation_type = 'upload'"
        waited=0
        until [ "$(q "SELECT COUNT(*) $uploads AND status = 'completed'")" = 50 ]; do
            sleep 0.1
            waited=$((waited + 1))
            [ $waited -lt 600 ] || { log "the uploads did not complete in 60 s"; tail "$WORK/engine.log" >&2; exit 1; }
        done
        span=$(q "SELECT MAX($(epoch_of finished_at)) - MIN($(epoch_of started_at)) $uploads")
        echo "$mode upload $span" >>"$RESULTS"
        spans="$spans $(printf '%.3f' "$span")"
        if [ "$batch" = 1 ]; then
            # rclone copies the same files, for scale (beside the scrub too).
            t=$(date +%s.%N)
            rclone copy -q --transfers 8 "$up" "$WORK/rclone-dst"
            echo "$mode rclone $(python3 -c "import time; print(time.time() - $t)")" >>"$RESULTS"
            rm -rf "$WORK/rclone-dst"
        fi
        rm -rf "$up"
        # The floor under a batch: the kernel's copy of the same bytes into
        # tmpfs (it varies by itself from run to run), beside the scrub too.
        t=$(date +%s.%N)
        dd if=/dev/zero of="$WORK/dd" bs=4M count=50 status=none
        echo "$mode dd $(python3 -c "import time; print(time.time() - $t)")" >>"$RESULTS"
        rm -f "$WORK/dd"
    done
    sleep "$(python3 -c "import time; print(max(0, $t0 + $LIFE - time.time()))")"
    t1=$(date +%s.%N)
    # (TERM: a script's background job ignores INT.)
    kill -TERM "$ENGINE"
    wait "$ENGINE" || true
    ENGINE=
    # The scrub's verifies the engine left queued would run in the next
    # measurement, scrub off or not.
    python3 -c 'import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); c.execute("DELETE FROM sync_operations WHERE reason = '"'scrub'"' AND finished_at IS NULL"); c.commit()' "$LIB"
    local read
    read=$(q "SELECT COALESCE(SUM(total_bytes), 0) FROM sync_operations WHERE rowid > $first
              AND reason = 'scrub' AND status = 'completed'
              AND $(epoch_of finished_at) BETWEEN $t0 AND $t1")
    echo "$mode scrub_bps $(python3 -c "print($read / ($t1 - $t0))")" >>"$RESULTS"
    log "  run $run, scrub $mode: uploads$spans s"
}

log "measuring, $RUNS runs of each, interleaved"
for run in $(seq "$RUNS"); do
    measure "$run" off
    measure "$run" on
done

median() { # median of MODE WHAT
    awk -v m="$1" -v w="$2" '$1 == m && $2 == w { print $3 }' "$RESULTS" | sort -g |
        awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m }'
}
all_runs() {
    awk -v m="$1" -v w="$2" -v d="${3:-1}" '$1 == m && $2 == w { printf "%s%.3f", sep, $3 / d; sep = " " }' "$RESULTS"
}
verdict() { awk -v ok="$1" 'BEGIN { print (ok ? "met" : "MISSED") }'; }

off=$(median off upload)
on=$(median on upload)
bps=$(median on scrub_bps)
ratio=$(awk -v a="$on" -v b="$off" 'BEGIN { printf "%.2f", a / b }')
share=$(awk -v r="$bps" -v b=$((BUDGET_MIB << 20)) 'BEGIN { printf "%.3f", r / b }')
echo
echo "Breakdex scrub benchmark on tmpfs (/dev/shm)"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "median of $RUNS runs, $BATCHES batches of uploads each (every one's in brackets)"
echo
printf '%-52s %8ss   [%s]\n' "200 MiB of uploads, scrub off" "$off" "$(all_runs off upload)"
printf '%-52s %8ss   [%s]\n' "200 MiB of uploads beside a scrub at $BUDGET_MIB MiB/s" "$on" "$(all_runs on upload)"
printf '%-52s %8ss   [%s]\n' "dd of 200 MiB to tmpfs, scrub off (the floor)" "$(median off dd)" "$(all_runs off dd)"
printf '%-52s %8ss   [%s]\n' "dd of 200 MiB to tmpfs, beside the scrub" "$(median on dd)" "$(all_runs on dd)"
printf '%-52s %8ss   [%s]\n' "rclone copy --transfers 8 of the same files" "$(median off rclone)" "$(all_runs off rclone)"
printf '%-52s %8s    [%s]\n' "scrub read, MiB/s over the engine's $LIFE s" \
    "$(awk -v r="$bps" 'BEGIN { printf "%.2f", r / 1048576 }')" "$(all_runs on scrub_bps 1048576)"
echo
echo "targets"
printf 'uploads beside the scrub <= 1.1x without it: %s (%sx)\n' \
    "$(verdict "$(awk -v r="$ratio" 'BEGIN { print (r <= 1.1) }')")" "$ratio"
printf 'scrub reads within 10%% of its budget: %s (%sx the budget)\n' \
    "$(verdict "$(awk -v s="$share" 'BEGIN { print (s >= 0.9 && s <= 1.1) }')")" "$share"
