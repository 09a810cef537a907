#!/usr/bin/env bash
# Regenerates every icon derived from assets/breakdex.svg. The outputs are
# committed, so building or packaging Breakdex never needs these tools; run
# this only after editing the SVG.
#
#   packaging/icons/hicolor/<N>x<N>/apps/io.github.breakdex.Breakdex.png
#       N = 16 24 32 48 64 128 256 512 (freedesktop icon theme, Linux)
#   packaging/icons/hicolor/scalable/apps/io.github.breakdex.Breakdex.svg
#   packaging/windows/breakdex.ico   (16, 24, 32, 48, 64, 128, 256)
#   packaging/macos/breakdex.icns    (32 to 1024, PNG-encoded entries)
#
# Needs rsvg-convert (Debian: librsvg2-bin) and Python 3 with Pillow
# (pip install Pillow).
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=io.github.breakdex.Breakdex
src=assets/breakdex.svg
hicolor=packaging/icons/hicolor
sizes=(16 24 32 48 64 128 256 512)

if ! command -v rsvg-convert >/dev/null; then
    echo "icons.sh: rsvg-convert is missing (Debian/Ubuntu: apt-get install librsvg2-bin)" >&2
    exit 1
fi
if ! python3 -c 'import PIL' 2>/dev/null; then
    echo "icons.sh: Python Pillow is missing (pip install Pillow)" >&2
    exit 1
fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

for n in "${sizes[@]}"; do
    dir="$hicolor/${n}x${n}/apps"
    mkdir -p "$dir"
    rsvg-convert --width "$n" --height "$n" --keep-aspect-ratio "$src" -o "$dir/$app_id.png"
    echo "wrote $dir/$app_id.png"
done
mkdir -p "$hicolor/scalable/apps"
cp "$src" "$hicolor/scalable/apps/$app_id.svg"
echo "wrote $hicolor/scalable/apps/$app_id.svg"

# macOS wants a 1024 px entry too; it is only an intermediate here.
rsvg-convert --width 1024 --height 1024 --keep-aspect-ratio "$src" -o "$tmp/1024.png"

mkdir -p packaging/windows packaging/macos
python3 - "$hicolor" "$app_id" "$tmp/1024.png" <<'PY'
import sys
from PIL import Image

hicolor, app_id, big = sys.argv[1:4]

def load(n):
    return Image.open(f"{hicolor}/{n}x{n}/apps/{app_id}.png").convert("RGBA")

# Windows: every size rendered by rsvg-convert, none rescaled by Pillow.
ico_sizes = [16, 24, 32, 48, 64, 128, 256]
ico = [load(n) for n in ico_sizes]
ico[-1].save("packaging/windows/breakdex.ico", format="ICO",
             sizes=[(n, n) for n in ico_sizes], append_images=ico[:-1])
print("wrote packaging/windows/breakdex.ico")

# macOS: Pillow writes the 32, 64, 128, 256, 512 and 1024 px entries;
# hand it the rendered ones so nothing is rescaled.
icns = [load(n) for n in (32, 64, 128, 256, 512)]
Image.open(big).convert("RGBA").save("packaging/macos/breakdex.icns",
                                     format="ICNS", append_images=icns)
print("wrote packaging/macos/breakdex.icns")
PY
