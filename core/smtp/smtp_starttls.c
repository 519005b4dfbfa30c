/* STARTTLS (RFC 3207). The engine only answers the command and decides what a session is
 * offered; the handshake is the host's (smtp_output.start_tls). What RFC 3207 section 4.2
 * asks after it is here: the session forgets everything the client said in clear, and
 * whatever the client pipelined behind STARTTLS is never executed (an attacker on the path
 * could have put it there, CVE-2011-0411). */
#include "smtp_session_internal.h"

#include <string.h>

bool smtp_starttls_offered(const smtp_session *s)
{
    return s->host.tls_available && !s->tls_active;
}

bool smtp_auth_offered(const smtp_session *s)
{
    return s->host.auth_available && (s->tls_active || s->host.auth_without_tls);
}

void smtp_starttls_command(smtp_session *s, const char *arg, size_t len)
{
    (void)arg;
    if (!s->host.tls_available) {
        smtp_reply(s, "502 5.5.1 STARTTLS not available");
        return;
    }
    if (len != 0) {
        smtp_reply(s, "501 5.5.4 Syntax: STARTTLS takes no arguments");
        return;
    }
    if (s->tls_active) {
        smtp_reply(s, "503 5.5.1 TLS already active");
        return;
    }
    if (s->in_transaction) {
        smtp_reply(s, "503 5.5.1 STARTTLS not permitted during a mail transaction");
        return;
    }
    smtp_reply(s, "220 2.0.0 Ready to start TLS");
    s->phase = SMTP_PHASE_TLS_PENDING;
}

void smtp_session_tls_started(smtp_session *s)
{
    if (s->phase != SMTP_PHASE_TLS_PENDING) {
        return;
    }
    s->tls_active = true;
    s->phase = SMTP_PHASE_COMMAND;
    s->helo_done = false;
    s->esmtp = false;
    s->helo_name[0] = '\0';
    smtp_reset_transaction(s);
    s->authenticated = false;
    smtp_secure_zero(s->auth_account, sizeof s->auth_account);
    smtp_secure_zero(s->login_user, sizeof s->login_user);
    smtp_secure_zero(s->line, s->line_len);
    s->line_len = 0;
    s->line_overflow = false;
}

bool smtp_session_tls_active(const smtp_session *s)
{
    return s->tls_active;
}
