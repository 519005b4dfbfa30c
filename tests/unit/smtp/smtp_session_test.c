/* Whole SMTP conversations as byte strings, with the exact replies expected. */
#include "smtp_test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

#define GREETING "220 mx.example.com ESMTP imsrelay ready\r\n"
#define EHLO_REPLY_FOR(name)                                                                       \
    "250-mx.example.com Hello " name "\r\n"                                                        \
    "250-SIZE 10485760\r\n"                                                                        \
    "250-8BITMIME\r\n250-PIPELINING\r\n250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250 "    \
    "HELP\r\n"
#define EHLO_REPLY2 EHLO_REPLY_FOR("c")
#define EHLO_REPLY  EHLO_REPLY_FOR("client.example.net")

static int setup(void **state)
{
    test_host *t = malloc(sizeof *t);
    test_host_init(t);
    *state = t;
    return 0;
}

static int teardown(void **state)
{
    test_host_free(*state);
    free(*state);
    return 0;
}

static void full_conversation_has_the_exact_replies(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        "EHLO client.example.net\r\n"
                                        "MAIL FROM:<sender@example.net>\r\n"
                                        "RCPT TO:<bob@example.com>\r\n"
                                        "RCPT TO:<postmaster>\r\n"
                                        "DATA\r\n"
                                        "Subject: hi\r\n"
                                        "\r\n"
                                        "..leading dot\r\n"
                                        "body\r\n"
                                        ".\r\n"
                                        "QUIT\r\n",
                                        0);
    assert_string_equal(out, GREETING EHLO_REPLY "250 2.1.0 Sender <sender@example.net> OK\r\n"
                                                 "250 2.1.5 Recipient <bob@example.com> OK\r\n"
                                                 "250 2.1.5 Recipient <postmaster> OK\r\n"
                                                 "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                                 "250 2.0.0 Message accepted for delivery\r\n"
                                                 "221 2.0.0 mx.example.com closing connection\r\n");
    assert_true(t->closed);
    assert_int_equal(test_committed(t), 1);
    assert_string_equal(t->messages[0].envelope,
                        "client.example.net|sender@example.net|bob@example.com(L),postmaster(L)|"
                        "192.0.2.7|(none)|-|0");
    assert_string_equal(t->messages[0].body, "Subject: hi\r\n\r\n.leading dot\r\nbody\r\n");
    assert_int_equal(t->relay_calls, 0);
}

static void helo_is_answered_without_extensions(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t, "HELO client\r\nMAIL FROM:<a@b.org> SIZE=10\r\n", 0);
    assert_string_equal(out, GREETING "250 mx.example.com Hello client\r\n"
                                      "555 5.5.4 MAIL parameters need EHLO\r\n");
}

static void ehlo_without_auth_does_not_offer_it(void **state)
{
    test_host *t = *state;
    t->host.auth_available = false;
    const char *out = test_conversation(t, "EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", 0);
    assert_null(strstr(out, "AUTH PLAIN LOGIN"));
    assert_non_null(strstr(out, "250-ENHANCEDSTATUSCODES\r\n250 HELP\r\n"));
    assert_non_null(strstr(out, "502 5.5.1 AUTH not available\r\n"));
    assert_int_equal(t->auth_calls, 0);
}

static void commands_out_of_sequence_get_503(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "RCPT TO:<bob@example.com>\r\n"
                                        "DATA\r\n"
                                        "HELO c\r\n"
                                        "RCPT TO:<bob@example.com>\r\n"
                                        "DATA\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "DATA\r\n",
                                        0);
    assert_string_equal(out, GREETING "503 5.5.1 Send HELO or EHLO first\r\n"
                                      "503 5.5.1 Need MAIL before RCPT\r\n"
                                      "503 5.5.1 Need MAIL before DATA\r\n"
                                      "250 mx.example.com Hello c\r\n"
                                      "503 5.5.1 Need MAIL before RCPT\r\n"
                                      "503 5.5.1 Need MAIL before DATA\r\n"
                                      "250 2.1.0 Sender <a@b.org> OK\r\n"
                                      "503 5.5.1 Sender already given\r\n"
                                      "503 5.5.1 Need RCPT before DATA (no valid recipients)\r\n");
    assert_int_equal(t->begins, 0);
}

