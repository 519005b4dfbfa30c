# Sourced by the scripts that run Windows programs: a quiet, prompt-free Wine that never
# touches ~/.wine. Set WINEPREFIX before sourcing to pick the prefix; the default is the
# throwaway prefix the unit tests use, in the build tree.
_imsrelay_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export WINEPREFIX="${WINEPREFIX:-$_imsrelay_root/out/wine/unit}"
export WINEDEBUG="${WINEDEBUG:--all}"
export WINEDLLOVERRIDES="mscoree,mshtml="
export WINEARCH=win64
unset DISPLAY
# Debian puts the 64-bit loader here; the plain `wine` script only adds a wine32 hint.
WINE="${WINE:-/usr/lib/wine/wine64}"
export WINE

# wine_prefix_ready: makes the prefix once; concurrent callers wait for the first.
wine_prefix_ready() {
    mkdir -p "$(dirname "$WINEPREFIX")"
    (
        flock 9
        if [ ! -f "$WINEPREFIX/system.reg" ]; then
            "$WINE" wineboot -i >/dev/null 2>&1 || true
            wineserver -w
        fi
    ) 9>"$WINEPREFIX.lock"
}
