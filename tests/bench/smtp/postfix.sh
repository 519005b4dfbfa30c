# The reference server: a PRIVATE Postfix instance in the build tree, never the system's.
# Sourced by run-smtp-bench (bash, set -euo pipefail). Its own config_directory,
# queue_directory and data_directory under $PF_DIR, listening on 127.0.0.1:$PF_PORT only;
# accepted mail is queued (fsync'd, as Postfix always does) and then discarded.
#
#   postfix_ensure_installed          # apt-get install postfix, debconf preseeded, if missing
#   postfix_configure DIR PORT ALLOW [DENY_CIDR_FILE]
#   postfix_start / postfix_reload / postfix_stop

# The package is installed with "No configuration": it then writes no /etc/postfix/main.cf,
# sets up no system mail, and starts nothing we would have to stop.
postfix_ensure_installed() {
    if command -v smtp-source >/dev/null && [ -x /usr/sbin/postfix ]; then
        return 0
    fi
    local sudo=
    [ "$(id -u)" -eq 0 ] || sudo=sudo
    $sudo apt-get update -qq
    if apt-get -s install --no-install-recommends postfix 2>/dev/null | grep -q '^Remv'; then
        echo "bench: postfix would replace this machine's mail server; install it yourself" >&2
        return 1
    fi
    echo "bench: installing postfix (No configuration, nothing started)" >&2
    echo "postfix postfix/main_mailer_type select No configuration" | $sudo debconf-set-selections
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends postfix \
        >/dev/null
}

# postfix_configure DIR PORT ALLOW_CIDRS [DENY_CIDR_FILE]: writes main.cf and master.cf.
# The relay policy is the one imsrelay gets: ALLOW_CIDRS (space separated) may relay, every
# other client is refused for every recipient (no domain is local). With DENY_CIDR_FILE, a
# cidr table whose every line REJECTs is checked first, as RelayDenyList is with RelayFlags 3.
postfix_configure() {
    PF_DIR=$1
    PF_PORT=$2
    local allow=$3 deny=${4:-}
    mkdir -p "$PF_DIR/etc" "$PF_DIR/queue" "$PF_DIR/data" "$PF_DIR/log"
    chown postfix "$PF_DIR/data" # master.lock and the caches are written as mail_owner
    local relay="permit_mynetworks, reject_unauth_destination"
    if [ -n "$deny" ]; then
        relay="check_client_access cidr:$deny, $relay"
    fi
    cat >"$PF_DIR/etc/main.cf" <<EOF
# Private benchmark instance (tests/bench/smtp/postfix.sh); nothing here is the system's.
compatibility_level = 3.6
config_directory = $PF_DIR/etc
queue_directory = $PF_DIR/queue
data_directory = $PF_DIR/data
maillog_file = $PF_DIR/log/postfix.log
maillog_file_prefixes = $PF_DIR/log
mail_owner = postfix
setgid_group = postdrop
myhostname = postfix.bench.test
mydomain = bench.test
myorigin = \$myhostname
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
# No local domain: every recipient is a relay decision, as in the imsrelay runs.
mydestination =
local_recipient_maps =
relay_domains =
alias_maps =
alias_database =
mynetworks_style = host
mynetworks = $allow
smtpd_relay_restrictions = $relay
smtpd_recipient_restrictions =
# Accepted mail is queued, then thrown away: the load measures the front end.
default_transport = discard
relay_transport = discard
local_transport = discard
# Postfix's own client limits (anvil), as imsrelay runs with its own: the load comes from
# mynetworks, which Postfix exempts from them (smtpd_client_event_limit_exceptions), as
# imsrelay exempts RelayAllowList. Only processes are raised: Postfix needs one smtpd per
# session, for 1,000 concurrent and 1,000 idle sessions (the default limit is 100).
default_process_limit = 250
biff = no
EOF
    cat >"$PF_DIR/etc/master.cf" <<EOF
# service type  private unpriv  chroot  wakeup  maxproc command
$PF_PORT      inet  n       -       n       -       1100    smtpd
cleanup   unix  n       -       n       -       0       cleanup
pickup    unix  n       -       n       60      1       pickup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
}

postfix_start() {
    postfix -c "$PF_DIR/etc" start >>"$PF_DIR/log/control.log" 2>&1 ||
        { cat "$PF_DIR/log/control.log" >&2; return 1; }
    if python3 "$BENCH_LIB/wait_until.py" port "$PF_PORT" 60 >/dev/null; then
        return 0
    fi
    echo "bench: Postfix did not open 127.0.0.1:$PF_PORT" >&2
    tail -n 20 "$PF_DIR/log/postfix.log" >&2 2>/dev/null || true
    return 1
}

postfix_reload() {
    postfix -c "$PF_DIR/etc" reload >>"$PF_DIR/log/control.log" 2>&1
}

# Stops the instance (if running) and waits for its master to be gone, so that the next
# postfix start does not find it still running; 1 if it is still there after 60 s. Safe in
# a trap.
postfix_stop() {
    [ -n "${PF_DIR:-}" ] && [ -f "$PF_DIR/etc/main.cf" ] || return 0
    local pidfile="$PF_DIR/queue/pid/master.pid" pid=
    [ -f "$pidfile" ] && pid=$(tr -d ' ' <"$pidfile")
    postfix -c "$PF_DIR/etc" stop >>"$PF_DIR/log/control.log" 2>&1 || true
    [ -n "$pid" ] || return 0
    local deadline=$((SECONDS + 60))
    while kill -0 "$pid" 2>/dev/null; do
        if [ $SECONDS -ge $deadline ]; then
            echo "bench: the Postfix master ($pid) is still running 60 s after postfix stop" >&2
            return 1
        fi
        sleep 0.1
    done
}

# The smtpd processes of the running instance (children of its master), one pid a line.
postfix_smtpd_pids() {
    local master
    master=$(tr -d ' ' <"$PF_DIR/queue/pid/master.pid" 2>/dev/null) || return 0
    pgrep -P "$master" -x smtpd || true
}

# How many messages are still in the queue (drained between runs so that runs compare).
postfix_queue_count() {
    find "$PF_DIR/queue/incoming" "$PF_DIR/queue/active" "$PF_DIR/queue/deferred" \
        "$PF_DIR/queue/maildrop" -type f 2>/dev/null | wc -l
}
