#!/usr/bin/env bash
# Outbound TLS and the smart host login end to end, against aiosmtpd servers with
# certificates from a test CA (openssl) that add_root_cert makes trusted in the prefix's
# LocalMachine\Root. Every server offers AUTH even in clear and logs where each password,
# MAIL and message arrived (tls_smtp_server.py):
#   SmartHostTls 1 to a certificate nobody trusts: delivered, encrypted, "not-verified";
#   SmartHostTls 2 (STARTTLS, verified) and 3 (implicit TLS): delivered, "verified"; a body
#   of about 1 MB arrives through TLS byte for byte;
#   a wrong password: 535 logged, an event, the mail stays queued; the right one delivers it;
#   SmartHostTls 2 to an untrusted certificate, to a certificate for another name, and to
#   a server without STARTTLS: deferred with the reason, no password and no MAIL sent;
#   SmartHostTls 0 with an account: deferred, the password never sent in clear;
#   MxTls 2 to an MX without STARTTLS or with a handshake that fails: deferred, no MAIL;
#   MxTls 1: delivered, in clear (the failed handshake retried once without TLS);
#   `smarthost show` says a password is stored and never prints it, nor does the registry;
#   SmartHostTls 3 without a port in SmartHost routes to port 465.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
source "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/delivery_lib.sh"
[ -f "${ADD_ROOT_CERT_EXE:-}" ] || e2e_fail "ADD_ROOT_CERT_EXE is not set"
e2e_begin delivery-tls
dl_test_cleanup() {
    if [ -n "${SERVER_PID:-}" ]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    dl_dns_stop
}
trap dl_cleanup EXIT
dl_install

