/* STARTTLS (RFC 3207) in the engine: when it is offered, its replies, the fresh session after
 * the handshake, the bytes pipelined behind it thrown away (CVE-2011-0411), and AUTH offered
 * and accepted only inside TLS unless the host allows it in clear. The handshake itself is
 * the host's: here it "happens" when the test calls smtp_session_tls_started(). */
#include "smtp_test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define PLAIN_GOOD "AGFsaWNlAHNlY3JldA==" /* base64("\0alice\0secret") */
#define EHLO_REPLY_TLS                                                                             \
    "250-mx.example.com Hello c\r\n250-SIZE 10485760\r\n250-8BITMIME\r\n250-PIPELINING\r\n"        \
    "250-ENHANCEDSTATUSCODES\r\n"

static int setup(void **state)
{
    test_host *t = malloc(sizeof *t);
    test_host_init(t);
    t->host.tls_available = true;
    t->host.auth_without_tls = false; /* the service's default, AuthWithoutTls=0 */
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    test_host_free(*state);
    free(*state);
    return 0;
}

/* What the host does once the 220 is sent: the handshake, then the engine starts afresh. The
 * output so far is forgotten, so a test sees only what is said inside TLS. */
static void handshake(test_host *t, smtp_session *s)
{
    assert_true(smtp_session_output(s).start_tls);
    assert_int_equal(smtp_session_output(s).length, 0);
    smtp_session_tls_started(s);
    assert_true(smtp_session_tls_active(s));
    assert_false(smtp_session_output(s).start_tls);
    t->output_len = 0;
    t->output[0] = '\0';
}

static const char *after(const char *out, const char *marker)
{
    const char *p = strstr(out, marker);
    assert_non_null(p);
    return p + strlen(marker);
}

static void ehlo_offers_starttls_only_when_the_host_can_and_not_inside_tls(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    const char *out = test_feeds(t, s, "EHLO c\r\n");
    assert_non_null(strstr(out, "250-STARTTLS\r\n"));
    assert_null(strstr(out, "AUTH"));
    test_feeds(t, s, "STARTTLS\r\n");
    handshake(t, s);
    out = test_feeds(t, s, "EHLO c\r\n");
    assert_string_equal(out, EHLO_REPLY_TLS "250-AUTH PLAIN LOGIN\r\n250 HELP\r\n");
    smtp_session_destroy(s);

    test_host_free(t);
    test_host_init(t);
    t->host.tls_available = false;
    out = test_conversation(t, "EHLO c\r\nSTARTTLS\r\nHELP\r\n", 0);
    assert_null(strstr(out, "250-STARTTLS"));
    assert_non_null(strstr(out, "502 5.5.1 STARTTLS not available\r\n"));
    assert_null(strstr(out, " STARTTLS AUTH"));
}

static void starttls_answers_220_and_asks_for_the_handshake(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    const char *out = test_feeds(t, s, "EHLO c\r\nSTARTTLS\r\n");
    assert_string_equal(after(out, "250 HELP\r\n"), "220 2.0.0 Ready to start TLS\r\n");
    assert_true(smtp_session_output(s).start_tls);
    assert_false(smtp_session_tls_active(s));
    assert_false(t->closed);
    smtp_session_destroy(s);
}

static void starttls_is_refused_with_arguments_in_a_transaction_and_inside_tls(void **state)
{
    test_host *t = *state;
    t->relay_allow_all = true;
    smtp_session *s = test_session(t);
    const char *out = test_feeds(t, s,
                                 "EHLO c\r\nSTARTTLS now\r\nMAIL FROM:<a@example.net>\r\n"
                                 "STARTTLS\r\nRSET\r\nSTARTTLS\r\n");
    assert_string_equal(after(out, "250 HELP\r\n"),
                        "501 5.5.4 Syntax: STARTTLS takes no arguments\r\n"
                        "250 2.1.0 Sender <a@example.net> OK\r\n"
                        "503 5.5.1 STARTTLS not permitted during a mail transaction\r\n"
                        "250 2.0.0 OK\r\n"
                        "220 2.0.0 Ready to start TLS\r\n");
    handshake(t, s);
    out = test_feeds(t, s, "EHLO c\r\nSTARTTLS\r\nHELP\r\n");
    assert_string_equal(after(out, "250 HELP\r\n"),
                        "503 5.5.1 TLS already active\r\n"
                        "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP "
                        "AUTH\r\n");
    smtp_session_destroy(s);
}

static void the_session_starts_afresh_after_the_handshake(void **state)
{
    test_host *t = *state;
    t->host.auth_without_tls = true; /* authenticated in clear, before STARTTLS */
    t->relay_allow_authenticated = true;
    smtp_session *s = test_session(t);
    const char *out = test_feeds(t, s, "EHLO before\r\nAUTH PLAIN " PLAIN_GOOD "\r\nSTARTTLS\r\n");
    assert_non_null(strstr(out, "235 2.7.0"));
    assert_string_equal(smtp_session_auth_account(s), "alice");
    handshake(t, s);
    assert_null(smtp_session_auth_account(s));
    assert_string_equal(smtp_session_helo_name(s), "");
    out = test_feeds(t, s,
                     "MAIL FROM:<a@example.net>\r\nHELO after\r\nMAIL FROM:<a@example.net>\r\n"
                     "RCPT TO:<b@far.example>\r\n");
    assert_string_equal(out, "503 5.5.1 Send HELO or EHLO first\r\n"
                             "250 mx.example.com Hello after\r\n"
                             "250 2.1.0 Sender <a@example.net> OK\r\n"
                             "550 5.7.1 <b@far.example>... relaying prohibited\r\n");
    /* The relay decision no longer hears of the account proven in clear. */
    assert_string_equal(t->relay_last_account, "(none)");
    smtp_session_destroy(s);
}

