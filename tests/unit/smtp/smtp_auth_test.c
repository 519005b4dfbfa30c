/* AUTH PLAIN and LOGIN: success, failure, cancel, delays and lockout. Also strict base64. */
#include "smtp_base64.h"
#include "smtp_test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* base64("\0alice\0secret"), base64("alice\0alice\0secret"), base64("\0alice\0wrong") */
#define PLAIN_GOOD      "AGFsaWNlAHNlY3JldA=="
#define PLAIN_AUTHZID   "YWxpY2UAYWxpY2UAc2VjcmV0"
#define PLAIN_BAD       "AGFsaWNlAHdyb25n"
#define B64_ALICE       "YWxpY2U="
#define B64_SECRET      "c2VjcmV0"
#define B64_WRONG       "d3Jvbmc="
#define EHLO            "EHLO c\r\n"
#define AFTER_EHLO(out) (strstr((out), "250 HELP\r\n") + 10)

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

static void plain_with_initial_response_succeeds(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    const char *out = test_feeds(t, s, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n");
    assert_string_equal(AFTER_EHLO(out), "235 2.7.0 Authentication successful\r\n");
    assert_string_equal(t->auth_last_user, "alice");
    assert_string_equal(t->auth_last_password, "secret");
    assert_string_equal(smtp_session_auth_account(s), "alice");
    assert_int_equal(t->delay_count, 0);
    smtp_session_destroy(s);
}

static void plain_after_an_empty_challenge_succeeds(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t, EHLO "AUTH plain\r\n" PLAIN_AUTHZID "\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "334 \r\n235 2.7.0 Authentication successful\r\n");
}

static void plain_for_someone_else_fails(void **state)
{
    test_host *t = *state;
    /* base64("bob\0alice\0secret"): alice's password, acting as bob. */
    const char *out = test_conversation(t, EHLO "AUTH PLAIN Ym9iAGFsaWNlAHNlY3JldA==\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "535 5.7.8 Authentication credentials invalid\r\n");
    assert_int_equal(t->auth_calls, 0);
}

static void login_succeeds_with_and_without_initial_response(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(
            t, EHLO "AUTH LOGIN\r\n" B64_ALICE "\r\n" B64_SECRET "\r\nAUTH LOGIN\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
                                         "235 2.7.0 Authentication successful\r\n"
                                         "503 5.5.1 Already authenticated\r\n");
    test_host_free(t);
    test_host_init(t);
    out = test_conversation(t, EHLO "AUTH LOGIN " B64_ALICE "\r\n" B64_SECRET "\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication "
                                         "successful\r\n");
}

static void equals_sign_is_the_empty_response(void **state)
{
    test_host *t = *state;
    t->password = "";
    const char *out = test_conversation(t, EHLO "AUTH LOGIN " B64_ALICE "\r\n=\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "334 UGFzc3dvcmQ6\r\n235 2.7.0 Authentication "
                                         "successful\r\n");
    assert_string_equal(t->auth_last_password, "");
    /* An empty PLAIN response has no user: a failure, without asking the host. */
    test_host_free(t);
    test_host_init(t);
    out = test_conversation(t, EHLO "AUTH PLAIN =\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "535 5.7.8 Authentication credentials invalid\r\n");
    assert_int_equal(t->auth_calls, 0);
}

static void star_cancels_at_every_step_and_is_not_a_failure(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        EHLO "AUTH PLAIN\r\n*\r\n"
                                             "AUTH LOGIN\r\n*\r\n"
                                             "AUTH LOGIN\r\n" B64_ALICE "\r\n*\r\n"
                                             "AUTH LOGIN " B64_ALICE "\r\n*\r\n"
                                             "NOOP\r\n",
                                        0);
    assert_string_equal(AFTER_EHLO(out),
                        "334 \r\n501 5.7.0 Authentication cancelled\r\n"
                        "334 VXNlcm5hbWU6\r\n501 5.7.0 Authentication cancelled\r\n"
                        "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
                        "501 5.7.0 Authentication cancelled\r\n"
                        "334 UGFzc3dvcmQ6\r\n501 5.7.0 Authentication cancelled\r\n"
                        "250 2.0.0 OK\r\n");
    assert_int_equal(t->auth_calls, 0);
    assert_int_equal(t->delay_count, 0);
    assert_false(t->closed);
}

static void undecodable_responses_get_501(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        EHLO "AUTH PLAIN AGFsaWNlAHNlY3JldA=\r\n"
                                             "AUTH PLAIN\r\nnot base64!\r\n"
                                             "AUTH LOGIN\r\nYWxpY2U\r\n",
                                        0);
    assert_string_equal(AFTER_EHLO(out), "501 5.5.2 Cannot decode the AUTH response\r\n"
                                         "334 \r\n501 5.5.2 Cannot decode the AUTH response\r\n"
                                         "334 VXNlcm5hbWU6\r\n"
                                         "501 5.5.2 Cannot decode the AUTH response\r\n");
    assert_int_equal(t->delay_count, 0);
}

static void an_empty_line_after_334_is_the_empty_response(void **state)
{
    test_host *t = *state;
    t->password = "";
    const char *out = test_conversation(t, EHLO "AUTH LOGIN\r\n" B64_ALICE "\r\n\r\n", 0);
    assert_string_equal(AFTER_EHLO(out), "334 VXNlcm5hbWU6\r\n334 UGFzc3dvcmQ6\r\n"
                                         "235 2.7.0 Authentication successful\r\n");
    assert_string_equal(t->auth_last_password, "");
}

static void failures_are_delayed_more_each_time_and_the_third_closes(void **state)
{
    test_host *t = *state;
    const char *out = test_conversation(t,
                                        EHLO "AUTH PLAIN " PLAIN_BAD "\r\n"
                                             "AUTH LOGIN " B64_ALICE "\r\n" B64_WRONG "\r\n"
                                             "AUTH PLAIN " PLAIN_BAD "\r\n"
                                             "AUTH PLAIN " PLAIN_GOOD "\r\n",
                                        0);
    assert_string_equal(AFTER_EHLO(out),
                        "535 5.7.8 Authentication credentials invalid\r\n"
                        "334 UGFzc3dvcmQ6\r\n"
                        "535 5.7.8 Authentication credentials invalid\r\n"
                        "421 4.7.0 Too many authentication failures, closing connection\r\n");
    assert_int_equal(t->delay_count, 3);
    assert_int_equal(t->delays[0], 1000);
    assert_int_equal(t->delays[1], 2000);
    assert_int_equal(t->delays[2], 4000);
    assert_true(t->closed);
    assert_int_equal(t->auth_calls, 3); /* the good password after lockout is never tried */
}

static void pipelined_attempts_wait_for_each_delay(void **state)
{
    test_host *t = *state;
    smtp_session *s = test_session(t);
    test_feeds(t, s, EHLO);
    static const char attempts[] = "AUTH PLAIN " PLAIN_BAD "\r\nAUTH PLAIN " PLAIN_BAD "\r\n";
    size_t used = smtp_session_feed(s, attempts, sizeof attempts - 1);
    /* The engine stops right after the failed attempt until the host has waited. */
    assert_int_equal(used, (sizeof attempts - 1) / 2);
    assert_int_equal(smtp_session_feed(s, attempts + used, sizeof attempts - 1 - used), 0);
    smtp_output out = smtp_session_output(s);
    assert_int_equal(out.delay_ms, 1000);
    smtp_session_output_sent(s, out.length);
    used += smtp_session_feed(s, attempts + used, sizeof attempts - 1 - used);
    assert_int_equal(used, sizeof attempts - 1);
    assert_int_equal(smtp_session_output(s).delay_ms, 2000);
    smtp_session_destroy(s);
}

static void limits_for_failures_and_delay_come_from_the_host(void **state)
{
    test_host *t = *state;
    t->host.limits.max_auth_failures = 1;
    t->host.limits.auth_failure_delay_ms = 250;
    const char *out = test_conversation(t, EHLO "AUTH PLAIN " PLAIN_BAD "\r\n", 0);
    assert_string_equal(AFTER_EHLO(out),
                        "421 4.7.0 Too many authentication failures, closing connection\r\n");
    assert_int_equal(t->delays[0], 250);
}

static void temporary_failure_is_454_and_not_counted(void **state)
{
    test_host *t = *state;
    t->auth_tempfail = true;
    const char *out = test_conversation(t,
                                        EHLO "AUTH PLAIN " PLAIN_GOOD "\r\nAUTH PLAIN " PLAIN_GOOD
                                             "\r\nAUTH PLAIN " PLAIN_GOOD "\r\n",
                                        0);
    assert_string_equal(AFTER_EHLO(out), "454 4.7.0 Temporary authentication failure\r\n"
                                         "454 4.7.0 Temporary authentication failure\r\n"
                                         "454 4.7.0 Temporary authentication failure\r\n");
    assert_false(t->closed);
    assert_int_equal(t->delay_count, 0);
}

/* A host that hashes passwords on a pool answers later: meanwhile the session reads nothing
 * and says nothing, and the verdict, when it comes, is replied to and counted as usual. */
static void a_pending_verdict_holds_the_session_then_counts(void **state)
{
    test_host *t = *state;
    t->auth_pending = true;
    smtp_session *s = test_session(t);
    test_feeds(t, s, EHLO);
    const char *rest = "AUTH PLAIN " PLAIN_BAD "\r\nNOOP\r\n";
    size_t used = smtp_session_feed(s, rest, strlen(rest));
    assert_int_equal(used, strlen("AUTH PLAIN " PLAIN_BAD "\r\n"));
    assert_true(smtp_session_auth_pending(s));
    assert_int_equal(smtp_session_output(s).length, 0);
    assert_int_equal(smtp_session_feed(s, "NOOP\r\n", 6), 0);
    assert_null(smtp_session_auth_account(s));

    smtp_session_auth_result(s, SMTP_AUTH_FAIL);
    assert_false(smtp_session_auth_pending(s));
    smtp_output out = smtp_session_output(s);
    assert_int_equal(out.delay_ms, 1000);
    assert_memory_equal(out.bytes, "535 5.7.8", 9);
    smtp_session_auth_result(s, SMTP_AUTH_OK); /* nothing awaited: ignored */
    assert_null(smtp_session_auth_account(s));
    test_feeds(t, s, "NOOP\r\n");

    /* Two more failures the same way reach the limit: 421, closed. */
    for (int i = 0; i < 2; i++) {
        smtp_session_feed(s, "AUTH PLAIN " PLAIN_BAD "\r\n",
                          strlen("AUTH PLAIN " PLAIN_BAD "\r\n"));
        smtp_session_auth_result(s, SMTP_AUTH_FAIL);
        test_feeds(t, s, "");
    }
    assert_non_null(strstr(t->output, "421 4.7.0 Too many authentication failures"));
    assert_true(t->closed);
    smtp_session_destroy(s);

    /* A success names the account; a session closed while waiting ignores the verdict. */
    test_host_free(t);
    test_host_init(t);
    t->auth_pending = true;
    s = test_session(t);
    test_feeds(t, s, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n");
    smtp_session_auth_result(s, SMTP_AUTH_OK);
    assert_string_equal(smtp_session_auth_account(s), "alice");
    assert_non_null(strstr(test_feeds(t, s, ""), "235 2.7.0"));
    smtp_session_destroy(s);

    test_host_free(t);
    test_host_init(t);
    t->auth_pending = true;
    s = test_session(t);
    test_feeds(t, s, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n");
    smtp_session_shutdown(s);
    smtp_session_auth_result(s, SMTP_AUTH_OK);
    assert_null(smtp_session_auth_account(s));
    assert_null(strstr(test_feeds(t, s, ""), "235"));
    smtp_session_destroy(s);
}

static void auth_is_refused_out_of_sequence(void **state)
{
    test_host *t = *state;
    const char *out =
            test_conversation(t,
                              "AUTH PLAIN " PLAIN_GOOD "\r\n"
                              "HELO c\r\n"
                              "AUTH PLAIN " PLAIN_GOOD "\r\n" EHLO "MAIL FROM:<a@b.org>\r\n"
                              "AUTH PLAIN " PLAIN_GOOD "\r\n"
                              "RSET\r\n"
                              "AUTH CRAM-MD5\r\n"
                              "AUTH\r\n"
                              "AUTH PLAIN a b\r\n",
                              0);
    assert_non_null(strstr(out, "ready\r\n503 5.5.1 Send EHLO first\r\n"
                                "250 mx.example.com Hello c\r\n"
                                "503 5.5.1 Send EHLO first\r\n"));
    assert_string_equal(AFTER_EHLO(out),
                        "250 2.1.0 Sender <a@b.org> OK\r\n"
                        "503 5.5.1 AUTH not permitted during a mail transaction\r\n"
                        "250 2.0.0 OK\r\n"
                        "504 5.5.4 Unrecognized authentication mechanism\r\n"
                        "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n"
                        "501 5.5.4 Syntax: AUTH mechanism [initial-response]\r\n");
    assert_int_equal(t->auth_calls, 0);
}

static void overlong_credentials_fail_without_reaching_the_host(void **state)
{
    test_host *t = *state;
    /* base64 of 256 'a' (one more than SMTP_CREDENTIAL_MAX) as the LOGIN user name. */
    char user[400];
    size_t n = 0;
    for (int i = 0; i < 85; i++) {
        memcpy(user + n, "YWFh", 4);
        n += 4;
    }
    memcpy(user + n, "YQ==", 5); /* 85 * 3 + 1 = 256 */
    char input[600];
    snprintf(input, sizeof input, EHLO "AUTH LOGIN %s\r\n", user);
    const char *out = test_conversation(t, input, 0);
    assert_string_equal(AFTER_EHLO(out), "535 5.7.8 Authentication credentials invalid\r\n");
    assert_int_equal(t->auth_calls, 0);
    assert_int_equal(t->delays[0], 1000);
}

static void a_bad_line_during_auth_ends_the_exchange(void **state)
{
    test_host *t = *state;
    t->host.limits.max_line_length = 512;
    char input[2048];
    char junk[1000];
    memset(junk, 'A', 900);
    junk[900] = '\0';
    snprintf(input, sizeof input, EHLO "AUTH PLAIN\r\n%s\r\nAUTH LOGIN\r\nx\nNOOP\r\n", junk);
    const char *out = test_conversation(t, input, 0);
    assert_string_equal(AFTER_EHLO(out), "334 \r\n500 5.5.2 Line too long\r\n"
                                         "334 VXNlcm5hbWU6\r\n500 5.5.2 Line must end in CRLF\r\n"
                                         "250 2.0.0 OK\r\n");
    assert_null(strstr(t->log, "AAAA"));
}

static void without_a_credential_callback_auth_is_not_offered(void **state)
{
    test_host *t = *state;
    t->host.auth_check = NULL;
    const char *out = test_conversation(t, EHLO "AUTH PLAIN " PLAIN_GOOD "\r\n", 0);
    assert_null(strstr(out, "AUTH PLAIN LOGIN"));
    assert_non_null(strstr(out, "502 5.5.1 AUTH not available\r\n"));
}

static void base64_is_strict(void **state)
{
    (void)state;
    uint8_t out[16];
    size_t n = 99;
    assert_true(smtp_base64_decode("", 0, out, sizeof out, &n));
    assert_int_equal(n, 0);
    assert_true(smtp_base64_decode("YWxpY2U=", 8, out, sizeof out, &n));
    assert_int_equal(n, 5);
    assert_memory_equal(out, "alice", 5);
    assert_true(smtp_base64_decode("YQ==", 4, out, sizeof out, &n));
    assert_int_equal(n, 1);
    assert_true(smtp_base64_decode("+/+/", 4, out, sizeof out, &n));
    assert_int_equal(n, 3);
    static const char *const bad[] = {"YWxpY2U", "YWxpY2U==",  "YQ=",  "Y===",  "====", "YQ==YQ==",
                                      "YW xp",   "YWx\npY2U=", "YR==", "YWE==", "YW-_", "YW=h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (smtp_base64_decode(bad[i], strlen(bad[i]), out, sizeof out, &n)) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
    /* The output bound is enforced. */
    assert_false(smtp_base64_decode("YWxpY2U=", 8, out, 4, &n));
    assert_true(smtp_base64_decode("YWxpY2U=", 8, out, 5, &n));
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
            T(plain_with_initial_response_succeeds),
            T(plain_after_an_empty_challenge_succeeds),
            T(plain_for_someone_else_fails),
            T(login_succeeds_with_and_without_initial_response),
            T(equals_sign_is_the_empty_response),
            T(star_cancels_at_every_step_and_is_not_a_failure),
            T(undecodable_responses_get_501),
            T(an_empty_line_after_334_is_the_empty_response),
            T(failures_are_delayed_more_each_time_and_the_third_closes),
            T(pipelined_attempts_wait_for_each_delay),
            T(limits_for_failures_and_delay_come_from_the_host),
            T(temporary_failure_is_454_and_not_counted),
            T(auth_is_refused_out_of_sequence),
            T(a_pending_verdict_holds_the_session_then_counts),
            T(overlong_credentials_fail_without_reaching_the_host),
            T(a_bad_line_during_auth_ends_the_exchange),
            T(without_a_credential_callback_auth_is_not_offered),
            cmocka_unit_test(base64_is_strict),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
