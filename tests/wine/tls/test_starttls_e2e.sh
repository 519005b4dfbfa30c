#!/usr/bin/env bash
# Inbound STARTTLS end to end: `install` makes a self-signed certificate for SmtpHostName (and
# a second install does not make another), the service offers STARTTLS with it, and real
# clients use it: swaks --tls, openssl s_client -starttls smtp, and Python's ssl for AUTH,
# the command injection of CVE-2011-0411, failed and abandoned handshakes and 100 concurrent
# TLS sessions (see starttls_e2e.py).
set -euo pipefail
source "$IMSRELAY_SOURCE_DIR/tests/wine/lib.sh"
command -v swaks >/dev/null || e2e_fail "swaks is not installed"
command -v openssl >/dev/null || e2e_fail "openssl is not installed"
e2e_begin starttls
e2e_install_exe
K='HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters'
host=mx.example.com
# SmtpHostName first: install names the certificate it makes after it.
e2e_reg add "$K" /v SmtpHostName /t REG_SZ /d "$host" /f
e2e_wine "$E2E_EXE" install >"$E2E_DIR/install1.out" 2>&1 || e2e_fail "install failed: $(cat "$E2E_DIR/install1.out")"
tr -d '\r' <"$E2E_DIR/install1.out" >&2
grep -q "TLS certificate: made a self-signed certificate for $host in LocalMachine\\\\My, thumbprint [0-9A-F]\{40\}" \
    "$E2E_DIR/install1.out" || e2e_fail "the first install did not say it made a certificate for $host"
e2e_wine "$E2E_EXE" install >"$E2E_DIR/install2.out" 2>&1 || e2e_fail "the second install failed"
grep -q "TLS certificate: CN=$host, thumbprint .* (found in LocalMachine\\\\My for $host)" "$E2E_DIR/install2.out" ||
    e2e_fail "the second install did not find the first certificate: $(tr -d '\r' <"$E2E_DIR/install2.out")"
grep -q "made a self-signed" "$E2E_DIR/install2.out" && e2e_fail "the second install made another certificate"
thumb1=$(grep -o 'thumbprint [0-9A-F]\{40\}' "$E2E_DIR/install1.out" | head -1)
thumb2=$(grep -o 'thumbprint [0-9A-F]\{40\}' "$E2E_DIR/install2.out" | head -1)
[ "$thumb1" = "$thumb2" ] || e2e_fail "the second install found another certificate ($thumb1, $thumb2)"

port=$(e2e_free_port)
e2e_reg add "$K" /v ListenPort /t REG_DWORD /d "$port" /f
e2e_reg add "$K" /v ListenAddresses /t REG_MULTI_SZ /d '0.0.0.0' /f
e2e_reg add "$K" /v MailRoot /t REG_SZ /d 'C:\mail' /f
e2e_reg add "$K" /v LocalDomains /t REG_MULTI_SZ /d 'example.com' /f
e2e_reg add "$K" /v ProtocolLog /t REG_DWORD /d 1 /f
# Allow list (127.0.0.1) and authenticated clients (bit 4) may relay.
e2e_reg add "$K" /v RelayFlags /t REG_DWORD /d 10 /f
# A handshake nobody finishes is cut by the command-line deadline.
e2e_reg add "$K" /v CommandTimeoutSeconds /t REG_DWORD /d 10 /f
e2e_reg add "$K" /v MaxConnectionsPerClient /t REG_DWORD /d 3 /f
# Relayed mail stays queued (deferred: nothing listens on port 1) so the checks count Queue.
e2e_reg add "$K" /v SmartHost /t REG_SZ /d '[127.0.0.1]:1' /f

e2e_wine "$E2E_EXE" check >"$E2E_DIR/check.out" 2>&1 || true
grep -q "STARTTLS: offered with CN=$host, $thumb1" <(tr -d '\r' <"$E2E_DIR/check.out") ||
    e2e_fail "check does not say STARTTLS is offered: $(tr -d '\r' <"$E2E_DIR/check.out" | grep -i tls)"

e2e_start_service
e2e_wait 60 e2e_port_open "$port"
e2e_events_wait 60 "STARTTLS is offered|CN=$host, $thumb1"

# 1. swaks --tls: STARTTLS, then a relayed message accepted inside TLS.
queue="$E2E_DRIVE_C/mail/Queue"
before=$(find "$queue" -name '*.eml' 2>/dev/null | wc -l)
set +e
timeout 120 swaks --server 127.0.0.1 --port "$port" --tls --ehlo swaks.test \
    --from sender@client.test --to someone@far.test --timeout 60 >"$E2E_DIR/swaks.out" 2>&1
rc=$?
set -e
cat "$E2E_DIR/swaks.out" >&2
[ $rc -eq 0 ] || e2e_fail "swaks --tls exited with $rc"
grep -q '<-  220 2.0.0 Ready to start TLS' "$E2E_DIR/swaks.out" || e2e_fail "no 220 to STARTTLS"
grep -q '=== TLS started with cipher TLSv1.2:' "$E2E_DIR/swaks.out" || e2e_fail "swaks did not start TLS 1.2"
grep -q '<~  250 2.0.0 Message accepted for delivery' "$E2E_DIR/swaks.out" ||
    e2e_fail "the message was not accepted inside TLS"
