#!/usr/bin/env bash
# Builds mbed TLS 2.28 for the mingw-w64 target from Debian's own mbedtls source package:
# static libraries only (no programs, no tests), linked into imsrelay.exe, so the installer
# ships nothing more. The source is fetched with a private apt configuration (the system's
# apt sources stay untouched, build/debian-source.sh) and everything is cached in out/deps: a
# second run does nothing.
#   usage: build/mbedtls-mingw.sh OUT_DIR   (installs into OUT_DIR/mbedtls-mingw)
#
# Why mbed TLS and not SChannel alone: under Wine 8 SChannel works as a TLS client but not as
# a server (the first AcceptSecurityContext returns SEC_E_UNSUPPORTED_FUNCTION, measured on
# Debian 12's Wine 8.0), and inbound STARTTLS must work and be proven where the tests run. mbed TLS
# is small (three static libraries, no runtime DLL), Debian ships its source, it speaks TLS
# 1.2 with ECDHE and AES-GCM on both sides, and its RSA-alt hook (mbedtls_pk_setup_rsa_alt)
# lets the private key stay in the Windows key store: mbed TLS asks for a signature, Windows
# makes it. This build cannot speak SSL 3.0, TLS 1.0 or 1.1 at all: they are compiled out.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
deps=$(mkdir -p "$1" && cd "$1" && pwd)
prefix="$deps/mbedtls-mingw"
[ -f "$prefix/lib/libmbedtls.a" ] && exit 0

source "$root/build/debian-source.sh"
# Debian 12 ships the 2.28 long-term branch; a 3.x source would need other config edits.
work="$deps/mbedtls-src"
debian_source "$deps" mbedtls 'mbedtls_2.28*.orig.tar.*' "$work"
src_tar=$DEBIAN_SOURCE_TAR

# Compiled out: the older protocols and their CBC record splitting, renegotiation (a
# handshake inside a session is attack surface SMTP never needs), and what imsrelay does its
# own way (sockets, timers, DTLS).
for option in MBEDTLS_SSL_PROTO_SSL3 MBEDTLS_SSL_PROTO_TLS1 MBEDTLS_SSL_PROTO_TLS1_1 \
    MBEDTLS_SSL_CBC_RECORD_SPLITTING MBEDTLS_SSL_RENEGOTIATION MBEDTLS_NET_C MBEDTLS_TIMING_C MBEDTLS_SSL_PROTO_DTLS \
    MBEDTLS_SSL_DTLS_ANTI_REPLAY MBEDTLS_SSL_DTLS_HELLO_VERIFY MBEDTLS_SSL_DTLS_CLIENT_PORT_REUSE \
    MBEDTLS_SSL_DTLS_BADMAC_LIMIT MBEDTLS_SSL_COOKIE_C; do
    sed -i "s|^#define $option\$|//#define $option|" "$work/include/mbedtls/config.h"
done
# ... and what imsrelay relies on, checked rather than assumed.
for option in MBEDTLS_PK_RSA_ALT_SUPPORT MBEDTLS_SSL_PROTO_TLS1_2 MBEDTLS_GCM_C \
    MBEDTLS_KEY_EXCHANGE_ECDHE_RSA_ENABLED MBEDTLS_SSL_SERVER_NAME_INDICATION; do
    if ! grep -q "^#define $option\$" "$work/include/mbedtls/config.h"; then
        echo "mbedtls-mingw: $option is not enabled in $src_tar" >&2
        exit 1
    fi
done

cmake -S "$work" -B "$work/_build" -DCMAKE_TOOLCHAIN_FILE="$root/build/mingw-w64-x86_64.cmake" \
    -DCMAKE_INSTALL_PREFIX="$prefix" -DCMAKE_BUILD_TYPE=Release \
    -DUSE_STATIC_MBEDTLS_LIBRARY=ON -DUSE_SHARED_MBEDTLS_LIBRARY=OFF -DENABLE_PROGRAMS=OFF \
    -DENABLE_TESTING=OFF -DMBEDTLS_FATAL_WARNINGS=OFF \
    -DCMAKE_CROSSCOMPILING_EMULATOR= >/dev/null
cmake --build "$work/_build" -j"${JOBS:-2}" >/dev/null
cmake --install "$work/_build" >/dev/null
echo "mbedtls-mingw: built into $prefix"
