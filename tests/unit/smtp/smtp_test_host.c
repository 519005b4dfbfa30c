#include "smtp_test_host.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stddef.h>
#include <cmocka.h>

static const char *const local_domains[] = {"example.com", "[192.0.2.1]", "Mail.Example.ORG."};

static void append(char *buf, size_t *len, size_t cap, const char *bytes, size_t n)
{
    if (n > cap - 1 - *len) {
        fail_msg("test buffer overflow");
    }
    memcpy(buf + *len, bytes, n);
    *len += n;
    buf[*len] = '\0';
}

static smtp_relay_verdict relay_check(void *ctx, const smtp_relay_query *q)
{
    test_host *t = ctx;
    t->relay_calls++;
    snprintf(t->relay_last_recipient, sizeof t->relay_last_recipient, "%s", q->recipient);
    snprintf(t->relay_last_account, sizeof t->relay_last_account, "%s",
             q->auth_account != NULL ? q->auth_account : "(none)");
    if (t->relay_allow_all || (t->relay_allow_authenticated && q->auth_account != NULL)) {
        return SMTP_RELAY_ALLOW;
    }
    return SMTP_RELAY_DENY;
}

static smtp_auth_verdict auth_check(void *ctx, const char *user, const char *password)
{
    test_host *t = ctx;
    t->auth_calls++;
    snprintf(t->auth_last_user, sizeof t->auth_last_user, "%s", user);
    snprintf(t->auth_last_password, sizeof t->auth_last_password, "%s", password);
    if (t->auth_tempfail) {
        return SMTP_AUTH_TEMPFAIL;
    }
    if (t->auth_pending) {
        return SMTP_AUTH_PENDING;
    }
    return strcmp(user, t->user) == 0 && strcmp(password, t->password) == 0 ? SMTP_AUTH_OK
                                                                            : SMTP_AUTH_FAIL;
}

static bool data_begin(void *ctx, const smtp_envelope *e)
{
    test_host *t = ctx;
    assert_true(t->begins == t->ends); /* never two messages open */
    assert_true(e->recipient_count >= 1);
    t->begins++;
    if (t->fail_begin) {
        t->ends++; /* no data_end follows a refused begin */
        return false;
    }
    if (t->begins > TEST_MAX_MESSAGES) {
        fail_msg("too many messages");
    }
    test_message *m = &t->messages[t->begins - 1];
    size_t n =
            (size_t)snprintf(m->envelope, sizeof m->envelope, "%s|%s|", e->helo_name, e->mail_from);
    /* A long envelope is cut at the buffer; recipient_count and last_recipient still say
     * what the engine handed over. */
    for (size_t i = 0; i < e->recipient_count && n < sizeof m->envelope; i++) {
        n += (size_t)snprintf(m->envelope + n, sizeof m->envelope - n, "%s%s(%c)", i ? "," : "",
                              e->recipients[i].mailbox, e->recipients[i].local ? 'L' : 'R');
    }
    m->recipient_count = e->recipient_count;
    snprintf(m->last_recipient, sizeof m->last_recipient, "%s",
             e->recipients[e->recipient_count - 1].mailbox);
    if (n >= sizeof m->envelope) {
        n = sizeof m->envelope - 1;
    }
    snprintf(m->envelope + n, sizeof m->envelope - n, "|%s|%s|%s|%llu", e->client_address,
             e->auth_account != NULL ? e->auth_account : "(none)",
             e->body == SMTP_BODY_8BITMIME ? "8BITMIME"
             : e->body == SMTP_BODY_7BIT   ? "7BIT"
                                           : "-",
             (unsigned long long)e->declared_size);
    m->body = calloc(1, TEST_BODY_MAX + 1);
    assert_non_null(m->body);
    return true;
}

static bool data_write(void *ctx, const uint8_t *bytes, size_t len)
{
    test_host *t = ctx;
    assert_true(t->begins == t->ends + 1);
    test_message *m = &t->messages[t->begins - 1];
    t->writes++;
    append(m->body, &m->body_len, TEST_BODY_MAX + 1, (const char *)bytes, len);
    return !t->fail_write;
}

static bool data_end(void *ctx, smtp_data_outcome outcome)
{
    test_host *t = ctx;
    assert_true(t->begins == t->ends + 1);
    t->ends++;
    test_message *m = &t->messages[t->begins - 1];
    if (outcome == SMTP_DATA_COMMIT && !t->fail_commit) {
        m->committed = true;
    } else {
        m->aborted = true;
    }
    return outcome == SMTP_DATA_COMMIT && !t->fail_commit;
}

static bool storage_full(void *ctx)
{
    return ((test_host *)ctx)->storage_full;
}

