#!/usr/bin/env bash
# openssl s_client against tls_session under Wine: a TLS 1.2 handshake that verifies the
# certificate (chain and host name) and carries a line each way, then a TLS 1.1 client that
# the server refuses and says why.
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
[ -f "${TLS_ECHO_SERVER_EXE:-}" ] || e2e_fail "TLS_ECHO_SERVER_EXE is not set"
command -v openssl >/dev/null || e2e_fail "openssl is not installed"
e2e_begin tls-openssl

host=tls-e2e.test
port=$(e2e_free_port)
server_out="$E2E_DIR/server.out"
WINEDEBUG=-all "$WINE" "$TLS_ECHO_SERVER_EXE" "$port" "$host" 2 >"$server_out" 2>&1 &
server_pid=$!
e2e_wait 90 grep -q '^READY' "$server_out"
tr -d '\r' <"$server_out" | sed -n '/^-----BEGIN CERTIFICATE-----$/,/^-----END CERTIFICATE-----$/p' \
    >"$E2E_DIR/cert.pem"
grep -q 'END CERTIFICATE' "$E2E_DIR/cert.pem" || e2e_fail "no certificate printed: $(cat "$server_out")"
e2e_log "$(grep '^serving:' "$server_out" | tr -d '\r')"

# 1. TLS 1.2, the certificate verified against itself as the only trusted CA, by name.
client_out="$E2E_DIR/client-tls12.out"
set +e
printf 'hello over tls\r\n' | timeout 30 openssl s_client -connect "127.0.0.1:$port" -tls1_2 \
    -servername "$host" -CAfile "$E2E_DIR/cert.pem" -verify_hostname "$host" \
    -verify_return_error -brief -ign_eof >"$client_out" 2>&1
client_rc=$?
set -e
cat "$client_out" >&2
[ $client_rc -eq 0 ] || e2e_fail "openssl s_client -tls1_2 exited with $client_rc"
grep -q 'Protocol version: TLSv1.2' "$client_out" || e2e_fail "not TLS 1.2"
grep -q 'Verification: OK' "$client_out" || e2e_fail "openssl did not verify the certificate"
grep -Eq 'Ciphersuite: ECDHE-RSA-AES(128|256)-GCM-SHA(256|384)' "$client_out" ||
    e2e_fail "not an ECDHE AES-GCM suite"
grep -q 'echo: hello over tls' "$client_out" || e2e_fail "no echo came back"
grep -q 'Server Temp Key: X25519' "$client_out" || e2e_fail "key exchange is not X25519"

# 2. TLS 1.1 only (openssl's own floor lowered, so the refusal is the server's).
client_out="$E2E_DIR/client-tls11.out"
set +e
timeout 30 openssl s_client -connect "127.0.0.1:$port" -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' \
    -brief </dev/null >"$client_out" 2>&1
client_rc=$?
set -e
cat "$client_out" >&2
[ $client_rc -ne 0 ] || e2e_fail "a TLS 1.1 client got through"
grep -Eiq 'protocol version|unsupported protocol|wrong version' "$client_out" ||
    e2e_fail "openssl does not report a protocol version refusal"

if ! timeout 60 tail --pid=$server_pid -f /dev/null; then
    e2e_fail "the server did not finish"
fi
cat "$server_out" | tr -d '\r' | grep -v '^[A-Za-z0-9+/=]*$' >&2 || true
grep -q '^session 1: ok TLSv1.2 TLS_ECDHE_RSA_WITH_AES_.*_GCM_SHA.* line="hello over tls"' \
    <(tr -d '\r' <"$server_out") || e2e_fail "the server's side of session 1 is not as expected"
grep -q '^session 2: failed: the client offered no TLS 1.2' <(tr -d '\r' <"$server_out") ||
    e2e_fail "the server did not refuse session 2 for its protocol version"
grep -q '^DONE' "$server_out" || e2e_fail "the server did not clean up"
e2e_pass