e2e_log "a test CA, a server certificate for 127.0.0.1, one from a CA nobody trusts, one for another name"
certs="$E2E_DIR/certs"
mkdir -p "$certs"
make_ca() { # NAME
    openssl req -x509 -newkey rsa:2048 -nodes -keyout "$certs/$1.key" -out "$certs/$1.pem" \
        -days 2 -subj "/CN=imsrelay $1" -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
make_server() { # NAME CA SAN
    openssl req -newkey rsa:2048 -nodes -keyout "$certs/$1.key" -out "$certs/$1.csr" \
        -subj "/CN=$1" 2>/dev/null
    printf 'subjectAltName=%s\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' "$3" \
        >"$certs/$1.ext"
    openssl x509 -req -in "$certs/$1.csr" -CA "$certs/$2.pem" -CAkey "$certs/$2.key" \
        -CAcreateserial -days 2 -extfile "$certs/$1.ext" -out "$certs/$1.pem" 2>/dev/null
}
make_ca test-ca
make_ca rogue-ca
make_server good test-ca 'DNS:127.0.0.1,IP:127.0.0.1'
make_server rogue rogue-ca 'DNS:127.0.0.1,IP:127.0.0.1'
make_server elsewhere test-ca 'DNS:elsewhere.test'
openssl x509 -in "$certs/test-ca.pem" -outform DER -out "$certs/test-ca.der"
root_out=$(e2e_wine "$ADD_ROOT_CERT_EXE" "Z:${certs//\//\\}\\test-ca.der" 2>&1) ||
    e2e_fail "the test CA could not be added to LocalMachine\\Root: $root_out"

e2e_log "the servers: STARTTLS, implicit TLS, no TLS, and an MX without STARTTLS"
ports=()
while [ ${#ports[@]} -lt 5 ]; do
    p=$(e2e_free_port)
    [[ " ${ports[*]} " == *" $p "* ]] || ports+=("$p")
done
p_good=${ports[0]} p_implicit=${ports[1]} p_plain=${ports[2]} p_rogue=${ports[3]} p_wrong=${ports[4]}
mx=$(dl_loopback 56)
mx13=$(dl_loopback 57)
dns=$(dl_loopback 53)
SERVER_LOG="$E2E_DIR/servers.jsonl"
: >"$SERVER_LOG"
password='S3cret-pass-7'
"$DL_PY" "$IMSRELAY_SOURCE_DIR/tests/wine/delivery/tls_smtp_server.py" "$SERVER_LOG" relay "$password" \
    "good:starttls:$p_good:$certs/good.pem:$certs/good.key" \
    "implicit:implicit:$p_implicit:$certs/good.pem:$certs/good.key" \
    "plain:plain:$p_plain:-:-" \
    "rogue:starttls:$p_rogue:$certs/rogue.pem:$certs/rogue.key" \
    "wrongname:starttls:$p_wrong:$certs/elsewhere.pem:$certs/elsewhere.key" \
    "mx:plain:25:-:-:$mx" "mx13:tls13only:25:$certs/good.pem:$certs/good.key:$mx13" \
    2>"$E2E_DIR/servers.err" &
SERVER_PID=$!
servers_ready() { [ "$(grep -c '"event": "ready"' "$SERVER_LOG")" -eq 7 ]; }
e2e_wait 60 servers_ready
dl_dns_start "$dns" --mx-host=plain.test,mx.plain.test,10 --host-record=mx.plain.test,"$mx" \
    --mx-host=tls13.test,mx.tls13.test,10 --host-record=mx.tls13.test,"$mx13"

# srv_count SERVER EVENT [TEXT]: lines of the server log for SERVER's EVENT (containing TEXT).
srv_count() {
    grep -F "\"server\": \"$1\", \"event\": \"$2\"" "$SERVER_LOG" | grep -c -F -- "${3:-}" || true
}
srv_has() { [ "$(srv_count "$@")" -ge 1 ]; }
# log_line RECIPIENT: the delivery log's last line for RECIPIENT.
log_line() { dl_delivery_log | tr -d "\r" | grep -P "\t$1\t" | tail -1; }
log_has() { log_line "$1" | grep -qP -- "$2"; }

dl_set RetryIntervals REG_SZ '1h'
dl_set DnsServers REG_MULTI_SZ "$dns"
dl_set SmartHostAccount REG_SZ relay
dl_set SmartHostTls REG_DWORD 1
dl_set SmartHost REG_SZ "[127.0.0.1]:$p_rogue"

e2e_log "smarthost password stores it; show and the registry never print it"
printf '%s\n' "$password" | e2e_wine "$E2E_EXE" smarthost password --password-stdin >/dev/null ||
    e2e_fail "smarthost password --password-stdin failed"
show=$(e2e_wine "$E2E_EXE" smarthost show 2>&1) || e2e_fail "smarthost show failed: $show"
echo "$show" >&2
echo "$show" | grep -q 'SmartHostAccount: relay' || e2e_fail "show names the account"
echo "$show" | grep -qF 'Password: stored (DPAPI, this machine only)' ||
    e2e_fail "show says a password is stored and decrypts"
echo "$show" | grep -q 'SmartHostTls: 1 ' || e2e_fail "show gives SmartHostTls"
echo "$show" | grep -qF 'Password key ACL: D:P(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;LS)' ||
    e2e_fail "the login key's DACL: SYSTEM and Administrators full, Local Service read, protected"
echo "$show" | grep -qF "$password" && e2e_fail "show printed the password"
blob=$(e2e_wine reg query "$DL_K\\SmartHostLogin" /v SmartHostPassword 2>&1) ||
    e2e_fail "no SmartHostPassword value: $blob"
echo "$blob" | grep -q REG_BINARY || e2e_fail "the password is not REG_BINARY: $blob"
hex=$(printf '%s' "$password" | od -An -tx1 | tr -d ' \n' | tr a-f A-F)
echo "$blob" | tr -d ' \r\n' | grep -qi "$hex" && e2e_fail "the registry holds the password in clear"

dl_start
e2e_wait 20 dl_started_with 0

e2e_log "SmartHostTls 1, a certificate nobody trusts: delivered, encrypted, not verified"
dl_send alice@example.com a1@far.test "tls-opportunistic"
e2e_wait 60 srv_has rogue data '"subject": "tls-opportunistic"'
srv_has rogue data '"tls": true, "subject": "tls-opportunistic"' || e2e_fail "the message went inside TLS"
[ "$(srv_count rogue auth '"tls": true, "mechanism": "PLAIN", "ok": true')" -eq 1 ] ||
    e2e_fail "one AUTH PLAIN, inside TLS, with the right password: $(cat "$SERVER_LOG")"
[ "$(srv_count rogue auth '"tls": false')" -eq 0 ] || e2e_fail "a password went in clear"
e2e_wait 30 log_has a1@far.test '\tdelivered\t250 .*\tTLSv1\.2 TLS_ECDHE_RSA_WITH_\S+ not-verified$'
e2e_log "$(log_line a1@far.test)"

e2e_log "SmartHostTls 2: STARTTLS required, the certificate verified"
dl_set_live SmartHostTls REG_DWORD 2
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$p_good"
dl_send alice@example.com b1@far.test "tls-required"
e2e_wait 60 srv_has good data '"tls": true, "subject": "tls-required"'
srv_has good auth '"tls": true, "mechanism": "PLAIN", "ok": true' || e2e_fail "login inside TLS"
e2e_wait 30 log_has b1@far.test '\tdelivered\t250 .*\tTLSv1\.2 TLS_ECDHE_RSA_WITH_\S+ verified$'
big="$E2E_DIR/big.txt"
for i in $(seq 1 20); do sed 's/$/\r/' "$IMSRELAY_SOURCE_DIR/README.md"; done >"$big" # CRLF only
big_sha=$(sha256sum "$big" | cut -d' ' -f1)
dl_send alice@example.com b2@far.test "tls-big" "$big"
e2e_wait 90 srv_has good data '"subject": "tls-big"'
srv_has good data "\"tls\": true, \"subject\": \"tls-big\", \"recipients\": [\"b2@far.test\"], \"body_sha256\": \"$big_sha\"" ||
    e2e_fail "the $(stat -c %s "$big")-byte body arrived intact through TLS: $(grep tls-big "$SERVER_LOG")"

e2e_log "SmartHostTls 3: implicit TLS, verified"
dl_set_live SmartHostTls REG_DWORD 3
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$p_implicit"
dl_send alice@example.com c1@far.test "tls-implicit"
e2e_wait 60 srv_has implicit data '"tls": true, "subject": "tls-implicit"'
srv_has implicit auth '"tls": true, "mechanism": "PLAIN", "ok": true' || e2e_fail "login inside TLS"
e2e_wait 30 log_has c1@far.test '\tdelivered\t250 .*\tTLSv1\.2 TLS_ECDHE_RSA_WITH_\S+ verified$'

e2e_log "a wrong password: 535 logged, an event, the mail stays queued; the right one delivers it"
printf 'wrong-password\n' | e2e_wine "$E2E_EXE" smarthost password --password-stdin >/dev/null
dl_set_live SmartHostTls REG_DWORD 2
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$p_good"
dl_send alice@example.com d1@far.test "tls-wrong-password"
e2e_wait 60 log_has d1@far.test '\tdeferred\t4\.7\.8 the smart host refused the login of relay: 535 5\.7\.8'
e2e_events_wait 30 'refused the login of relay: 535'
srv_has good auth '"tls": true, "mechanism": "PLAIN", "ok": false' || e2e_fail "the wrong password went inside TLS"
srv_has good data 'tls-wrong-password' && e2e_fail "mail went through a refused login"
[ "$(dl_queue_count)" -eq 1 ] || e2e_fail "the message stays queued (no bounce)"
printf '%s\n' "$password" | e2e_wine "$E2E_EXE" smarthost password --password-stdin >/dev/null
e2e_wine "$E2E_EXE" queue retry --all >/dev/null
e2e_wait 60 srv_has good data '"tls": true, "subject": "tls-wrong-password"'
e2e_wait 30 dl_queue_empty

e2e_log "SmartHostTls 2 and a certificate from a CA nobody trusts: deferred, nothing sent"
rogue_auth=$(srv_count rogue auth) rogue_mail=$(srv_count rogue mail)
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$p_rogue"
dl_send alice@example.com e1@far.test "tls-untrusted"
e2e_wait 60 log_has e1@far.test '\tdeferred\t4\.7\.5 TLS handshake failed: certificate not verified: not issued by a trusted authority; TLS is required, nothing was sent in clear\tnone$'
[ "$(srv_count rogue auth)" -eq "$rogue_auth" ] || e2e_fail "a password went to an untrusted server"
[ "$(srv_count rogue mail)" -eq "$rogue_mail" ] || e2e_fail "MAIL went to an untrusted server"

e2e_log "SmartHostTls 2 and a trusted certificate for another name: deferred, nothing sent"
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$p_wrong"
dl_send alice@example.com f1@far.test "tls-wrong-name"
e2e_wait 60 log_has f1@far.test '\tdeferred\t4\.7\.5 TLS handshake failed: certificate not verified: does not name 127\.0\.0\.1'
[ "$(srv_count wrongname auth)" -eq 0 ] && [ "$(srv_count wrongname mail)" -eq 0 ] ||
    e2e_fail "something was sent to the server with the wrong name"

e2e_log "SmartHostTls 2 and a server without STARTTLS: deferred, nothing sent in clear"
dl_set_live SmartHost REG_SZ "[127.0.0.1]:$p_plain"
dl_send alice@example.com g1@far.test "tls-not-offered"
e2e_wait 60 log_has g1@far.test '\tdeferred\t4\.7\.10 TLS is required but the server does not offer STARTTLS'
[ "$(srv_count plain auth)" -eq 0 ] && [ "$(srv_count plain mail)" -eq 0 ] ||
    e2e_fail "something was sent in clear: $(cat "$SERVER_LOG")"

e2e_log "SmartHostTls 0 with an account: the password is never sent in clear, the mail waits"
dl_set_live SmartHostTls REG_DWORD 0
dl_send alice@example.com h1@far.test "tls-never-auth"
e2e_wait 60 log_has h1@far.test '\tdeferred\t4\.7\.0 the smart host login is sent only inside TLS'
[ "$(srv_count plain auth)" -eq 0 ] && [ "$(srv_count plain mail)" -eq 0 ] ||
    e2e_fail "a password or MAIL went in clear: $(cat "$SERVER_LOG")"
check_out=$(e2e_wine "$E2E_EXE" check 2>&1 || true)
echo "$check_out" | grep -q 'SmartHostAccount.*stays queued' ||
    e2e_fail "check warns about an account without TLS: $check_out"

e2e_log "queue show names each recipient's last TLS"
qshow=$(e2e_wine "$E2E_EXE" queue show "$(find "$DL_MAIL/Queue" -maxdepth 2 -name '*.eml' | head -1 | xargs -r basename | sed 's/\.eml$//')" 2>&1 || true)
echo "$qshow" | grep -q ', tls ' || e2e_fail "queue show has a tls field: $qshow"

e2e_log "MxTls 2 and an MX without STARTTLS: deferred, no MAIL; MxTls 1 delivers in clear"
dl_set_live SmartHost REG_SZ ''
dl_set_live MxTls REG_DWORD 2
dl_send alice@example.com m1@plain.test "mx-required"
e2e_wait 60 log_has m1@plain.test '\tdeferred\t4\.7\.10 TLS is required but the server does not offer STARTTLS'
[ "$(srv_count mx mail)" -eq 0 ] || e2e_fail "MAIL went to the MX in clear"
e2e_events_wait 30 'L"plain.test"'
e2e_events_wait 30 'TLS is required but the server does not offer STARTTLS'
dl_send alice@example.com n1@tls13.test "mx-handshake-required"
e2e_wait 60 log_has n1@tls13.test '\tdeferred\t4\.7\.5 TLS handshake failed: .*TLS is required, nothing was sent in clear\tnone$'
e2e_log "$(log_line n1@tls13.test)"
[ "$(srv_count mx13 mail)" -eq 0 ] || e2e_fail "MAIL went in clear after a failed handshake"
dl_set_live MxTls REG_DWORD 1
dl_send alice@example.com m2@plain.test "mx-opportunistic"
e2e_wait 60 srv_has mx data '"tls": false, "subject": "mx-opportunistic"'
e2e_wait 30 log_has m2@plain.test '\tdelivered\t250 .*\tnone$'
e2e_log "MxTls 1 and a handshake that fails: tried again in clear, delivered"
dl_send alice@example.com n2@tls13.test "mx-handshake-opportunistic"
e2e_wait 60 srv_has mx13 data '"tls": false, "subject": "mx-handshake-opportunistic"'
e2e_wait 30 log_has n2@tls13.test '\tdelivered\t250 .*\tnone$'
[ "$(srv_count mx auth)" -eq 0 ] || e2e_fail "an MX got a login"

e2e_log "SmartHostTls 3 without a port in SmartHost means port 465 (explain's route)"
dl_set SmartHost REG_SZ '[127.0.0.1]'
dl_set SmartHostTls REG_DWORD 3
route=$(e2e_wine "$E2E_EXE" explain 127.0.0.1 x@far.test 2>&1 || true)
echo "$route" | grep -q 'route: by smart host.*\[127\.0\.0\.1\]:465' || e2e_fail "port 465: $route"

e2e_log "a blob that does not decrypt here (another machine's .reg) is named as such"
e2e_reg add "$DL_K\\SmartHostLogin" /v SmartHostPassword /t REG_BINARY /d 0102030405 /f
show=$(e2e_wine "$E2E_EXE" smarthost show 2>&1) || e2e_fail "smarthost show failed: $show"
echo "$show" | grep -q 'Password: stored, but it does not decrypt on this machine' ||
    e2e_fail "show on a foreign blob: $show"

e2e_log "smarthost password --clear removes it; show says so"
e2e_wine "$E2E_EXE" smarthost password --clear >/dev/null || e2e_fail "--clear failed"
show=$(e2e_wine "$E2E_EXE" smarthost show 2>&1) || e2e_fail "smarthost show failed: $show"
echo "$show" | grep -q 'Password: not stored' || e2e_fail "show after --clear: $show"
echo "$show" | grep -q 'no password is stored' || e2e_fail "show warns that the account has no password"
e2e_wine reg query "$DL_K\\SmartHostLogin" /v SmartHostPassword >/dev/null 2>&1 &&
    e2e_fail "the value is gone"

dl_stop
e2e_pass
