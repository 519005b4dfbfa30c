# STARTTLS for the benchmark (sourced by run-smtp-bench after postfix.sh and imsrelay.sh):
# Postfix offers it with a self-signed certificate made by openssl, as imsrelay offers it with
# the one `imsrelay.exe install` made in LocalMachine\My, so the STARTTLS row compares like
# with like. The load is tls_source.py (smtp-source has no TLS).
#
#   tls_postfix_enable   # smtpd_tls_security_level=may, tlsmgr, reload; waits for old smtpd

tls_postfix_enable() {
    local dir=$PF_DIR/tls
    mkdir -p "$dir"
    if [ ! -f "$dir/cert.pem" ]; then
        openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=postfix.bench.test" \
            -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
        chmod 600 "$dir/key.pem"
    fi
    # Session caches off on both: every session is a full handshake, as each of
    # tls_source.py's sessions is a new connection without a session ticket offered.
    postconf -c "$PF_DIR/etc" -e \
        "smtpd_tls_security_level = may" \
        "smtpd_tls_cert_file = $dir/cert.pem" \
        "smtpd_tls_key_file = $dir/key.pem" \
        "smtpd_tls_protocols = >=TLSv1.2" \
        "smtpd_tls_session_cache_database =" \
        "smtpd_tls_loglevel = 0"
    # tlsmgr seeds smtpd's random numbers, as in Debian's own master.cf.
    postconf -c "$PF_DIR/etc" -M "tlsmgr/unix=tlsmgr unix - - n 1000? 1 tlsmgr"
    # As pf_policy: smtpd processes that read the old main.cf serve no session of the row.
    local old
    old=$(postfix_smtpd_pids)
    postfix_reload
    wait_for 60 pids_gone $old || fail_note "Postfix smtpd processes without TLS outlived the reload by 60 s"
}
