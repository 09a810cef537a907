#!/usr/bin/env bash
# Tries the installed package the way a person would: starts /usr/bin/breakdex
# (installed from the .deb) under Xvfb with a fresh home, a D-Bus session and
# a notification daemon (dunst), adds six files from the command line, makes
# one of them fail for good (its source is deleted while the queue is
# paused), resumes from the toolbar, and saves a screenshot of the window and
# the desktop notifications (default: assets/installed-deb.png).
#   sudo apt install ./target/debian/breakdex_*.deb && bash scripts/try-installed.sh [OUT.png]
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-assets/installed-deb.png}")
app_bin=/usr/bin/breakdex
[ -x "$app_bin" ] || { echo "install the package first: $app_bin is missing" >&2; exit 1; }

need=()
for tool in Xvfb:xvfb import:imagemagick xdotool:xdotool dunst:dunst dbus-run-session:dbus; do
    command -v "${tool%%:*}" >/dev/null || need+=("${tool##*:}")
done
if [ ${#need[@]} -gt 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

home=$(mktemp -d)
runtime=$(mktemp -d) && chmod 700 "$runtime"
display=:$((70 + RANDOM % 9))
Xvfb "$display" -screen 0 1500x900x24 -nolisten tcp >/dev/null 2>&1 &
xvfb=$!
trap 'kill $xvfb 2>/dev/null || true; rm -rf "$home" "$runtime"' EXIT
sleep 1

mkdir -p "$home/Pictures"
for i in 1 2 3 4 5 6; do
    head -c $((i * 200000)) /dev/urandom >"$home/Pictures/IMG_00$i.jpg"
done

export HOME=$home DISPLAY=$display XDG_RUNTIME_DIR=$runtime
dbus-run-session -- bash -c '
    set -eu
    dunst -geometry 420x5-20+40 >/dev/null 2>&1 &
    sleep 1
    env -u WAYLAND_DISPLAY "$0" --paused >/dev/null 2>&1 &
    app=$!
    xdotool search --sync --onlyvisible --name Breakdex >/dev/null
    "$0" add "$HOME/Pictures"
    rm "$HOME/Pictures/IMG_003.jpg"
    sleep 2
    window=$(xdotool search --onlyvisible --name Breakdex | head -n 1)
    # The toolbar'"'"'s Resume button.
    xdotool mousemove --window "$window" 150 34 click 1
    sleep 5
    import -window root "$1"
    kill "$app"
' "$app_bin" "$out"
echo "screenshot: $out"
echo "log: $(ls "$home"/.local/state/breakdex/logs/*.log 2>/dev/null || echo none)"
tail -n 3 "$home"/.local/state/breakdex/logs/*.log 2>/dev/null || true