static void bad_syntax_gets_501_and_unknown_commands_500(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        "HELO\r\n"
                                        "EHLO two words\r\n"
                                        "EHLO c\r\n"
                                        "MAIL <a@b.org>\r\n"
                                        "MAIL FROM:a@b.org\r\n"
                                        "MAIL FROM:<a@@b.org>\r\n"
                                        "MAIL FROM:<a@b.org> SIZE=12x\r\n"
                                        "MAIL FROM:<a@b.org> BODY=BINARYMIME\r\n"
                                        "MAIL FROM:<a@b.org> FOO=1\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "RCPT <bob@example.com>\r\n"
                                        "RCPT TO:<bob>\r\n"
                                        "RCPT TO:<bob@example.com> NOTIFY=NEVER\r\n"
                                        "DATA now\r\n"
                                        "RSET all\r\n"
                                        "VRFY\r\n"
                                        "BDAT 10 LAST\r\n"
                                        "STARTTLS\r\n"
                                        "\r\n"
                                        "EXPN list\r\n",
                                        0);
    assert_string_equal(out, GREETING "501 5.5.4 Syntax: HELO hostname\r\n"
                                      "501 5.5.4 Syntax: EHLO hostname\r\n" EHLO_REPLY2
                                      "501 5.5.4 Syntax: MAIL FROM:<address>\r\n"
                                      "501 5.1.7 Bad sender address syntax\r\n"
                                      "501 5.1.7 Bad sender address syntax\r\n"
                                      "501 5.5.4 Syntax: SIZE=<number of bytes>\r\n"
                                      "501 5.5.4 Syntax: BODY=7BIT or BODY=8BITMIME\r\n"
                                      "555 5.5.4 Unsupported MAIL parameter\r\n"
                                      "250 2.1.0 Sender <a@b.org> OK\r\n"
                                      "501 5.5.4 Syntax: RCPT TO:<address>\r\n"
                                      "501 5.1.3 Bad recipient address syntax\r\n"
                                      "555 5.5.4 Unsupported RCPT parameter\r\n"
                                      "503 5.5.1 Need RCPT before DATA (no valid recipients)\r\n"
                                      "501 5.5.4 Syntax: RSET takes no arguments\r\n"
                                      "501 5.5.4 Syntax: VRFY <address>\r\n"
                                      "500 5.5.2 Command not recognized\r\n"
                                      "502 5.5.1 STARTTLS not available\r\n"
                                      "500 5.5.2 Command not recognized\r\n"
                                      "502 5.5.1 EXPN not available\r\n");
}

static void data_with_argument_is_a_syntax_error(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(
            t, "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA now\r\n", 0);
    assert_non_null(strstr(out, "501 5.5.4 Syntax: DATA takes no arguments\r\n"));
    assert_int_equal(t->begins, 0);
}

static void vrfy_help_noop_rset_and_null_sender(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        "EHLO c\r\n"
                                        "VRFY bob\r\n"
                                        "HELP\r\n"
                                        "NOOP\r\n"
                                        "MAIL FROM:<>\r\n"
                                        "RSET\r\n"
                                        "RCPT TO:<bob@example.com>\r\n"
                                        "MAIL FROM:<>\r\n"
                                        "RCPT TO:<bob@example.com>\r\n"
                                        "DATA\r\n"
                                        "bounce\r\n"
                                        ".\r\n",
                                        0);
    assert_string_equal(
            out, GREETING EHLO_REPLY2
            "252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n"
            "214 2.0.0 Commands: HELO EHLO MAIL RCPT DATA RSET NOOP QUIT VRFY HELP AUTH\r\n"
            "250 2.0.0 OK\r\n"
            "250 2.1.0 Sender <> OK\r\n"
            "250 2.0.0 OK\r\n"
            "503 5.5.1 Need MAIL before RCPT\r\n"
            "250 2.1.0 Sender <> OK\r\n"
            "250 2.1.5 Recipient <bob@example.com> OK\r\n"
            "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
            "250 2.0.0 Message accepted for delivery\r\n");
    assert_string_equal(t->messages[0].envelope, "c||bob@example.com(L)|192.0.2.7|(none)|-|0");
}

static void relay_denied_recipient_gets_550_and_the_transaction_goes_on(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        "EHLO c\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "RCPT TO:<victim@elsewhere.net>\r\n"
                                        "RCPT TO:<Bob@EXAMPLE.com>\r\n"
                                        "DATA\r\n"
                                        "x\r\n"
                                        ".\r\n",
                                        0);
    assert_string_equal(out, GREETING EHLO_REPLY2
                        "250 2.1.0 Sender <a@b.org> OK\r\n"
                        "550 5.7.1 <victim@elsewhere.net>... relaying prohibited\r\n"
                        "250 2.1.5 Recipient <Bob@EXAMPLE.com> OK\r\n"
                        "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                        "250 2.0.0 Message accepted for delivery\r\n");
    assert_int_equal(t->relay_calls, 1);
    assert_string_equal(t->relay_last_recipient, "victim@elsewhere.net");
    assert_string_equal(t->messages[0].envelope,
                        "c|a@b.org|Bob@EXAMPLE.com(L)|192.0.2.7|(none)|-|0");
}

