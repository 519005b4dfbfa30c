#!/usr/bin/env bash
# Installs the Debian packages imsrelay needs to build, test and run, and nothing when they
# are all there already. Runs as root on Debian 12 (as on the project's machines and CI).
set -euo pipefail

packages=(
    cmake make gcc clang libcmocka-dev libclang-rt-14-dev
    mingw-w64 wine64 wine nsis
    dpkg-dev python3 swaks clang-format
)

missing=()
for p in "${packages[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$p")
    fi
done

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

echo "setup: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
