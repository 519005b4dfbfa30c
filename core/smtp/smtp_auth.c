/* AUTH PLAIN and AUTH LOGIN (RFC 4954, RFC 4616, draft-murchison-sasl-login).
 *
 * Credentials are decoded into fixed buffers and wiped after use. Every failure is counted
 * for the session: the reply to the n-th failure is delayed by auth_failure_delay_ms *
 * 2^(n-1) (the host waits before sending it, and the engine reads no further input until
 * then), and the failure that reaches max_auth_failures is answered 421 4.7.0 and closes the
 * connection, so one connection cannot be used to guess passwords quickly. */
#include "smtp_base64.h"
#include "smtp_session_internal.h"

#include <string.h>

/* A PLAIN response is authzid NUL authcid NUL password. */
#define PLAIN_MAX (3 * SMTP_CREDENTIAL_MAX + 2)

static const char USERNAME_CHALLENGE[] = "334 VXNlcm5hbWU6"; /* "Username:" */
static const char PASSWORD_CHALLENGE[] = "334 UGFzc3dvcmQ6"; /* "Password:" */

void smtp_auth_abandon(smtp_session *s)
{
    smtp_secure_zero(s->login_user, sizeof s->login_user);
    if (smtp_phase_is_auth(s->phase)) {
        s->phase = SMTP_PHASE_COMMAND;
    }
}

static void fail(smtp_session *s)
{
    s->auth_failures++;
    uint64_t delay = (uint64_t)s->limits.auth_failure_delay_ms
                     << (s->auth_failures - 1 < 16 ? s->auth_failures - 1 : 16);
    s->delay_ms = delay > SMTP_AUTH_DELAY_MAX_MS ? SMTP_AUTH_DELAY_MAX_MS : (uint32_t)delay;
    if (s->auth_failures >= s->limits.max_auth_failures) {
        smtp_close_with(s, "421 4.7.0 Too many authentication failures, closing connection");
    } else {
        smtp_reply(s, "535 5.7.8 Authentication credentials invalid");
    }
}

/* user and password are NUL-terminated, at most SMTP_CREDENTIAL_MAX bytes. */
static void check(smtp_session *s, const char *user, const char *password)
{
    s->phase = SMTP_PHASE_COMMAND;
    if (user[0] == '\0') {
        fail(s);
        return;
    }
    smtp_auth_verdict v = s->host.auth_check(s->host.ctx, user, password);
    memcpy(s->auth_account, user, strlen(user) + 1);
    if (v == SMTP_AUTH_PENDING) {
        s->auth_pending = true;
        return;
    }
    s->auth_pending = true;
    smtp_session_auth_result(s, v);
}

void smtp_session_auth_result(smtp_session *s, smtp_auth_verdict v)
{
    if (!s->auth_pending) {
        return;
    }
    s->auth_pending = false;
    if (s->phase == SMTP_PHASE_CLOSED) {
        smtp_secure_zero(s->auth_account, sizeof s->auth_account);
        return;
    }
    if (v == SMTP_AUTH_OK) {
        s->authenticated = true;
        smtp_reply(s, "235 2.7.0 Authentication successful");
        return;
    }
    smtp_secure_zero(s->auth_account, sizeof s->auth_account);
    if (v == SMTP_AUTH_TEMPFAIL) {
        smtp_reply(s, "454 4.7.0 Temporary authentication failure");
    } else {
        fail(s);
    }
}

bool smtp_session_auth_pending(const smtp_session *s)
{
    return s->auth_pending;
}

/* Decodes a response. The empty response is an empty line after 334, or "=" as an initial
 * response (RFC 4954 4). false: 501 queued. */
static bool decode(smtp_session *s, const char *text, size_t len, uint8_t *out, size_t cap,
                   size_t *out_len)
{
    if (len == 1 && text[0] == '=') {
        *out_len = 0;
        return true;
    }
    if (!smtp_base64_decode(text, len, out, cap, out_len)) {
        smtp_auth_abandon(s);
        smtp_reply(s, "501 5.5.2 Cannot decode the AUTH response");
        return false;
    }
    return true;
}

static void plain(smtp_session *s, const char *text, size_t len)
{
    uint8_t buf[PLAIN_MAX];
    size_t n;
    if (!decode(s, text, len, buf, sizeof buf, &n)) {
        return;
    }
    char authzid[SMTP_CREDENTIAL_MAX + 1], user[SMTP_CREDENTIAL_MAX + 1],
            password[SMTP_CREDENTIAL_MAX + 1];
    char *fields[3] = {authzid, user, password};
    size_t field = 0, used = 0;
    bool ok = true;
    for (size_t i = 0; i <= n && ok; i++) {
        if (i == n || buf[i] == 0) {
            if (field > 2) {
                ok = false;
            } else {
                fields[field++][used] = '\0';
            }
            used = 0;
        } else if (field > 2 || used == SMTP_CREDENTIAL_MAX) {
            ok = false;
        } else {
            fields[field][used++] = (char)buf[i];
        }
    }
    /* An authorization identity other than the user's own is not supported. */
    ok = ok && field == 3 && (authzid[0] == '\0' || strcmp(authzid, user) == 0);
    if (ok) {
        check(s, user, password);
    } else {
        s->phase = SMTP_PHASE_COMMAND;
        fail(s);
    }
    smtp_secure_zero(buf, sizeof buf);
    smtp_secure_zero(authzid, sizeof authzid);
    smtp_secure_zero(user, sizeof user);
    smtp_secure_zero(password, sizeof password);
}