static void relay_allowed_recipient_is_marked_relayed(void **state)
{
    test_host *t = *state;
    t->relay_allow_all = true;
    test_conversation(t,
                      "EHLO c\r\n"
                      "MAIL FROM:<a@b.org> SIZE=2 BODY=8BITMIME AUTH=<>\r\n"
                      "RCPT TO:<@example.com:far@elsewhere.net>\r\n"
                      "RCPT TO:<bob@example.com>\r\n"
                      "DATA\r\n"
                      "x\r\n"
                      ".\r\n",
                      0);
    assert_int_equal(t->relay_calls, 1);
    assert_string_equal(t->messages[0].envelope,
                        "c|a@b.org|far@elsewhere.net(R),bob@example.com(L)|192.0.2.7|(none)|"
                        "8BITMIME|2");
    assert_int_equal(test_committed(t), 1);
}

static void without_relay_callback_every_relay_is_denied(void **state)
{
    test_host *t = *state;
    t->host.relay_check = NULL;
    const char *out = test_conversation(
            t, "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<x@elsewhere.net>\r\n", 0);
    assert_non_null(strstr(out, "550 5.7.1 <x@elsewhere.net>... relaying prohibited\r\n"));
}

static void too_many_recipients_gets_452(void **state)
{
    test_host *t = *state;
    t->host.limits.max_recipients = 2;
    const char *out = test_conversation(t,
                                        "EHLO c\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "RCPT TO:<r1@example.com>\r\n"
                                        "RCPT TO:<r2@example.com>\r\n"
                                        "RCPT TO:<r3@example.com>\r\n"
                                        "RCPT TO:<r4@elsewhere.net>\r\n"
                                        "DATA\r\n"
                                        "x\r\n"
                                        ".\r\n",
                                        0);
    assert_non_null(strstr(out, "250 2.1.5 Recipient <r2@example.com> OK\r\n"
                                "452 4.5.3 Too many recipients\r\n"
                                "452 4.5.3 Too many recipients\r\n"
                                "354 "));
    assert_int_equal(t->relay_calls, 0);
    assert_string_equal(t->messages[0].envelope,
                        "c|a@b.org|r1@example.com(L),r2@example.com(L)|192.0.2.7|(none)|-|0");
}

static void size_over_the_limit_is_refused_at_mail(void **state)
{
    test_host *t = *state;
    t->host.limits.max_message_bytes = 1000;
    const char *out = test_conversation(t,
                                        "EHLO c\r\n"
                                        "MAIL FROM:<a@b.org> SIZE=1001\r\n"
                                        "MAIL FROM:<a@b.org> SIZE=1000\r\n",
                                        0);
    assert_non_null(strstr(out, "250-SIZE 1000\r\n"));
    assert_non_null(strstr(out, "552 5.3.4 Message size exceeds fixed maximum message size "
                                "(1000 bytes)\r\n250 2.1.0 Sender <a@b.org> OK\r\n"));
}

