#!/usr/bin/env bash
# Memory of one large upload, plain and encrypted (issue 15: "memory stays
# flat for a 4 GiB file"): the peak resident memory of `breakdex run
# --until-idle` uploading one file of 64 MiB and one of SIZE (4 GiB by
# default) to a local folder on tmpfs, plain and with --encrypt (age). A
# streaming upload's peak does not grow with the file; whole-file buffering
# would add the file's size. The copy is checked: the plain one by its
# bytes, the encrypted one by `age -d -i` with the exported key.
#
#   scripts/bench-memory.sh               4 GiB
#   scripts/bench-memory.sh --size-mib N  N MiB instead
#
# Needs about 3 x SIZE free in /dev/shm (the file, the copy, the opened
# copy); builds the release binary; removes everything it made when it ends.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MIB=4096
[ "${1:-}" = "--size-mib" ] && SIZE_MIB=$2

command -v age >/dev/null || { echo "needs the age tool (apt-get install age)" >&2; exit 1; }
cargo build --release --quiet --bin breakdex
BX=$PWD/target/release/breakdex
W=$(mktemp -d /dev/shm/bx-memory-bench.XXXXXX)
trap 'rm -rf "$W"' EXIT
echo "a bench passphrase, never a real one" >"$W/passphrase"
export BREAKDEX_SECRET_STORE=file

# peak_kib MIB [--encrypt]: the peak RSS (KiB) of the run that uploads a
# file of MIB MiB, after the copy was checked.
peak_kib() {
    local mib=$1 lib crypt=()
    shift
    lib=$(mktemp -d "$W/lib-XXXXXX")
    [ "${1:-}" = --encrypt ] && crypt=(--encrypt --passphrase-file "$W/passphrase")
    head -c $((mib << 20)) /dev/urandom >"$lib/file.bin"
    "$BX" --db "$lib/l.db" provider add local p --root "$lib/root" "${crypt[@]}" >/dev/null
    "$BX" --db "$lib/l.db" add "$lib/file.bin" --provider p >/dev/null
    /usr/bin/time -f %M -o "$lib/peak" "$BX" --db "$lib/l.db" run --until-idle >/dev/null
    local object
    object=$(find "$lib/root/objects" -type f)
    if [ ${#crypt[@]} -gt 0 ]; then
        "$BX" --db "$lib/l.db" identity export "$lib/key.txt" >/dev/null
        age -d -i "$lib/key.txt" -o "$lib/opened" "$object"
        object=$lib/opened
    fi
    cmp -s "$object" "$lib/file.bin" || { echo "the copy of $mib MiB differs" >&2; exit 1; }
    cat "$lib/peak"
    rm -rf "$lib"
}

printf '%-10s %12s %12s\n' upload "64 MiB" "$SIZE_MIB MiB"
for mode in plain encrypted; do
    args=()
    [ $mode = encrypted ] && args=(--encrypt)
    small=$(peak_kib 64 "${args[@]}")
    large=$(peak_kib "$SIZE_MIB" "${args[@]}")
    printf '%-10s %9d MiB %9d MiB   (peak RSS of run --until-idle; grows by %d MiB)\n' \
        $mode $((small / 1024)) $((large / 1024)) $(((large - small) / 1024))
done