e2e_wait 60 test "$(find "$queue" -name '*.eml' | wc -l)" -eq $((before + 1))

# 2. openssl s_client -starttls smtp: TLS 1.2, the certificate is the one for SmtpHostName.
set +e
printf 'EHLO openssl.test\r\nQUIT\r\n' | timeout 60 openssl s_client -connect "127.0.0.1:$port" \
    -starttls smtp -name openssl.test -ign_eof -showcerts >"$E2E_DIR/openssl.out" 2>&1
rc=$?
set -e
[ $rc -eq 0 ] || e2e_fail "openssl s_client -starttls smtp exited with $rc: $(tail -20 "$E2E_DIR/openssl.out")"
grep -Eq 'Protocol *: TLSv1.2' "$E2E_DIR/openssl.out" || e2e_fail "openssl did not get TLS 1.2"
openssl x509 -noout -subject <"$E2E_DIR/openssl.out" >"$E2E_DIR/subject.out"
grep -Eq "^subject=CN ?= ?$host\$" "$E2E_DIR/subject.out" ||
    e2e_fail "the certificate's subject is not CN=$host: $(cat "$E2E_DIR/subject.out")"
grep -q '250-AUTH PLAIN LOGIN' "$E2E_DIR/openssl.out" || e2e_fail "EHLO inside TLS does not offer AUTH"
grep -q '250-STARTTLS' "$E2E_DIR/openssl.out" && e2e_fail "EHLO inside TLS offers STARTTLS again"
grep -q '221 2.0.0' "$E2E_DIR/openssl.out" || e2e_fail "QUIT inside TLS was not answered"

# 3. A TLS 1.1 client: refused; the service serves the next one (the Python checks).
set +e
timeout 60 openssl s_client -connect "127.0.0.1:$port" -starttls smtp -tls1_1 \
    -cipher 'DEFAULT:@SECLEVEL=0' </dev/null >"$E2E_DIR/openssl-tls11.out" 2>&1
rc=$?
set -e
[ $rc -ne 0 ] || e2e_fail "a TLS 1.1 client got through"
grep -Eiq 'protocol version|unsupported protocol|wrong version' "$E2E_DIR/openssl-tls11.out" ||
    e2e_fail "openssl does not report a protocol version refusal: $(tail -5 "$E2E_DIR/openssl-tls11.out")"

e2e_wine "$E2E_EXE" user add alice --password-stdin <<<'s3cret pass' >/dev/null ||
    e2e_fail "user add alice failed"

export E2E_EXE E2E_EVENTS WINE WINEPREFIX
export IMSRELAY_PORT=$port IMSRELAY_MAILROOT="$E2E_DRIVE_C/mail" IMSRELAY_HOST=$host
python3 "$IMSRELAY_SOURCE_DIR/tests/wine/tls/starttls_e2e.py" || e2e_fail "STARTTLS checks failed"

# The protocol log (flushed every second) says why each failed session ended.
smtp_log() { cat "$E2E_DRIVE_C"/mail/Logs/smtp-*.log 2>/dev/null | tr -d '\r'; }
# (grep reads it all: grep -q would leave tr writing into a closed pipe under pipefail.)
smtp_log_has() { smtp_log | grep -- "$1" >/dev/null; }
e2e_wait 60 smtp_log_has 'TLS handshake abandoned: timed out'
log=$(smtp_log)
grep -q 'TLS handshake failed: .*TLS 1.2' <<<"$log" || e2e_fail "the protocol log does not name the TLS 1.1 refusal"
grep -q 'TLS handshake abandoned: timed out' <<<"$log" || e2e_fail "the protocol log does not show the abandoned handshake"
grep -q 'TLS established: TLSv1.2 TLS_ECDHE_RSA_WITH_' <<<"$log" || e2e_fail "the protocol log shows no TLS session"
grep -q 'inject@evil.test' <<<"$log" && e2e_fail "the injected command reached the protocol log"

# net stop with a session idle inside TLS: it is told 421 4.3.2 inside TLS, then closed.
python3 - "$port" >"$E2E_DIR/stop-session.out" 2>&1 <<'PY' &
import smtplib, ssl, sys
c = smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=120)
c.ehlo("stop.test")
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
c.starttls(context=ctx)
c.ehlo("stop.test")
print("inside TLS", flush=True)
print("reply:", c.getreply(), flush=True)
PY
stop_client=$!
e2e_wait 60 grep -q 'inside TLS' "$E2E_DIR/stop-session.out"
e2e_stop_service
timeout 60 tail --pid=$stop_client -f /dev/null || e2e_fail "the TLS session outlived net stop"
grep -q "reply: (421, b'4.3.2 " "$E2E_DIR/stop-session.out" ||
    e2e_fail "the TLS session was not told 421 4.3.2 at stop: $(cat "$E2E_DIR/stop-session.out")"
e2e_pass
