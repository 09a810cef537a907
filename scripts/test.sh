#!/usr/bin/env bash
# Runs the whole test suite on a fresh Debian machine: installs what the tests
# need, then builds and runs every test. Used as-is by CI (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

# The tests run the real binary and real servers on 127.0.0.1; nothing else
# is needed for the core suite beyond the Rust toolchain.
if ! command -v cargo >/dev/null; then
    echo "cargo is required (https://rustup.rs)" >&2
    exit 1
fi

# The remote-provider tests (tests/it/remote.rs) start real servers on
# 127.0.0.1: moto (S3), rclone (WebDAV) and OpenSSH sshd (SFTP). Install
# whatever is missing; when all is there this costs nothing.
need_apt=()
command -v rclone >/dev/null || need_apt+=(rclone)
{ [ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keyscan >/dev/null; } \
    || need_apt+=(openssh-server openssh-client)
command -v python3 >/dev/null || need_apt+=(python3 python3-pip python3-venv)
# The window's system-font test (tests/it/ui_trust.rs) draws Japanese,
# Arabic, Hebrew and Devanagari file names with fonts found by fontconfig.
command -v fc-list >/dev/null || need_apt+=(fontconfig)
has_font() { command -v fc-list >/dev/null && [ -n "$(fc-list ":lang=$1" family)" ]; }
has_font ja || need_apt+=(fonts-droid-fallback)
has_font hi || need_apt+=(fonts-lohit-deva)
{ has_font ar && has_font he; } || need_apt+=(fonts-dejavu-core)
# The encryption tests decrypt what Breakdex wrote with the age tool.
command -v age >/dev/null || need_apt+=(age)
# The keychain tests (tests/it/keychain.rs) run GNOME Keyring's Secret
# Service on a private D-Bus bus and look into it with secret-tool.
need_keychain=()
{ command -v dbus-daemon >/dev/null && command -v dbus-send >/dev/null; } || need_keychain+=(dbus)
command -v gnome-keyring-daemon >/dev/null || need_keychain+=(gnome-keyring)
command -v secret-tool >/dev/null || need_keychain+=(libsecret-tools)
if [ ${#need_apt[@]} -gt 0 ] || [ ${#need_keychain[@]} -gt 0 ]; then
    sudo_=""
    [ "$(id -u)" -eq 0 ] || sudo_="sudo"
    $sudo_ apt-get update -qq
    [ ${#need_apt[@]} -eq 0 ] \
        || DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${need_apt[@]}"
    # Without the desktop it recommends: only the daemon is needed.
    [ ${#need_keychain[@]} -eq 0 ] \
        || DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq --no-install-recommends "${need_keychain[@]}"
fi
if ! command -v moto_server >/dev/null || ! python3 -c 'import boto3' 2>/dev/null; then
    python3 -m pip install --quiet 'moto[server]' \
        || python3 -m pip install --quiet --break-system-packages 'moto[server]'
    # pip --user puts moto_server here on a plain Debian; pyenv needs its
    # shims rebuilt to see a new command.
    export PATH="$HOME/.local/bin:$PATH"
    if command -v pyenv >/dev/null; then pyenv rehash; fi
fi

cargo test --locked

# The packaging test: a .deb made from the binary just built, its desktop
# entry, metainfo and icons validated (installs cargo-deb and the validators).
bash scripts/check-deb.sh