static void protocol_log(void *ctx, smtp_log_direction d, const char *line, size_t len)
{
    test_host *t = ctx;
    append(t->log, &t->log_len, sizeof t->log, d == SMTP_LOG_RECEIVED ? "C: " : "S: ", 3);
    append(t->log, &t->log_len, sizeof t->log, line, len);
    append(t->log, &t->log_len, sizeof t->log, "\n", 1);
}

void test_host_init(test_host *t)
{
    memset(t, 0, sizeof *t);
    t->host.ctx = t;
    t->host.host_name = "mx.example.com";
    t->host.client_address = "192.0.2.7";
    t->host.local_domains = local_domains;
    t->host.local_domain_count = sizeof local_domains / sizeof local_domains[0];
    t->host.auth_available = true;
    /* The AUTH tests speak in clear; the STARTTLS tests switch this off. */
    t->host.auth_without_tls = true;
    t->host.relay_check = relay_check;
    t->host.auth_check = auth_check;
    t->host.data_begin = data_begin;
    t->host.data_write = data_write;
    t->host.data_end = data_end;
    t->host.storage_full = storage_full;
    t->host.protocol_log = protocol_log;
    t->user = "alice";
    t->password = "secret";
}

void test_host_free(test_host *t)
{
    for (int i = 0; i < TEST_MAX_MESSAGES; i++) {
        free(t->messages[i].body);
    }
}

smtp_session *test_session(test_host *t)
{
    smtp_session *s = smtp_session_create(&t->host);
    assert_non_null(s);
    return s;
}

static void drain(test_host *t, smtp_session *s)
{
    smtp_output out = smtp_session_output(s);
    if (out.delay_ms > 0) {
        assert_true(t->delay_count < 16);
        t->delays[t->delay_count++] = out.delay_ms;
    }
    append(t->output, &t->output_len, sizeof t->output, (const char *)out.bytes, out.length);
    smtp_session_output_sent(s, out.length);
    if (out.close) {
        t->closed = true;
    }
}

static bool starts_with_data(const char *p)
{
    return (p[0] | 0x20) == 'd' && (p[1] | 0x20) == 'a' && (p[2] | 0x20) == 't' &&
           (p[3] | 0x20) == 'a';
}

/* Where the next DATA command line (a line starting with "DATA", any case) ends, or len. */
static size_t after_data_line(const char *input, size_t from, size_t len)
{
    size_t line = from;
    while (line < len) {
        const char *lf = memchr(input + line, '\n', len - line);
        size_t end = lf != NULL ? (size_t)(lf - input) + 1 : len;
        if (end - line >= 4 && starts_with_data(input + line)) {
            return end;
        }
        line = end;
    }
    return len;
}

const char *test_feed(test_host *t, smtp_session *s, const char *input, size_t len, size_t chunk)
{
    /* A lenient splitter (any line starting with DATA, even inside message text) is enough:
     * waiting for a reply where none is due changes nothing the client is told. */
    size_t pos = 0;
    while (pos < len) {
        size_t end = after_data_line(input, pos, len);
        test_feed_at_once(t, s, input + pos, end - pos, chunk);
        pos = end;
    }
    drain(t, s);
    return t->output;
}

const char *test_feed_at_once(test_host *t, smtp_session *s, const char *input, size_t len,
                              size_t chunk)
{
    drain(t, s);
    size_t pos = 0;
    while (pos < len) {
        size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
        size_t used = 0;
        int stalls = 0;
        while (used < n) {
            size_t got = smtp_session_feed(s, input + pos + used, n - used);
            used += got;
            smtp_output out = smtp_session_output(s);
            /* Consuming nothing is only allowed while something waits to be sent. */
            if (got == 0 && out.length == 0 && out.delay_ms == 0) {
                fail_msg("feed made no progress with nothing to send");
            }
            stalls = got == 0 ? stalls + 1 : 0;
            assert_true(stalls < 3);
            drain(t, s);
        }
        pos += n;
    }
    return t->output;
}

const char *test_feeds(test_host *t, smtp_session *s, const char *input)
{
    return test_feed(t, s, input, strlen(input), 0);
}

const char *test_feeds_at_once(test_host *t, smtp_session *s, const char *input)
{
    return test_feed_at_once(t, s, input, strlen(input), 0);
}

const char *test_conversation(test_host *t, const char *input, size_t chunk)
{
    smtp_session *s = test_session(t);
    test_feed(t, s, input, strlen(input), chunk);
    smtp_session_destroy(s);
    return t->output;
}

int test_committed(const test_host *t)
{
    int n = 0;
    for (int i = 0; i < TEST_MAX_MESSAGES; i++) {
        n += t->messages[i].committed;
    }
    return n;
}
