# The DNS resolver both servers use during the benchmark. Sourced by run-smtp-bench (bash,
# set -euo pipefail).
#
# Why: Postfix looks up the PTR record of every client (smtpd_peername_lookup = yes, its
# default, kept); imsrelay looks up none for a session it lets relay. 127.0.0.1 is answered
# from /etc/hosts, but 127.0.20.x (the spread row) and 127.0.21.x (the spread denial row) go
# to the machine's resolver. On a machine whose resolver drops some queries (one in about
# 60 on the machine this was written on), each drop costs the client glibc's 5 s timeout
# and Postfix fell to 12.8 msg/s: a figure of the machine, not of Postfix. A working
# resolver answers such a query at once (127.in-addr.arpa is served locally, RFC 6303).
#
# So, by default (BENCH_RESOLVER=private), the bench runs in a mount namespace of its own
# (unshare; the machine's /etc/resolv.conf is not touched) in which /etc/resolv.conf names a
# private dnsmasq on a loopback address: NXDOMAIN at once for 127.in-addr.arpa and test,
# anything else forwarded to the machine's own name servers. Both servers, Wine and
# Postfix, and the clients, see the same resolver. BENCH_RESOLVER=system keeps the machine's
# resolver (as before); without root or unshare the bench says so and keeps it too.
#
#   resolver_enter "$@"      call first: re-executes the calling script in its namespace
#   resolver_start DIR       dnsmasq and the bind mount (inside the namespace)
#   resolver_stop            (safe in a trap)
#   RESOLVER_NOTE            one line for the report: which resolver the run had

BENCH_RESOLVER=${BENCH_RESOLVER:-private}
RESOLVER_PID=

resolver_enter() {
    if [ "$BENCH_RESOLVER" != private ] || [ -n "${BENCH_RESOLVER_NAMESPACE:-}" ]; then
        return 0
    fi
    if [ "$(id -u)" -ne 0 ] || ! command -v unshare >/dev/null || [ ! -x /usr/sbin/dnsmasq ] ||
        ! unshare --mount --propagation private true 2>/dev/null; then
        echo "bench: no private resolver (needs root, unshare and dnsmasq): the machine's is used" >&2
        BENCH_RESOLVER=system
        return 0
    fi
    BENCH_RESOLVER_NAMESPACE=1 exec unshare --mount --propagation private \
        "$(realpath "$0")" "$@"
}

resolver_start() {
    local dir=$1 servers=() ns address tries
    if [ "$BENCH_RESOLVER" != private ]; then
        RESOLVER_NOTE="resolver: the machine's ($(awk '/^nameserver/ { printf "%s ", $2 }' /etc/resolv.conf | sed 's/ $//'))"
        return 0
    fi
    mkdir -p "$dir"
    for ns in $(awk '/^nameserver/ { print $2 }' /etc/resolv.conf); do
        servers+=("--server=$ns")
    done
    # A loopback address of its own on port 53 (glibc speaks only to port 53); another test
    # may hold one such address (tests/wine/delivery), so try a few.
    for tries in 1 2 3 4 5; do
        address=127.0.53.$((RANDOM % 200 + 20))
        /usr/sbin/dnsmasq --keep-in-foreground --no-resolv --no-hosts --bind-interfaces \
            --listen-address="$address" --port=53 --local=/127.in-addr.arpa/ --local=/test/ \
            "${servers[@]}" --pid-file= --log-facility="$dir/dnsmasq.log" &
        RESOLVER_PID=$!
        sleep 0.3
        if kill -0 "$RESOLVER_PID" 2>/dev/null; then
            break
        fi
        RESOLVER_PID=
    done
    if [ -z "$RESOLVER_PID" ]; then
        echo "bench: dnsmasq did not start; the machine's resolver is used" >&2
        BENCH_RESOLVER=system
        resolver_start "$dir"
        return 0
    fi
    printf 'nameserver %s\n' "$address" >"$dir/resolv.conf"
    mount --bind "$dir/resolv.conf" /etc/resolv.conf
    RESOLVER_NOTE="resolver: a private dnsmasq ($address, NXDOMAIN at once for 127.in-addr.arpa and test, the rest forwarded) for both servers; BENCH_RESOLVER=system for the machine's"
}

resolver_stop() {
    if [ -n "${RESOLVER_PID:-}" ]; then
        kill "$RESOLVER_PID" 2>/dev/null || true
        wait "$RESOLVER_PID" 2>/dev/null || true
        RESOLVER_PID=
    fi
}
