#!/usr/bin/env bash
# Transfer and hashing benchmark, side by side in one run (see BENCHMARKS.md):
# Breakdex (`add` then `run --until-idle`, fresh library each time) against
# `rclone copy --transfers 8` and `cp -r`, and Breakdex's hashing (`add`)
# against `b3sum --num-threads 1`, on two data sets:
#   small: 10,000 files of 4 KiB      large: 1 GiB in four files of 256 MiB
# and the same uploads to an encrypted local folder (`--encrypt`, age), beside
# the plain ones, for what encryption costs, with the Debian `age` tool
# encrypting the large files (one at a time) as the cipher's own cost.
# Each measurement is taken RUNS times (interleaved) and the median reported.
#
#   scripts/bench.sh                 on tmpfs (/dev/shm)
#   scripts/bench.sh --disk DIR      in DIR (a real disk), same measurements
#   scripts/bench.sh --runs N        N runs of each (default 3)
#
# Installs rclone and b3sum if missing, builds the release binary, and removes
# everything it made when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BASE=/dev/shm
MADE_DISK_DIR=
WHERE="tmpfs (/dev/shm)"
RUNS=3
# Breakdex gets as many transfers at once as rclone's --transfers.
TRANSFERS=8
while [ $# -gt 0 ]; do
    case "$1" in
        --disk)
            [ $# -ge 2 ] || { echo "--disk needs a folder" >&2; exit 2; }
            [ -e "$2" ] || MADE_DISK_DIR=$2
            mkdir -p "$2"
            BASE=$(cd "$2" && pwd)
            WHERE="disk ($BASE, $(df -T "$BASE" | awk 'NR==2 {print $2}'))"
            shift 2
            ;;
        --runs)
            RUNS=$2
            shift 2
            ;;
        -h | --help)
            sed -n '2,14p' "$0"
            exit 0
            ;;
        *)
            echo "unknown argument: $1 (try --help)" >&2
            exit 2
            ;;
    esac
done

log() { printf '%s\n' "$*" >&2; }

