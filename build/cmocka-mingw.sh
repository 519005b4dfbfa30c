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

apt_dir="$deps/apt"
mkdir -p "$apt_dir/sources" "$apt_dir/lists/partial" "$apt_dir/src"
# deb-src twins of the system's Debian sources.
for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    sed 's/^Types:.*/Types: deb-src/' "$f" >"$apt_dir/sources/$(basename "$f")"
done
if [ -f /etc/apt/sources.list ]; then
    grep -E '^deb ' /etc/apt/sources.list | sed 's/^deb /deb-src /' >"$apt_dir/sources/legacy.list" || true
fi
apt_opts=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt_dir/sources"
    -o "Dir::State::Lists=$apt_dir/lists" -o "Dir::Cache=$apt_dir/cache" -o APT::Get::List-Cleanup=0)
mkdir -p "$apt_dir/cache/archives/partial"
apt-get "${apt_opts[@]}" -qq update
(cd "$apt_dir/src" && apt-get "${apt_opts[@]}" -qq source --download-only cmocka)

src_tar=$(ls "$apt_dir"/src/cmocka_*.orig.tar.* | head -n 1)
work="$deps/cmocka-src"
rm -rf "$work" && mkdir -p "$work"
tar -xf "$src_tar" -C "$work" --strip-components=1

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