/* CVE-2011-0411: a man in the middle appends commands to the client's STARTTLS packet; the
 * server must not run them inside TLS as if the client had sent them there. */
static void commands_pipelined_behind_starttls_are_never_executed(void **state)
{
    test_host *t = *state;
    t->relay_allow_all = true;
    static const char injected[] =
            "EHLO c\r\nSTARTTLS\r\nRSET\r\nMAIL FROM:<evil@example.net>\r\n"
            "RCPT TO:<victim@far.example>\r\nDATA\r\nSubject: x\r\n\r\n.\r\n";
    for (size_t chunk = 0; chunk <= 1; chunk++) {
        test_host_free(t);
        test_host_init(t);
        t->host.tls_available = true;
        t->relay_allow_all = true;
        smtp_session *s = test_session(t);
        const char *out = test_feed(t, s, injected, strlen(injected), chunk);
        assert_string_equal(after(out, "250 HELP\r\n"), "220 2.0.0 Ready to start TLS\r\n");
        /* More clear text before the handshake (a second packet) is thrown away too. */
        test_feeds(t, s, "QUIT\r\n");
        assert_false(t->closed);
        handshake(t, s);
        out = test_feeds(t, s, "MAIL FROM:<a@example.net>\r\nNOOP\r\n");
        assert_string_equal(out, "503 5.5.1 Send HELO or EHLO first\r\n250 2.0.0 OK\r\n");
        assert_int_equal(t->relay_calls, 0);
        assert_int_equal(t->begins, 0);
        assert_null(strstr(t->log, "evil"));
        assert_null(strstr(t->log, "C: RSET"));
        smtp_session_destroy(s);
    }
}

/* Half a command line before STARTTLS's handshake is not completed by bytes inside TLS. */
static void a_partial_line_does_not_survive_the_handshake(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "STARTTLS\r\n");
    test_feeds(t, s, "MAIL FROM:<ev");
    handshake(t, s);
    const char *out = test_feeds(t, s, "il@example.net>\r\n");
    assert_string_equal(out, "500 5.5.2 Command not recognized\r\n");
    smtp_session_destroy(s);
}

static void auth_in_clear_is_refused_and_not_offered(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(
            t, "EHLO c\r\nAUTH PLAIN " PLAIN_GOOD "\r\nAUTH LOGIN\r\nHELP\r\n", 0);
    assert_null(strstr(out, "250-AUTH"));
    assert_string_equal(after(out, "250 HELP\r\n"),
                        "530 5.7.0 Must issue a STARTTLS command first\r\n"
                        "530 5.7.0 Must issue a STARTTLS command first\r\n"
                        "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP "
                        "STARTTLS\r\n");
    assert_int_equal(t->auth_calls, 0);
    /* Not counted as a failure: no delay, the session stays open. */
    assert_int_equal(t->delay_count, 0);
    assert_false(t->closed);
}

static void auth_inside_tls_works_and_relays(void **state)
{
    test_host *t = *state;
    t->relay_allow_authenticated = true;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\nSTARTTLS\r\n");
    handshake(t, s);
    const char *out = test_feeds(t, s,
                                 "EHLO c\r\nAUTH PLAIN " PLAIN_GOOD "\r\n"
                                 "MAIL FROM:<alice@example.com>\r\nRCPT TO:<bob@far.example>\r\n"
                                 "DATA\r\nSubject: hi\r\n\r\nhello\r\n.\r\n");
    assert_string_equal(after(out, "250 HELP\r\n"),
                        "235 2.7.0 Authentication successful\r\n"
                        "250 2.1.0 Sender <alice@example.com> OK\r\n"
                        "250 2.1.5 Recipient <bob@far.example> OK\r\n"
                        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                        "250 2.0.0 Message accepted for delivery\r\n");
    assert_int_equal(test_committed(t), 1);
    assert_string_equal(t->relay_last_account, "alice");
    smtp_session_destroy(s);
}

static void auth_without_tls_restores_clear_text_auth(void **state)
{
    test_host *t = *state;
    t->host.auth_without_tls = true;
    const char *out = test_conversation(t, "EHLO c\r\nAUTH PLAIN " PLAIN_GOOD "\r\n", 0);
    assert_non_null(strstr(out, "250-STARTTLS\r\n250-AUTH PLAIN LOGIN\r\n"));
    assert_string_equal(after(out, "250 HELP\r\n"), "235 2.7.0 Authentication successful\r\n");
}

static void the_handshake_call_is_ignored_when_none_was_asked_for(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\n");
    smtp_session_tls_started(s);
    assert_false(smtp_session_tls_active(s));
    assert_string_equal(smtp_session_helo_name(s), "c");
    smtp_session_destroy(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
            T(ehlo_offers_starttls_only_when_the_host_can_and_not_inside_tls),
            T(starttls_answers_220_and_asks_for_the_handshake),
            T(starttls_is_refused_with_arguments_in_a_transaction_and_inside_tls),
            T(the_session_starts_afresh_after_the_handshake),
            T(commands_pipelined_behind_starttls_are_never_executed),
            T(a_partial_line_does_not_survive_the_handshake),
            T(auth_in_clear_is_refused_and_not_offered),
            T(auth_inside_tls_works_and_relays),
            T(auth_without_tls_restores_clear_text_auth),
            T(the_handshake_call_is_ignored_when_none_was_asked_for),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