WORK=
cleanup() {
    if [ -n "$WORK" ]; then rm -rf "$WORK"; fi
    if [ -n "$MADE_DISK_DIR" ]; then rmdir "$MADE_DISK_DIR" 2>/dev/null || true; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- Tools -------------------------------------------------------------------
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=
apt_install() {
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
if ! command -v age >/dev/null; then
    log "installing age"
    apt_install age
fi
if ! command -v rclone >/dev/null; then
    log "installing rclone"
    apt_install rclone
fi
if ! command -v b3sum >/dev/null; then
    log "installing b3sum"
    if [ -z "$apt_updated" ]; then
        as_root apt-get update -qq
        apt_updated=1
    fi
    if apt-cache policy b3sum 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        apt_install b3sum
    else
        cargo install b3sum --locked
    fi
fi

# --- Build ---------------------------------------------------------------------
log "building the release binary"
cargo build --release --quiet
BX=${CARGO_TARGET_DIR:-$ROOT/target}/release/breakdex
[ -x "$BX" ] || { echo "no binary at $BX" >&2; exit 1; }

# --- Work folder, removed at the end --------------------------------------------
WORK=$(mktemp -d "$BASE/breakdex-bench.XXXXXX")
RESULTS=$WORK/results
LOG=$WORK/log
: >"$RESULTS"

# --- Data, deterministic: BLAKE3's extendable output of a fixed seed ------------
stream() { printf '%s' "breakdex-bench-$1" | b3sum --raw --length "$2"; }
log "generating data in $WORK"
mkdir -p "$WORK/src/small" "$WORK/src/large"
for d in 0 1 2 3 4 5 6 7 8 9; do
    mkdir -p "$WORK/src/small/d$d"
    # 1,000 distinct 4 KiB files per folder.
    stream "small-$d" $((1000 * 4096)) | (cd "$WORK/src/small/d$d" && split -b 4096 -a 4 -d - f)
done
for i in 0 1 2 3; do
    stream "large-$i" $((256 << 20)) >"$WORK/src/large/file$i.bin"
done
echo "a bench passphrase, never a real one" >"$WORK/passphrase"
RECIPIENT=$(age-keygen 2>/dev/null | grep -o 'age1[a-z0-9]*')
sync

# --- Timing ------------------------------------------------------------------------
now_us() { echo $(($(date +%s%N) / 1000)); }
# CPU time (user + system) of every child process this shell waited for so
# far; `times` must run in this shell, not in a $(...) subshell.
children_cpu_us() {
    times >"$WORK/times"
    awk 'NR == 2 { split($1, u, /[ms]/); split($2, k, /[ms]/)
                   printf "%d", (u[1] * 60 + u[2] + k[1] * 60 + k[2]) * 1e6 }' "$WORK/times"
}
# record SET WHAT WALL_US CPU_US
record() { echo "$1 $2 $3 $4" >>"$RESULTS"; }
# timed SET WHAT CMD...: runs CMD, records its wall and CPU time; its output
# goes to the log.
timed() {
    local set=$1 what=$2 start end cpu
    shift 2
    children_cpu_us >"$WORK/cpu"
    cpu=$(<"$WORK/cpu")
    start=$(now_us)
    if ! "$@" >>"$LOG" 2>&1; then
        echo "failed: $*" >&2
        tail -20 "$LOG" >&2
        exit 1
    fi
    end=$(now_us)
    children_cpu_us >"$WORK/cpu"
    record "$set" "$what" $((end - start)) $(($(<"$WORK/cpu") - cpu))
}
count_files() { find "$1" -type f | wc -l; }
b3sum_all() { find "$1" -type f -print0 | sort -z | xargs -0 b3sum --num-threads 1; }
age_all() { for f in "$1"/*; do age -r "$RECIPIENT" -o /dev/null "$f"; done; }

# breakdex_set SET SRC EXPECT NAME [PROVIDER ADD ARGS...]: a fresh library,
# its provider added with the extra arguments (not timed), then `add` and
# `run --until-idle` timed as NAME_add and NAME_run.
breakdex_set() {
    local set=$1 src=$2 expect=$3 name=$4 lib=$WORK/lib got
    shift 4
    rm -rf "$lib"
    mkdir -p "$lib"
    BREAKDEX_SECRET_STORE=file "$BX" --db "$lib/library.db" provider add local bench \
        --root "$lib/objects-root" --concurrency "$TRANSFERS" "$@" >>"$LOG"
    timed "$set" "${name}_add" "$BX" --db "$lib/library.db" add --provider bench "$src"
    timed "$set" "${name}_run" "$BX" --db "$lib/library.db" run --until-idle --concurrency "$TRANSFERS"
    got=$(count_files "$lib/objects-root/objects")
    if [ "$got" != "$expect" ]; then
        echo "breakdex ($name) stored $got objects, expected $expect" >&2
        exit 1
    fi
    rm -rf "$lib"
}

bench_set() {
    local set=$1 run=$2 src=$WORK/src/$1 dst=$WORK/dst expect
    expect=$(count_files "$src")
    # Sources in the page cache for every tool alike.
    find "$src" -type f -exec cat {} + >/dev/null

    rm -rf "$dst"
    timed "$set" rclone rclone copy --transfers 8 "$src" "$dst"
    rm -rf "$dst"
    timed "$set" cp cp -r "$src" "$dst"
    rm -rf "$dst"

    breakdex_set "$set" "$src" "$expect" bx
    breakdex_set "$set" "$src" "$expect" enc --encrypt --passphrase-file "$WORK/passphrase"

    timed "$set" b3sum b3sum_all "$src"
    if [ "$set" = large ]; then
        timed "$set" age age_all "$src"
    fi
    log "  $set run $run done"
}

log "measuring on $WHERE, $RUNS runs each"
for run in $(seq "$RUNS"); do
    bench_set small "$run"
    bench_set large "$run"
done

# --- Report ------------------------------------------------------------------------
median() { # median of SET WHAT [COLUMN: 3 wall (default), 4 CPU], in seconds
    awk -v s="$1" -v w="$2" -v c="${3:-3}" '$1 == s && $2 == w { print $c }' "$RESULTS" | sort -n |
        awk '{ v[NR] = $1 } END { if (NR == 0) { print "nan"; exit }
              m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e6 }'
}
all_runs() {
    awk -v s="$1" -v w="$2" '$1 == s && $2 == w { printf "%s%.3f", sep, $3 / 1e6; sep = " " }' "$RESULTS"
}
# Totals per run, then their median.
for set in small large; do
    for name in bx enc; do
        paste -d' ' \
            <(awk -v s=$set -v w=${name}_add '$1 == s && $2 == w { print $3, $4 }' "$RESULTS") \
            <(awk -v s=$set -v w=${name}_run '$1 == s && $2 == w { print $3, $4 }' "$RESULTS") |
            awk -v s=$set -v w=${name}_total '{ print s, w, $1 + $3, $2 + $4 }' >>"$RESULTS"
    done
done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
verdict() { awk -v r="$1" -v t="$2" 'BEGIN { print (r <= t) ? "met" : "MISSED" }'; }

echo
echo "Breakdex benchmark on $WHERE"
echo "machine: $(nproc) cores, $(free -g | awk '/^Mem:/ {print $2}') GiB memory, kernel $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "tools: $(rclone version 2>/dev/null | head -1), $(b3sum --version), $("$BX" --version 2>/dev/null || echo breakdex)"
echo "median of $RUNS runs: wall seconds (every run's in brackets), and CPU seconds (user + system)"
echo
printf '%-6s %-40s %8s %8s   %s\n' set measurement wall cpu "wall of each run"
for set in small large; do
    for what in rclone cp bx_add bx_run bx_total enc_add enc_run enc_total b3sum age; do
        case $what in
            rclone) label="rclone copy --transfers 8" ;;
            cp) label="cp -r" ;;
            bx_add) label="breakdex add (walk, hash, record, queue)" ;;
            bx_run) label="breakdex run --until-idle" ;;
            bx_total) label="breakdex total (add + run)" ;;
            enc_add) label="encrypted: breakdex add" ;;
            enc_run) label="encrypted: breakdex run --until-idle" ;;
            enc_total) label="encrypted: breakdex total" ;;
            b3sum) label="b3sum --num-threads 1" ;;
            age) label="age -r (Go), one file at a time" ;;
        esac
        [ "$what" = age ] && [ "$set" = small ] && continue
        printf '%-6s %-40s %8s %8s   [%s]\n' "$set" "$label" "$(median $set $what)" \
            "$(median $set $what 4)" "$(all_runs $set $what)"
    done
done
echo
echo "ratios (medians)"
for set in small large; do
    total=$(median $set bx_total)
    run=$(median $set bx_run)
    add=$(median $set bx_add)
    rc=$(median $set rclone)
    c=$(median $set cp)
    b3=$(median $set b3sum)
    printf '%-6s breakdex/rclone %s (run only %s)   breakdex/cp %s (run only %s)   add/b3sum %s\n' \
        $set "$(ratio "$total" "$rc")" "$(ratio "$run" "$rc")" "$(ratio "$total" "$c")" \
        "$(ratio "$run" "$c")" "$(ratio "$add" "$b3")"
    printf '%-6s encrypted/plain: run %s, total %s   encrypted run/rclone %s' $set \
        "$(ratio "$(median $set enc_run)" "$run")" "$(ratio "$(median $set enc_total)" "$total")" \
        "$(ratio "$(median $set enc_run)" "$rc")"
    if [ "$set" = large ]; then
        printf '   encrypted run/age %s   extra CPU of encrypting/age CPU %s' \
            "$(ratio "$(median $set enc_run)" "$(median $set age)")" \
            "$(ratio "$(awk -v a="$(median $set enc_run 4)" -v b="$(median $set bx_run 4)" 'BEGIN { print a - b }')" "$(median $set age 4)")"
    fi
    echo
done
echo
echo "targets (breakdex total = add + run)"
r=$(awk -v a="$(median small bx_total)" -v b="$(median small rclone)" 'BEGIN { print a / b }')
printf 'small: breakdex/rclone <= 1.0x (aim 0.5x): %s (%.2fx)\n' "$(verdict "$r" 1.0)" "$r"
r=$(awk -v a="$(median large bx_total)" -v b="$(median large rclone)" 'BEGIN { print a / b }')
printf 'large: breakdex/rclone <= 0.6x: %s (%.2fx)\n' "$(verdict "$r" 0.6)" "$r"
r=$(awk -v a="$(median large bx_total)" -v b="$(median large cp)" 'BEGIN { print a / b }')
printf 'large: breakdex/cp <= 1.5x: %s (%.2fx)\n' "$(verdict "$r" 1.5)" "$r"
r=$(awk -v a="$(median large enc_run)" -v b="$(median large bx_run)" 'BEGIN { print a / b }')
printf 'large: encrypted run/plain run <= 1.3x: %s (%.2fx)\n' "$(verdict "$r" 1.3)" "$r"
r=$(awk -v a="$(median small enc_run)" -v b="$(median small bx_run)" 'BEGIN { print a / b }')
printf 'small: encrypted run/plain run <= 1.5x: %s (%.2fx)\n' "$(verdict "$r" 1.5)" "$r"
