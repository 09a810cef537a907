#!/usr/bin/env bash
# Packaging test: builds the Debian package from the binary `cargo test` has
# already built (target/debug/breakdex, no second build), then checks what is
# inside it: the binary runs, the desktop entry and AppStream metainfo
# validate, every icon is there at its size, and the control file says what
# Cargo.toml's [package.metadata.deb] says. Run after `cargo test` (or
# `cargo build`); scripts/test.sh does.
#
# Set BREAKDEX_DEB_OUT=DIR to keep the .deb in DIR.

# `[ test ] && ok ... || fail ...` is safe here: ok never fails.
# shellcheck disable=SC2015
set -euo pipefail
cd "$(dirname "$0")/.."

app_id=io.github.breakdex.Breakdex
icon_sizes=(16 24 32 48 64 128 256 512)
cargo_deb_version=3.8.0

die() { echo "check-deb: $*" >&2; exit 1; }

# --- tools -------------------------------------------------------------------

command -v cargo >/dev/null || die "cargo is required (https://rustup.rs)"
command -v python3 >/dev/null || die "python3 is required"

need_apt=()
command -v desktop-file-validate >/dev/null || need_apt+=(desktop-file-utils)
command -v appstreamcli >/dev/null || need_apt+=(appstream)
command -v dpkg-shlibdeps >/dev/null || need_apt+=(dpkg-dev)   # cargo-deb's $auto
{ command -v strip >/dev/null && command -v readelf >/dev/null; } || need_apt+=(binutils)
if [ ${#need_apt[@]} -gt 0 ]; then
    echo "check-deb: installing ${need_apt[*]}"
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
if ! cargo deb --version >/dev/null 2>&1; then
    echo "check-deb: installing cargo-deb $cargo_deb_version"
    cargo install cargo-deb --version "$cargo_deb_version" --locked --quiet
fi

# --- the binary cargo test built ---------------------------------------------

read -r target_dir version < <(cargo metadata --no-deps --format-version 1 --offline \
    | python3 -c 'import json, sys
m = json.load(sys.stdin)
p = next(p for p in m["packages"] if p["name"] == "breakdex")
print(m["target_directory"], p["version"])')
[ -n "${version:-}" ] || die "could not read the target dir and version from 'cargo metadata'"
built="$target_dir/debug/breakdex"
[ -x "$built" ] || die "$built is missing: run 'cargo test' or 'cargo build' first"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# cargo-deb packages "target/release/<bin>" of the target dir it is given and
# deprecates packaging the dev profile, so give it a target dir of its own whose
# release/breakdex is the dev binary. It strips a copy (--strip: the release
# profile strips at build time, so cargo-deb would not); $built is not touched,
# and its temporary files stay in $tmp.
mkdir -p "$tmp/target/release"
ln -s "$built" "$tmp/target/release/breakdex"
echo "check-deb: packaging $built"
deb_log="$tmp/cargo-deb.log"
if ! CARGO_TARGET_DIR="$tmp/target" cargo deb --no-build --strip --fast --locked --offline \
        --output "$tmp/out/" >"$deb_log" 2>&1; then
    cat "$deb_log" >&2
    die "cargo deb failed"
fi
debs=("$tmp"/out/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || die "expected one .deb in $tmp/out"
deb="${debs[0]}"
echo "check-deb: built $(basename "$deb") ($(du -h "$deb" | cut -f1))"
if [ -n "${BREAKDEX_DEB_OUT:-}" ]; then
    mkdir -p "$BREAKDEX_DEB_OUT"
    cp "$deb" "$BREAKDEX_DEB_OUT/"
    echo "check-deb: copied to $BREAKDEX_DEB_OUT/"
fi

root="$tmp/root"
dpkg-deb -x "$deb" "$root"
dpkg-deb -c "$deb" >"$tmp/contents"

# --- checks ------------------------------------------------------------------

passed=0
failed=0
ok() { echo "ok    $1"; passed=$((passed + 1)); }
fail() {
    echo "FAIL  $1"
    shift
    for detail in "$@"; do sed 's/^/      /' <<<"$detail"; done
    failed=$((failed + 1))
}

# cargo-deb's own warnings (a missing file, a bad field) count as failures.
if grep -qi 'warning' "$deb_log"; then
    fail "cargo deb: no warnings" "$(cat "$deb_log")"
else
    ok "cargo deb --no-build: built from the dev binary, no warnings"
fi

# Control file
field() { dpkg-deb -f "$deb" "$1"; }
[ "$(field Package)" = breakdex ] && ok "control: Package is breakdex" \
    || fail "control: Package is breakdex" "got '$(field Package)'"
[ "$(field Version)" = "$version-1" ] && ok "control: Version is $version-1 (Cargo.toml)" \
    || fail "control: Version is $version-1 (Cargo.toml)" "got '$(field Version)'"
arch=$(dpkg --print-architecture)
[ "$(field Architecture)" = "$arch" ] && ok "control: Architecture is $arch" \
    || fail "control: Architecture is $arch" "got '$(field Architecture)'"
# Every package named in Cargo.toml's depends (besides $auto) is in Depends,
# and $auto found the C library.
declared=$(sed -n 's/^depends = "\(.*\)"$/\1/p' Cargo.toml | tr ',' '\n' | tr -d ' ' | grep -v '^\$auto$' || true)
[ -n "$declared" ] || fail "control: Depends" "no depends = \"...\" line found in Cargo.toml"
depends=$(field Depends)
missing=()
for pkg in $declared libc6; do
    grep -Eq "(^|, )$pkg( |,|$)" <<<"$depends" || missing+=("$pkg")
done
if [ -n "$declared" ] && [ ${#missing[@]} -eq 0 ]; then
    ok "control: Depends has libc6 and the $(wc -w <<<"$declared") run-time libraries"
else
    fail "control: Depends has libc6 and the run-time libraries" "missing: ${missing[*]}" "Depends: $depends"
fi

# Each of those names is a real package of this Debian release (a typo would
# make the .deb uninstallable). Needs the local apt lists; skipped without them.
if apt-cache show --no-all-versions libc6 >/dev/null 2>&1; then
    unknown=()
    for pkg in $declared; do
        apt-cache show --no-all-versions "$pkg" >/dev/null 2>&1 || unknown+=("$pkg")
    done
    [ ${#unknown[@]} -eq 0 ] && ok "control: every declared dependency is a known package (apt-cache)" \
        || fail "control: every declared dependency is a known package (apt-cache)" "unknown: ${unknown[*]}"
    if out=$(apt-get install --simulate --no-install-recommends "$deb" 2>&1); then
        ok "apt-get install --simulate: the package's dependencies can be met"
    else
        fail "apt-get install --simulate: the package's dependencies can be met" "$(tail -5 <<<"$out")"
    fi
else
    echo "skip  control: dependencies known and installable (no apt lists; run apt-get update)"
fi

# The binary
bin="$root/usr/bin/breakdex"
if [ -f "$bin" ] && [ -x "$bin" ]; then
    ok "usr/bin/breakdex is an executable file"
else
    fail "usr/bin/breakdex is an executable file" "$(grep 'usr/bin' "$tmp/contents" || echo 'not in the package')"
fi
build_id() { readelf -n "$1" 2>/dev/null | sed -n 's/.*Build ID: *//p'; }
want_id=$(build_id "$built")
got_id=$(build_id "$bin")
[ -n "$want_id" ] && [ "$want_id" = "$got_id" ] \
    && ok "usr/bin/breakdex is $built (build id $want_id)" \
    || fail "usr/bin/breakdex is $built" "build id '$got_id', expected '$want_id'"
if readelf -S "$bin" 2>/dev/null | grep -q '\.debug_info'; then
    fail "usr/bin/breakdex is stripped" "it still has .debug_info"
else
    ok "usr/bin/breakdex is stripped ($(du -h "$bin" | cut -f1))"
fi
if out=$("$bin" --version 2>&1) && [ "$out" = "breakdex $version" ]; then
    ok "breakdex --version prints '$out'"
else
    fail "breakdex --version prints 'breakdex $version'" "got: $out"
fi
if out=$("$bin" --help 2>&1) && grep -q '^Usage: breakdex' <<<"$out"; then
    ok "breakdex --help works"
else
    fail "breakdex --help works" "got: $(head -3 <<<"$out")"
fi

# Desktop entry
desktop="$root/usr/share/applications/$app_id.desktop"
if [ ! -f "$desktop" ]; then
    fail "usr/share/applications/$app_id.desktop is there"
elif out=$(desktop-file-validate "$desktop" 2>&1) && [ -z "$out" ]; then
    ok "desktop-file-validate $app_id.desktop: no errors, no warnings"
else
    fail "desktop-file-validate $app_id.desktop" "$out"
fi
if [ -f "$desktop" ]; then
    entry() { sed -n "s/^$1=//p" "$desktop"; }
    exec_bin=$(entry Exec | cut -d' ' -f1)
    if [ -x "$root/usr/bin/$exec_bin" ] && [ "$(entry Icon)" = "$app_id" ] \
            && [ "$(entry StartupWMClass)" = "$app_id" ]; then
        ok "desktop entry: Exec=$exec_bin is packaged, Icon and StartupWMClass are $app_id"
    else
        fail "desktop entry: Exec, Icon, StartupWMClass" \
            "Exec=$(entry Exec) Icon=$(entry Icon) StartupWMClass=$(entry StartupWMClass)"
    fi
fi

# AppStream metainfo. Infos (I:) and pedantic notes (P:) are allowed;
# warnings (W:) and errors (E:) are not.
metainfo="$root/usr/share/metainfo/$app_id.metainfo.xml"
if [ ! -f "$metainfo" ]; then
    fail "usr/share/metainfo/$app_id.metainfo.xml is there"
elif out=$(appstreamcli validate --no-net "$metainfo" 2>&1) && ! grep -Eq '^ *[WE]:' <<<"$out"; then
    ok "appstreamcli validate --no-net $app_id.metainfo.xml: no errors, no warnings"
else
    fail "appstreamcli validate --no-net $app_id.metainfo.xml" "$out"
fi
# The whole installed tree: metainfo, its desktop entry and its icons together.
if out=$(appstreamcli validate-tree --no-net "$root" 2>&1) && ! grep -Eq '^ *[WE]:' <<<"$out"; then
    ok "appstreamcli validate-tree --no-net: no errors, no warnings"
else
    fail "appstreamcli validate-tree --no-net" "$out"
fi
if [ -f "$metainfo" ] && grep -q "<id>$app_id</id>" "$metainfo" \
        && grep -q "<launchable type=\"desktop-id\">$app_id.desktop</launchable>" "$metainfo"; then
    ok "metainfo: id $app_id, launchable $app_id.desktop"
else
    fail "metainfo: id $app_id, launchable $app_id.desktop"
fi

# Icons: a PNG of the right pixel size for every size, and the SVG.
for n in "${icon_sizes[@]}"; do
    png="$root/usr/share/icons/hicolor/${n}x${n}/apps/$app_id.png"
    if size=$(python3 - "$png" <<'PY'
import struct, sys
try:
    with open(sys.argv[1], "rb") as f:
        head = f.read(24)
except OSError:
    sys.exit(1)
if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
    sys.exit(1)
print("%dx%d" % struct.unpack(">II", head[16:24]))
PY
    ) && [ "$size" = "${n}x${n}" ]; then
        ok "icon ${n}x${n}: PNG, $size px"
    else
        fail "icon ${n}x${n}: PNG, ${n}x${n} px" "${png#"$root"/}: ${size:-missing or not a PNG}"
    fi
done
svg="$root/usr/share/icons/hicolor/scalable/apps/$app_id.svg"
if [ -f "$svg" ] && grep -q '<svg' "$svg"; then
    ok "icon scalable: SVG"
else
    fail "icon scalable: SVG" "${svg#"$root"/} missing or not an SVG"
fi

# Documentation
for doc in README.md copyright; do
    [ -f "$root/usr/share/doc/breakdex/$doc" ] && ok "usr/share/doc/breakdex/$doc is there" \
        || fail "usr/share/doc/breakdex/$doc is there"
done

echo
if [ "$failed" -eq 0 ]; then
    echo "check-deb: PASS, all $passed checks ($(basename "$deb"))"
else
    echo "check-deb: FAIL, $failed of $((passed + failed)) checks failed ($(basename "$deb"))"
    exit 1
fi