/* A LOGIN user name or password: no NUL inside, bounded. */
static bool login_field(smtp_session *s, const char *text, size_t len, char *out)
{
    uint8_t buf[SMTP_CREDENTIAL_MAX + 1];
    size_t n;
    if (!decode(s, text, len, buf, sizeof buf, &n)) {
        return false;
    }
    bool ok = n <= SMTP_CREDENTIAL_MAX && memchr(buf, 0, n) == NULL;
    if (ok) {
        memcpy(out, buf, n);
        out[n] = '\0';
    }
    smtp_secure_zero(buf, sizeof buf);
    if (!ok) {
        smtp_auth_abandon(s);
        fail(s);
    }
    return ok;
}

static void login_user(smtp_session *s, const char *text, size_t len)
{
    if (!login_field(s, text, len, s->login_user)) {
        return;
    }
    s->phase = SMTP_PHASE_AUTH_LOGIN_PASS;
    smtp_reply(s, "%s", PASSWORD_CHALLENGE);
}

static void login_password(smtp_session *s, const char *text, size_t len)
{
    char password[SMTP_CREDENTIAL_MAX + 1];
    if (login_field(s, text, len, password)) {
        check(s, s->login_user, password);
    }
    smtp_secure_zero(password, sizeof password);
    smtp_secure_zero(s->login_user, sizeof s->login_user);
}

void smtp_auth_response(smtp_session *s, const char *line, size_t len)
{
    smtp_log_received(s, "<redacted>", 10);
    if (len == 1 && line[0] == '*') {
        smtp_auth_abandon(s);
        smtp_reply(s, "501 5.7.0 Authentication cancelled");
        return;
    }
    switch (s->phase) {
    case SMTP_PHASE_AUTH_PLAIN:
        plain(s, line, len);
        break;
    case SMTP_PHASE_AUTH_LOGIN_USER:
        login_user(s, line, len);
        break;
    case SMTP_PHASE_AUTH_LOGIN_PASS:
        login_password(s, line, len);
        break;
    default:
        break;
    }
}

void smtp_auth_command(smtp_session *s, const char *arg, size_t len)
{
    if (!s->host.auth_available) {
        smtp_reply(s, "502 5.5.1 AUTH not available");
        return;
    }
    if (!smtp_auth_offered(s)) {
        smtp_reply(s, "530 5.7.0 Must issue a STARTTLS command first");
        return;
    }
    if (!s->helo_done || !s->esmtp) {
        smtp_reply(s, "503 5.5.1 Send EHLO first");
        return;
    }
    if (s->authenticated) {
        smtp_reply(s, "503 5.5.1 Already authenticated");
        return;
    }
    if (s->in_transaction) {
        smtp_reply(s, "503 5.5.1 AUTH not permitted during a mail transaction");
        return;
    }
    const char *end = arg + len;
    const char *mech = arg;
    const char *p = arg;
    while (p < end && *p != ' ') {
        p++;
    }
    size_t mech_len = (size_t)(p - mech);
    while (p < end && *p == ' ') {
        p++;
    }
    const char *initial = p;
    while (p < end && *p != ' ') {
        p++;
    }
    size_t initial_len = (size_t)(p - initial);
    if (mech_len == 0 || p != end) {
        smtp_reply(s, "501 5.5.4 Syntax: AUTH mechanism [initial-response]");
        return;
    }
    if (mech_len == 5 && ascii_equal_nocase(mech, "PLAIN", 5)) {
        s->phase = SMTP_PHASE_AUTH_PLAIN;
        if (initial_len > 0) {
            plain(s, initial, initial_len);
        } else {
            smtp_reply(s, "334 ");
        }
    } else if (mech_len == 5 && ascii_equal_nocase(mech, "LOGIN", 5)) {
        s->phase = SMTP_PHASE_AUTH_LOGIN_USER;
        if (initial_len > 0) {
            login_user(s, initial, initial_len);
        } else {
            smtp_reply(s, "%s", USERNAME_CHALLENGE);
        }
    } else {
        smtp_reply(s, "504 5.5.4 Unrecognized authentication mechanism");
    }
}
