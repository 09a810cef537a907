#!/usr/bin/env bash
# Watched folders' rescan (see BENCHMARKS.md): a watched folder of 100,000
# unchanged files in 1,000 folders, rescanned by `breakdex watch scan` (the
# walk with the exclude rules, a size and time look per file, and the
# comparison with what the library took), beside `find -printf '%s %T@'`
# (a walk that looks at every file's size and time: the least any rescan
# does) and `rclone lsl` (rclone's listing with sizes and times), in one run,
# interleaved, medians of RUNS, with ratios. Target: under 3 s.
#
#   scripts/bench-watch.sh                 on tmpfs (/dev/shm)
#   scripts/bench-watch.sh --disk DIR      in DIR (a real disk)
#   scripts/bench-watch.sh --runs N        N runs of each (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=/dev/shm
RUNS=5
FILES=100000
while [ $# -gt 0 ]; do
    case "$1" in
        --disk) mkdir -p "$2"; BASE=$(cd "$2" && pwd); shift 2 ;;
        --runs) RUNS=$2; shift 2 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

if ! command -v rclone >/dev/null; then
    echo "installing rclone" >&2
    apt-get install -y -qq rclone >/dev/null
fi
cargo build --release --quiet
BIN=$PWD/target/release/breakdex

WORK=$(mktemp -d "$BASE/breakdex-bench-watch.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
DB=$WORK/library.db
DIR=$WORK/Pictures
python3 - "$DIR" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, f"{i // 100:04d}")
    if i % 100 == 0:
        os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, f"IMG_{i:06d}.jpg"), "wb") as f:
        f.write(i.to_bytes(8, "little") * 16)
PY

now_us() { echo $(($(date +%s%N) / 1000)); }
RESULTS=$WORK/results
timed() { # WHAT COMMAND...
    local what=$1 start
    shift
    start=$(now_us)
    "$@" >/dev/null 2>"$WORK/err" || { echo "failed: $*" >&2; cat "$WORK/err" >&2; exit 1; }
    echo "$what $(($(now_us) - start))" >>"$RESULTS"
}
median() {
    awk -v w="$1" '$1 == w { print $2 }' "$RESULTS" | sort -n |
        awk '{ v[NR] = $1 } END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2; printf "%.3f", m / 1e6 }'
}

"$BIN" --db "$DB" watch add "$DIR" >/dev/null 2>&1
timed first "$BIN" --db "$DB" watch scan
for _ in $(seq "$RUNS"); do
    timed breakdex "$BIN" --db "$DB" watch scan
    timed find find "$DIR" -type f -printf '%s %T@\n'
    timed rclone rclone lsl --config /dev/null "$DIR"
done
unchanged=$("$BIN" --db "$DB" watch scan | grep -o '[0-9,]* unchanged')

echo "watched-folder rescan, $FILES files in $((FILES / 100)) folders on $BASE, median of $RUNS runs (wall seconds)"
printf '  %-58s %8s\n' "breakdex watch scan, first (hashes and records every file)" "$(median first)"
printf '  %-58s %8s   (%s)\n' "breakdex watch scan, nothing changed" "$(median breakdex)" "$unchanged"
printf '  %-58s %8s\n' "find -printf '%s %T@' (walk and stat)" "$(median find)"
printf '  %-58s %8s\n' "rclone lsl" "$(median rclone)"
awk -v b="$(median breakdex)" -v f="$(median find)" -v r="$(median rclone)" 'BEGIN {
    printf "ratios: breakdex / find %.2fx, breakdex / rclone lsl %.2fx; target under 3 s: %s\n",
        b / f, b / r, (b < 3 ? "met" : "NOT met") }'
