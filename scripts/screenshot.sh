#!/usr/bin/env bash
# Starts the real window under Xvfb on a generated library of 100,000 ops in
# every state and saves a screenshot (default: assets/screenshot.png).
#   bash scripts/screenshot.sh [OUT.png] [N_OPS]
# SIZE=900x600 takes it at another screen size (default 1400x860).
# VIEW=assets takes the Assets view (switched to with Ctrl+Shift+A),
# VIEW=history the History window, VIEW=excludes the Exclude rules window,
# VIEW=watched the Watched folders window, VIEW=providers the providers
# window, VIEW=new-provider its form for a new S3 provider (encrypted by
# default).
# MEASURE_IDLE=1 then leaves the window alone and prints the CPU it used over
# 10 s (every thread: UI, model, the software renderer) and its memory.
set -euo pipefail
cd "$(dirname "$0")/.."
out=${1:-assets/screenshot.png}
n=${2:-100000}

need=()
for tool in Xvfb:xvfb import:imagemagick xdotool:xdotool flock:util-linux; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
done
[ -e /usr/lib/x86_64-linux-gnu/dri/swrast_dri.so ] || [ -e /usr/lib/x86_64-linux-gnu/dri/llvmpipe_dri.so ] || need+=(libgl1-mesa-dri)
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" fonts-dejavu-core >/dev/null
fi

cargo build --release --quiet --bin breakdex --example demo_library
work=$(mktemp -d)
runtime=$(mktemp -d) && chmod 700 "$runtime"
cleanup() {
    # (flock's own child too: it would hold a pipe on our output open.)
    [ -z "${holder:-}" ] || pkill -P "$holder" 2>/dev/null || true
    kill "${app:-}" "${xvfb:-}" "${holder:-}" 2>/dev/null || true
    rm -rf "$work" "$runtime"
}
trap cleanup EXIT

db="$work/library.db"
target/release/examples/demo_library "$db" "$n"
# Keep the demo's in-progress ops in progress: their owner's lock stays held.
mkdir -p "$db.engines"
flock "$db.engines/demo.lock" sleep 600 &
holder=$!

display=:$((90 + RANDOM % 9))
Xvfb "$display" -screen 0 "${SIZE:-1400x860}x24" -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
sleep 1
env -u WAYLAND_DISPLAY DISPLAY="$display" XDG_RUNTIME_DIR="$runtime" \
    target/release/breakdex --db "$db" --paused >"$work/app.log" 2>&1 &
app=$!
window=$(DISPLAY="$display" xdotool search --sync --onlyvisible --name Breakdex | head -n 1)
# Let the model read the queue and the first frames settle.
sleep 4
case "${VIEW:-}" in
assets)
    # (Xvfb has no window manager to activate a window: focus it.)
    DISPLAY="$display" xdotool windowfocus "$window" key ctrl+shift+a
    sleep 4
    ;;
providers | new-provider)
    # The toolbar's Providers button (left-aligned: the same place at every size).
    DISPLAY="$display" xdotool mousemove --window "$window" 370 69 click 1
    sleep 4
    if [ "$VIEW" = new-provider ]; then
        # Its "Add a provider…" (below the demo's three), then the S3 kind.
        DISPLAY="$display" xdotool mousemove --window "$window" 350 260 click 1
        sleep 1
        DISPLAY="$display" xdotool mousemove --window "$window" ${S3_AT:-534 284} click 1
        sleep 1
        # Scrolled down to the form's end: its encryption.
        DISPLAY="$display" xdotool mousemove --window "$window" 900 350 click --repeat 10 5
        sleep 2
    fi
    ;;
history | excludes | watched)
    # From the menu bar: Queue → History…, File → Exclude rules…, File →
    # Watched folders….
    case "$VIEW" in
    history) menu=(58 12) item=(90 110) ;;
    excludes) menu=(18 12) item=(50 80) ;;
    watched) menu=(18 12) item=(50 58) ;;
    esac
    DISPLAY="$display" xdotool mousemove --window "$window" "${menu[@]}" click 1
    sleep 1
    DISPLAY="$display" xdotool mousemove --window "$window" "${item[@]}" click 1
    sleep 3
    ;;
esac
mkdir -p "$(dirname "$out")"
DISPLAY="$display" import -window "$window" "$out"
echo "screenshot: $out"
if [ -n "${MEASURE_IDLE:-}" ]; then
    sleep 10
    ticks() { awk '{print $14 + $15}' "/proc/$app/stat"; }
    t0=$(ticks)
    sleep 10
    t1=$(ticks)
    awk -v d="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" \
        'BEGIN { printf "idle window: %.1f%% of a core over 10 s\n", 100 * d / hz / 10 }'
    grep VmRSS "/proc/$app/status"
fi
cat "$work/app.log"
