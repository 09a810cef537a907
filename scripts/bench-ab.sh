#!/usr/bin/env bash
# Two builds of breakdex side by side on the same small files, interleaved
# (base, new, base, new...), a fresh library each time: `add` then
# `run --until-idle`, medians of wall and CPU seconds. For a change to a hot
# path on a machine whose speed moves (see BENCHMARKS.md).
#
#   scripts/bench-ab.sh BASE_BINARY NEW_BINARY [PAIRS (default 11)] [FILES (default 10000)]
#
# Build the base with e.g. `git worktree add /tmp/base COMMIT` and
# `CARGO_TARGET_DIR=$PWD/target cargo build --release` there (copy the
# binary aside before building the new one).
set -euo pipefail
[ $# -ge 2 ] || { sed -n '2,12p' "$0"; exit 2; }
BASE=$(realpath "$1"); NEW=$(realpath "$2"); PAIRS=${3:-11}; FILES=${4:-10000}
WORK=$(mktemp -d /dev/shm/breakdex-ab.XXXXXX)
trap 'rm -rf "$WORK"' EXIT
export BREAKDEX_SECRET_STORE=file
python3 - "$WORK/src" "$FILES" <<'PY'
import os, sys
root, n = sys.argv[1], int(sys.argv[2])
for i in range(n):
    d = os.path.join(root, "d%02d" % (i % 100))
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "f%05d" % i), "wb") as f:
        f.write(os.urandom(4096))
PY
for _ in $(seq "$PAIRS"); do
    for v in base new; do
        if [ $v = base ]; then bx=$BASE; else bx=$NEW; fi
        lib=$WORK/lib-$v
        rm -rf "$lib"
        "$bx" --db "$lib/l.db" provider add local bench --root "$lib/root" --concurrency 8 >/dev/null
        a=$({ /usr/bin/time -f "%e %U %S" "$bx" --db "$lib/l.db" add --provider bench "$WORK/src" >/dev/null; } 2>&1)
        r=$({ /usr/bin/time -f "%e %U %S" "$bx" --db "$lib/l.db" run --until-idle --concurrency 8 >/dev/null; } 2>&1)
        echo "$v $a $r" >>"$WORK/results"
    done
done
python3 - "$WORK/results" <<'PY'
import sys, statistics as st
rows = [l.split() for l in open(sys.argv[1])]
print("medians of %d pairs, seconds: wall (cpu = user + system)" % (len(rows) // 2))
for v in ("base", "new"):
    r = [list(map(float, x[1:])) for x in rows if x[0] == v]
    med = lambda k: st.median(k(x) for x in r)
    print("%-4s  add %.3f (cpu %.3f)   run %.3f (cpu %.3f)   total %.3f" % (
        v, med(lambda x: x[0]), med(lambda x: x[1] + x[2]), med(lambda x: x[3]),
        med(lambda x: x[4] + x[5]), med(lambda x: x[0] + x[3])))
PY
