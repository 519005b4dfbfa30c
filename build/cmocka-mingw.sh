#!/usr/bin/env bash
# Builds cmocka for the mingw-w64 target from Debian's own cmocka source package, so the
# unit tests can also run as Windows programs. The source is fetched with a private apt
# configuration (the system's apt sources stay untouched) and everything is cached in
# out/deps: a second run does nothing.
#   usage: build/cmocka-mingw.sh OUT_DIR   (installs into OUT_DIR/cmocka-mingw)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=$(mkdir -p "$1" && cd "$1" && pwd)
prefix="$deps/cmocka-mingw"
[ -f "$prefix/lib/libcmocka.a" ] && exit 0

source "$root/build/debian-source.sh"
work="$deps/cmocka-src"
debian_source "$deps" cmocka 'cmocka_*.orig.tar.*' "$work"

cmake -S "$work" -B "$work/_build" -DCMAKE_TOOLCHAIN_FILE="$root/build/mingw-w64-x86_64.cmake" \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DWITH_STATIC_LIB=ON -DBUILD_SHARED_LIBS=OFF -DWITH_EXAMPLES=OFF -DUNIT_TESTING=OFF \
    -DCMAKE_CROSSCOMPILING_EMULATOR= >/dev/null
cmake --build "$work/_build" -j2 >/dev/null
cmake --install "$work/_build" >/dev/null
# cmocka names its static library differently across versions; give it one stable name.
if [ ! -f "$prefix/lib/libcmocka.a" ]; then
    lib=$(ls "$prefix"/lib/libcmocka*.a | grep -v dll | head -n 1)
    cp "$lib" "$prefix/lib/libcmocka.a"
fi
echo "cmocka-mingw: built into $prefix"