static void message_over_the_limit_is_discarded_and_552_follows_the_dot(void **state)
{
    test_host *t = *state;
    t->host.limits.max_message_bytes = 100;
    char input[2048];
    char body[400];
    memset(body, 'x', sizeof body);
    body[sizeof body - 1] = '\0';
    snprintf(input, sizeof input,
             "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n%s\r\n"
             ".\r\nNOOP\r\n",
             body);
    const char *out = test_conversation(t, input, 0);
    assert_non_null(strstr(out, "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                "552 5.3.4 Message size exceeds fixed maximum message size (100 "
                                "bytes)\r\n250 2.0.0 OK\r\n"));
    assert_int_equal(test_committed(t), 0);
    assert_true(t->messages[0].aborted);
    assert_true(t->messages[0].body_len <= 100);
}

static void message_of_exactly_the_limit_is_accepted(void **state)
{
    test_host *t = *state;
    t->host.limits.max_message_bytes = 10; /* "12345678\r\n" */
    const char *out = test_conversation(t,
                                        "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT "
                                        "TO:<bob@example.com>\r\nDATA\r\n12345678\r\n.\r\n",
                                        0);
    assert_non_null(strstr(out, "250 2.0.0 Message accepted for delivery\r\n"));
    assert_string_equal(t->messages[0].body, "12345678\r\n");
}

static void long_line_is_discarded_whole_and_answered_500(void **state)
{
    test_host *t = *state;
    t->host.limits.max_line_length = 512;
    char input[4096];
    char fits[600], too_long[800];
    /* 512 bytes with CRLF fits; more does not, and the discarded tail (which looks like a
     * command after bare CRs) never runs. */
    memset(fits, 'x', 505);
    fits[505] = '\0';
    memset(too_long, 'y', 700);
    memcpy(too_long + 600, "\rQUIT\r", 6);
    too_long[700] = '\0';
    snprintf(input, sizeof input, "NOOP %s\r\nNOOP %s\r\nQUIT\r\n", fits, too_long);
    assert_int_equal(strlen("NOOP ") + strlen(fits) + 2, 512);
    const char *out = test_conversation(t, input, 0);
    assert_string_equal(out, GREETING "250 2.0.0 OK\r\n"
                                      "500 5.5.2 Line too long\r\n"
                                      "221 2.0.0 mx.example.com closing connection\r\n");
}

static void very_long_line_in_small_feeds_keeps_memory_bounded(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    size_t bound = smtp_session_memory(&t->host.limits);
    char chunk[1000];
    memset(chunk, 'z', sizeof chunk);
    for (int i = 0; i < 2000; i++) {
        assert_int_equal(smtp_session_feed(s, chunk, sizeof chunk), sizeof chunk);
    }
    assert_true(smtp_session_memory_in_use(s) <= bound);
    test_feeds(t, s, "\r\nNOOP\r\n");
    assert_string_equal(t->output, GREETING "500 5.5.2 Line too long\r\n250 2.0.0 OK\r\n");
    assert_true(smtp_session_memory_in_use(s) <= bound);
    smtp_session_destroy(s);
}

static void bare_lf_and_bad_characters_in_commands_are_refused(void **state)
{
    test_host *t = *state;
    static const char input[] = "NOOP\nQUIT\nNO\rOP\r\nNO\0OP\r\nNOOP\r\n";
    smtp_session *s = test_session(t);
    test_feed(t, s, input, sizeof input - 1, 0);
    smtp_session_destroy(s);
    assert_string_equal(t->output, GREETING "500 5.5.2 Line must end in CRLF\r\n"
                                            "500 5.5.2 Line must end in CRLF\r\n"
                                            "500 5.5.2 Invalid character in command line\r\n"
                                            "500 5.5.2 Invalid character in command line\r\n"
                                            "250 2.0.0 OK\r\n");
    assert_false(t->closed);
}

static void quit_closes_and_later_input_is_ignored(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t, "QUIT\r\nNOOP\r\nHELP\r\n", 0);
    assert_string_equal(out, GREETING "221 2.0.0 mx.example.com closing connection\r\n");
    assert_true(t->closed);
}

static void shutdown_replies_421_and_aborts_the_message(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\npart");
    assert_true(smtp_session_in_data(s));
    smtp_session_shutdown(s);
    test_feeds(t, s, "\r\n.\r\n");
    assert_non_null(strstr(t->output, "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                      "421 4.3.2 mx.example.com Service shutting down, closing "
                                      "connection\r\n"));
    assert_true(t->closed);
    assert_true(t->messages[0].aborted);
    assert_int_equal(test_committed(t), 0);
    assert_int_equal(t->ends, 1);
    smtp_session_destroy(s);
    assert_int_equal(t->ends, 1);
}

static void idle_timeout_replies_421(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\n");
    smtp_session_timeout(s);
    smtp_session_timeout(s); /* a second call changes nothing */
    test_feeds(t, s, "");
    assert_string_equal(t->output, GREETING EHLO_REPLY2
                        "421 4.4.2 mx.example.com Idle timeout, closing connection\r\n");
    assert_true(t->closed);
    assert_true(smtp_session_closed(s));
    smtp_session_destroy(s);
}

/* A slow sender cut by another deadline is told which one, not "idle". */
static void a_deadline_names_itself_in_the_421(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\n");
    smtp_session_timeout_because(s, "Message data too slow\r\n250 forged");
    test_feeds(t, s, "");
    assert_string_equal(t->output, GREETING EHLO_REPLY2
                        "421 4.4.2 mx.example.com Message data too slow??250 forged, closing "
                        "connection\r\n");
    assert_true(t->closed);
    smtp_session_destroy(s);
}

static void destroy_in_the_middle_of_a_message_aborts_it(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nab");
    smtp_session_destroy(s);
    assert_int_equal(t->ends, 1);
    assert_true(t->messages[0].aborted);
}

