#!/usr/bin/env bash
# Delivery over IPv6: SmartHost [::1]:PORT reaches Postfix's smtp-sink listening on ::1 only,
# with the envelope intact, and the delivery log names the IPv6 address it used.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
e2e_begin delivery-ipv6
trap dl_cleanup EXIT
dl_install
v6_port_open() {
    python3 - "$1" <<'PY'
import socket, sys
s = socket.socket(socket.AF_INET6)
s.settimeout(1)
try:
    s.connect(("::1", int(sys.argv[1])))
except OSError:
    sys.exit(1)
PY
}
sink_port=$(e2e_free_port)
/usr/sbin/smtp-sink -u nobody -d "$DL_SINK/%H%M%S." "[::1]:$sink_port" 100 &
DL_SINK_PID=$!
e2e_wait 10 v6_port_open "$sink_port"
e2e_port_open "$sink_port" && e2e_fail "the sink listens on ::1 only, not on 127.0.0.1"
dl_set SmartHost REG_SZ "[::1]:$sink_port"
dl_start

dl_send alice@example.com v6@far.test "over-ipv6"
e2e_wait 60 dl_sink_has "Subject: over-ipv6"
e2e_wait 30 dl_queue_empty
f=$(grep -l -F "Subject: over-ipv6" "$DL_SINK"/* | head -1)
grep -q -F 'X-Rcpt-Args: <v6@far.test>' "$f" || e2e_fail "the recipient reached the sink: $(cat "$f")"
grep -q -F 'X-Mail-Args: <alice@example.com>' "$f" || e2e_fail "the sender reached the sink"
dl_log_has '\tv6@far.test\t::1 \[\[::1\]:'"$sink_port"'\]\tdelivered\t250' ||
    e2e_fail "the delivery log names the IPv6 address: $(dl_delivery_log)"

dl_stop
e2e_pass