static void host_storage_failures_give_451(void **state)
{
    test_host *t = *state;
    const char *script = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
                         "x\r\n.\r\n";
    t->fail_begin = true;
    const char *out = test_conversation(t, script, 0);
    assert_non_null(strstr(out, "451 4.3.0 Cannot accept a message now; try again later\r\n"
                                "500 5.5.2 Command not recognized\r\n"));
    assert_null(strstr(out, "354"));

    test_host_free(t);
    test_host_init(t);
    t->fail_write = true;
    out = test_conversation(t, script, 0);
    assert_non_null(strstr(out, "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                "451 4.3.0 Could not store the message; try again later\r\n"));
    assert_true(t->messages[0].aborted);

    test_host_free(t);
    test_host_init(t);
    t->fail_commit = true;
    out = test_conversation(t, script, 0);
    assert_non_null(strstr(out, "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                "451 4.3.0 Could not store the message; try again later\r\n"));
    assert_null(strstr(out, "250 2.0.0 Message accepted"));
}

/* Disk held by messages in progress is capped by the host: a refusal for that reason is a
 * 452 4.3.1 (try later), at DATA or in the middle of the message, never a 250. */
static void storage_limit_is_452_never_250(void **state)
{
    test_host *t = *state;
    const char *script = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
                         "x\r\n.\r\n";
    t->storage_full = true;
    t->fail_begin = true;
    const char *out = test_conversation(t, script, 0);
    assert_non_null(strstr(out, "452 4.3.1 Insufficient system storage; try again later\r\n"));
    assert_null(strstr(out, "354"));

    test_host_free(t);
    test_host_init(t);
    t->storage_full = true;
    t->fail_write = true;
    out = test_conversation(t, script, 0);
    assert_non_null(strstr(out, "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                "452 4.3.1 Insufficient system storage; try again later\r\n"));
    assert_null(strstr(out, "250 2.0.0 Message accepted"));
    assert_true(t->messages[0].aborted);

    /* The next message of the session is judged afresh. */
    test_host_free(t);
    test_host_init(t);
    smtp_session *s = test_session(t);
    t->storage_full = true;
    t->fail_write = true;
    test_feeds(t, s, script);
    t->fail_write = false;
    t->storage_full = false;
    out = test_feeds(t, s,
                     "MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nx\r\n.\r\n");
    assert_non_null(strstr(out, "250 2.0.0 Message accepted"));
    smtp_session_destroy(s);
}

static const char pipelined_script[] = "EHLO client.example.net\r\n"
                                       "MAIL FROM:<a@b.org> SIZE=100\r\n"
                                       "RCPT TO:<bob@example.com>\r\n"
                                       "RCPT TO:<x@elsewhere.net>\r\n"
                                       "RCPT TO:<Postmaster>\r\n"
                                       "DATA\r\n"
                                       "From: a\r\n"
                                       "\r\n"
                                       "..\r\n.x\r"
                                       "\n..\r\n"
                                       "line\r\n"
                                       ".\r\n"
                                       "NOOP\r\n"
                                       "BOGUS\r\n"
                                       "MAIL FROM:<>\r\n"
                                       "RCPT TO:<alice@mail.example.org>\r\n"
                                       "DATA\r\n"
                                       "second\r\n"
                                       ".\r\n"
                                       "RSET\r\n"
                                       "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
                                       "VRFY x\r\n"
                                       "QUIT\r\n";

static void pipelined_and_byte_at_a_time_give_identical_results(void **state)
{
    test_host *t = *state;
    static const size_t chunks[] = {0, 1, 2, 3, 5, 7, 13, 64};
    char reference[TEST_TEXT_MAX], log[TEST_TEXT_MAX], body0[256], body1[256];
    for (size_t i = 0; i < sizeof chunks / sizeof chunks[0]; i++) {
        test_host_free(t);
        test_host_init(t);
        test_conversation(t, pipelined_script, chunks[i]);
        assert_int_equal(test_committed(t), 2);
        if (i == 0) {
            strcpy(reference, t->output);
            strcpy(log, t->log);
            strcpy(body0, t->messages[0].body);
            strcpy(body1, t->messages[1].body);
            continue;
        }
        assert_string_equal(t->output, reference);
        assert_string_equal(t->log, log);
        assert_string_equal(t->messages[0].body, body0);
        assert_string_equal(t->messages[1].body, body1);
    }
    assert_string_equal(body0, "From: a\r\n\r\n.\r\nx\r\n.\r\nline\r\n");
    assert_string_equal(body0 + 0, t->messages[0].body);
    assert_string_equal(body1, "second\r\n");
    assert_string_equal(reference,
                        GREETING "250-mx.example.com Hello client.example.net\r\n"
                                 "250-SIZE 10485760\r\n250-8BITMIME\r\n250-PIPELINING\r\n"
                                 "250-ENHANCEDSTATUSCODES\r\n250-AUTH PLAIN LOGIN\r\n250 HELP\r\n"
                                 "250 2.1.0 Sender <a@b.org> OK\r\n"
                                 "250 2.1.5 Recipient <bob@example.com> OK\r\n"
                                 "550 5.7.1 <x@elsewhere.net>... relaying prohibited\r\n"
                                 "250 2.1.5 Recipient <Postmaster> OK\r\n"
                                 "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                 "250 2.0.0 Message accepted for delivery\r\n"
                                 "250 2.0.0 OK\r\n"
                                 "500 5.5.2 Command not recognized\r\n"
                                 "250 2.1.0 Sender <> OK\r\n"
                                 "250 2.1.5 Recipient <alice@mail.example.org> OK\r\n"
                                 "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                                 "250 2.0.0 Message accepted for delivery\r\n"
                                 "250 2.0.0 OK\r\n"
                                 "235 2.7.0 Authentication successful\r\n"
                                 "252 2.5.0 Cannot VRFY user, but will accept message and attempt "
                                 "delivery\r\n"
                                 "221 2.0.0 mx.example.com closing connection\r\n");
}

static void a_client_that_never_reads_cannot_grow_the_output(void **state)
{
    test_host *t = *state;
    t->host.protocol_log = NULL;
    smtp_session *s = test_session(t);
    size_t n = 20000;
    char *input = malloc(n * 6);
    for (size_t i = 0; i < n; i++) {
        memcpy(input + i * 6, "NOOP\r\n", 6);
    }
    size_t used = smtp_session_feed(s, input, n * 6);
    smtp_output out = smtp_session_output(s);
    assert_true(used < n * 6);
    assert_true(used > 0);
    assert_true(out.length <= 4096);
    /* Once the host sends, the engine goes on where it stopped. */
    size_t replies = 0;
    while (used < n * 6) {
        out = smtp_session_output(s);
        for (size_t i = 0; i + 1 < out.length; i++) {
            replies += out.bytes[i] == '\r' && out.bytes[i + 1] == '\n';
        }
        smtp_session_output_sent(s, out.length);
        used += smtp_session_feed(s, input + used, n * 6 - used);
    }
    out = smtp_session_output(s);
    for (size_t i = 0; i + 1 < out.length; i++) {
        replies += out.bytes[i] == '\r' && out.bytes[i + 1] == '\n';
    }
    assert_int_equal(replies, n + 1); /* the greeting and one 250 per NOOP */
    free(input);
    smtp_session_destroy(s);
}

static void protocol_log_has_every_line_and_no_credentials(void **state)
{
    test_host *t = *state;
    test_conversation(t,
                      "EHLO c\r\n"
                      "AUTH LOGIN\r\n"
                      "YWxpY2U=\r\n"
                      "c2VjcmV0\r\n"
                      "QUIT\r\n",
                      0);
    assert_string_equal(t->log, "S: 220 mx.example.com ESMTP imsrelay ready\n"
                                "C: EHLO c\n"
                                "S: 250-mx.example.com Hello c\n"
                                "S: 250-SIZE 10485760\n"
                                "S: 250-8BITMIME\n"
                                "S: 250-PIPELINING\n"
                                "S: 250-ENHANCEDSTATUSCODES\n"
                                "S: 250-AUTH PLAIN LOGIN\n"
                                "S: 250 HELP\n"
                                "C: AUTH LOGIN\n"
                                "S: 334 VXNlcm5hbWU6\n"
                                "C: <redacted>\n"
                                "S: 334 UGFzc3dvcmQ6\n"
                                "C: <redacted>\n"
                                "S: 235 2.7.0 Authentication successful\n"
                                "C: QUIT\n"
                                "S: 221 2.0.0 mx.example.com closing connection\n");

    test_host_free(t);
    test_host_init(t);
    test_conversation(t, "EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n", 0);
    assert_non_null(strstr(t->log, "C: AUTH PLAIN <redacted>\n"));
    assert_null(strstr(t->log, "AGFsaWNl"));
}

static void credentials_in_bad_lines_never_reach_the_log(void **state)
{
    test_host *t = *state;
    t->host.limits.max_line_length = 512;
    char input[2048];
    char secret[700];
    memset(secret, 'S', 600);
    secret[600] = '\0';
    snprintf(input, sizeof input,
             "EHLO c\r\nAUTH PLAIN AGFsaWNlAHNlY3JldA==\nAUTH PLAIN %s\r\nauth login "
             "YWxpY2U=\r\n",
             secret);
    test_conversation(t, input, 0);
    assert_non_null(strstr(t->log, "C: AUTH PLAIN <redacted>\nS: 500 5.5.2 Line must end in "
                                   "CRLF\nC: AUTH PLAIN <redacted>\nS: 500 5.5.2 Line too long\n"
                                   "C: auth login <redacted>\n"));
    assert_null(strstr(t->log, "AGFsaWNl"));
    assert_null(strstr(t->log, "SSSS"));
    assert_null(strstr(t->log, "YWxpY2U="));
}

static void overlong_paths_get_501_with_their_own_text(void **state)
{
    test_host *t = *state;
    char input[2048], local[80];
    memset(local, 'l', 65);
    local[65] = '\0';
    snprintf(input, sizeof input,
             "EHLO c\r\nMAIL FROM:<%s@b.org>\r\nMAIL FROM: <a@b.org>\r\n"
             "RCPT TO:<%s@example.com>\r\nRCPT TO: <bob@example.com>\r\n",
             local, local);
    const char *out = test_conversation(t, input, 0);
    assert_non_null(strstr(out, "501 5.1.7 Sender address too long\r\n"
                                "250 2.1.0 Sender <a@b.org> OK\r\n"
                                "501 5.1.3 Recipient address too long\r\n"
                                "250 2.1.5 Recipient <bob@example.com> OK\r\n"));
}

static void each_transaction_gets_the_full_recipient_limit(void **state)
{
    test_host *t = *state;
    t->host.limits.max_recipients = 1;
    const char *out = test_conversation(t,
                                        "EHLO c\r\n"
                                        "MAIL FROM:<a@b.org>\r\nRCPT TO:<r1@example.com>\r\n"
                                        "DATA\r\none\r\n.\r\n"
                                        "MAIL FROM:<a@b.org>\r\nRCPT TO:<r2@example.com>\r\n"
                                        "RSET\r\n"
                                        "MAIL FROM:<a@b.org>\r\nRCPT TO:<r3@example.com>\r\n"
                                        "RCPT TO:<r4@example.com>\r\n"
                                        "DATA\r\ntwo\r\n.\r\n",
                                        0);
    assert_null(strstr(out, "452 4.5.3 Too many recipients\r\n250"));
    assert_int_equal(test_committed(t), 2);
    assert_string_equal(t->messages[0].envelope,
                        "c|a@b.org|r1@example.com(L)|192.0.2.7|(none)|-|0");
    assert_string_equal(t->messages[1].envelope,
                        "c|a@b.org|r3@example.com(L)|192.0.2.7|(none)|-|0");
}

/* Issue 9: MaxRecipients 5000 is valid configuration, so the 1,001st recipient (and every
 * one up to 5000) is accepted, not refused at an engine limit the administrator never set. */
static void recipients_beyond_1000_are_accepted_when_configured(void **state)
{
    test_host *t = *state;
    t->host.limits.max_recipients = 5000;
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\nMAIL FROM:<a@b.org>\r\n");
    char line[64];
    char expected[80];
    for (int i = 1; i <= 1001; i++) {
        t->output_len = 0;
        t->log_len = 0; /* the protocol log would outgrow its test buffer */
        snprintf(line, sizeof line, "RCPT TO:<r%d@example.com>\r\n", i);
        snprintf(expected, sizeof expected, "250 2.1.5 Recipient <r%d@example.com> OK\r\n", i);
        test_feeds(t, s, line);
        t->output[t->output_len] = '\0';
        assert_string_equal(t->output, expected);
    }
    test_feeds(t, s, "DATA\r\nx\r\n.\r\n");
    assert_int_equal(test_committed(t), 1);
    assert_int_equal(t->messages[0].recipient_count, 1001);
    assert_string_equal(t->messages[0].last_recipient, "r1001@example.com");
    assert_true(strncmp(t->messages[0].envelope, "c|a@b.org|r1@example.com(L),r2@example.com(L),",
                        46) == 0);
    smtp_session_destroy(s);
}

static void limits_take_defaults_and_bounds(void **state)
{
    (void)state;
    smtp_limits zero = {0};
    smtp_limits l = smtp_limits_effective(&zero);
    assert_int_equal(l.max_message_bytes, SMTP_DEFAULT_MAX_MESSAGE_BYTES);
    assert_int_equal(l.max_recipients, 100);
    assert_int_equal(l.max_line_length, 2048);
    assert_int_equal(l.max_auth_failures, 3);
    assert_int_equal(l.auth_failure_delay_ms, 1000);
    smtp_limits wild = {1, 1000000, 10, 99, 999999};
    l = smtp_limits_effective(&wild);
    assert_int_equal(l.max_message_bytes, 1);
    assert_int_equal(l.max_recipients, SMTP_MAX_RECIPIENTS_MAX);
    assert_int_equal(l.max_line_length, 512);
    assert_int_equal(l.max_auth_failures, 10);
    assert_int_equal(l.auth_failure_delay_ms, SMTP_AUTH_DELAY_MAX_MS);
    /* The memory bound grows with the limits and nothing else. */
    assert_true(smtp_session_memory(&wild) > smtp_session_memory(&zero));
    assert_true(smtp_session_memory(&zero) < 64 * 1024);
}

static void hostile_host_name_cannot_break_reply_lines(void **state)
{
    test_host *t = *state;
    t->host.host_name = "evil\r\n250 fake";
    const char *out = test_conversation(t, "", 0);
    assert_string_equal(out, "220 evil??250?fake ESMTP imsrelay ready\r\n");
}

/* Thousands of idle sessions must stay cheap: a session that has only been greeted holds a
 * few kilobytes, and what a busy session grows to stays within the bound of its limits. */
static void idle_session_holds_little_and_growth_stays_bounded(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    size_t bound = smtp_session_memory(&t->host.limits);
    test_feeds(t, s, "");
    size_t idle = smtp_session_memory_in_use(s);
    assert_true(idle <= 4096);
    assert_true(bound >= 40 * 1024); /* what a session held whole before */

    /* 100 recipients, a long line, a message: every buffer grows, within the bound. */
    t->relay_allow_all = true;
    test_feeds(t, s, "EHLO c\r\nMAIL FROM:<a@b.org>\r\n");
    char rcpt[64];
    for (int i = 0; i < 100; i++) {
        snprintf(rcpt, sizeof rcpt, "RCPT TO:<user%d@far.test>\r\n", i);
        test_feeds(t, s, rcpt);
    }
    assert_non_null(strstr(t->output, "250 2.1.5 Recipient <user99@far.test> OK"));
    assert_null(strstr(t->output, "452"));
    char line[2100];
    memset(line, 'n', sizeof line);
    memcpy(line, "NOOP ", 5);
    memcpy(line + 2040, "\r\n", 3);
    test_feeds(t, s, line);
    test_feeds(t, s, "DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    assert_int_equal(test_committed(t), 1);
    assert_int_equal(t->messages[0].body_len, strlen("Subject: x\r\n\r\nbody\r\n"));
    size_t busy = smtp_session_memory_in_use(s);
    assert_true(busy > idle);
    assert_true(busy <= bound);
    /* The message buffer is given back once the message is stored. */
    assert_true(busy < bound - 8192 + 1);
    test_feeds(t, s, "QUIT\r\n");
    assert_non_null(strstr(t->output, "221 2.0.0"));
    smtp_session_destroy(s);
}

/* PIPELINING: the replies to a batch of commands that arrived together are one piece of
 * output, sent in one write by the host, not one write (and one round trip) per reply. */
static void pipelined_replies_are_one_output(void **state)
{
    test_host *t = *state;
    t->relay_allow_all = true;
    smtp_session *s = test_session(t);
    smtp_output out = smtp_session_output(s);
    smtp_session_output_sent(s, out.length); /* the greeting */
    const char batch[] = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<x@far.test>\r\n"
                         "RCPT TO:<y@far.test>\r\nDATA\r\n";
    assert_int_equal(smtp_session_feed(s, batch, strlen(batch)), strlen(batch));
    out = smtp_session_output(s);
    char text[4096];
    assert_true(out.length < sizeof text);
    memcpy(text, out.bytes, out.length);
    text[out.length] = '\0';
    assert_non_null(strstr(text, "250 2.1.0"));
    assert_non_null(strstr(text, "250 2.1.5 Recipient <x@far.test> OK\r\n"
                                 "250 2.1.5 Recipient <y@far.test> OK\r\n354 "));
    assert_true(strstr(text, "250-") == text);
    smtp_session_destroy(s);
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
            T(full_conversation_has_the_exact_replies),
            T(helo_is_answered_without_extensions),
            T(ehlo_without_auth_does_not_offer_it),
            T(commands_out_of_sequence_get_503),
            T(bad_syntax_gets_501_and_unknown_commands_500),
            T(data_with_argument_is_a_syntax_error),
            T(vrfy_help_noop_rset_and_null_sender),
            T(relay_denied_recipient_gets_550_and_the_transaction_goes_on),
            T(relay_allowed_recipient_is_marked_relayed),
            T(without_relay_callback_every_relay_is_denied),
            T(too_many_recipients_gets_452),
            T(recipients_beyond_1000_are_accepted_when_configured),
            T(idle_session_holds_little_and_growth_stays_bounded),
            T(pipelined_replies_are_one_output),
            T(size_over_the_limit_is_refused_at_mail),
            T(message_over_the_limit_is_discarded_and_552_follows_the_dot),
            T(message_of_exactly_the_limit_is_accepted),
            T(long_line_is_discarded_whole_and_answered_500),
            T(very_long_line_in_small_feeds_keeps_memory_bounded),
            T(bare_lf_and_bad_characters_in_commands_are_refused),
            T(quit_closes_and_later_input_is_ignored),
            T(shutdown_replies_421_and_aborts_the_message),
            T(idle_timeout_replies_421),
            T(a_deadline_names_itself_in_the_421),
            T(destroy_in_the_middle_of_a_message_aborts_it),
            T(host_storage_failures_give_451),
            T(storage_limit_is_452_never_250),
            T(pipelined_and_byte_at_a_time_give_identical_results),
            T(a_client_that_never_reads_cannot_grow_the_output),
            T(protocol_log_has_every_line_and_no_credentials),
            T(credentials_in_bad_lines_never_reach_the_log),
            T(overlong_paths_get_501_with_their_own_text),
            T(each_transaction_gets_the_full_recipient_limit),
            T(limits_take_defaults_and_bounds),
            T(hostile_host_name_cannot_break_reply_lines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
