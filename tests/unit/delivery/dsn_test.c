/* Delivery status notifications, parsed back: every field RFC 3464 requires, a boundary
 * found nowhere in the content, a hostile remote reply that cannot inject a line, and the
 * rule that a null sender never gets one. */
#include "dsn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

typedef struct counter {
    uint32_t next;
    uint32_t step;
} counter;

static uint32_t count_up(void *context)
{
    counter *c = context;
    uint32_t v = c->next;
    c->next += c->step;
    return v;
}

static const char original[] = "Received: from client.example.org ([192.0.2.7])\r\n"
                               "\tby mx.example.com (imsrelay) with ESMTP id 01DA; "
                               "Tue, 5 Mar 2024 10:11:12 +0000\r\n"
                               "From: Alice <alice@example.org>\r\n"
                               "Subject: quarterly figures\r\n"
                               "\r\n"
                               "Hello Bob,\r\n"
                               "the figures are attached.\r\n";

static const char hostile[] = "550-5.1.1 <bob@example.net>: no such user\r\n"
                              "550-\r\n--=_imsrelay_0000000100000002_=\r\n"
                              "From: evil@example.net\r\n\r\n.\r\n"
                              "550 5.1.1\tbye\x01\xff";

static dsn_recipient recipients[2];
static counter rng;

static dsn_report sample(void)
{
    recipients[0] = (dsn_recipient){"bob@example.net",
                                    DSN_ACTION_FAILED,
                                    "5.1.1",
                                    "mx2.example.net",
                                    hostile,
                                    "Tue, 05 Mar 2024 10:15:00 +0000",
                                    NULL};
    recipients[1] = (dsn_recipient){"carol@example.com",
                                    DSN_ACTION_FAILED,
                                    "4.4.7",
                                    NULL,
                                    "message expired: connect to "
                                    "mx.example.com timed out",
                                    NULL,
                                    NULL};
    rng = (counter){1, 1};
    dsn_report r = {.reporting_host = "mx.example.com",
                    .original_sender = "alice@example.org",
                    .date = "Wed, 06 Mar 2024 10:11:12 +0000",
                    .message_id = "01DA.dsn@mx.example.com",
                    .arrival_date = "Tue, 05 Mar 2024 10:11:12 +0000",
                    .recipients = recipients,
                    .recipient_count = 2,
                    .original = original,
                    .original_size = sizeof(original) - 1,
                    .return_full_max = 1024 * 1024,
                    .random = count_up,
                    .random_context = &rng};
    return r;
}

/* The value of header field `name` in a block of CRLF lines, unfolded; NULL if absent. */
static char *field(const char *block, size_t len, const char *name, char *out, size_t size)
{
    size_t name_len = strlen(name);
    for (size_t i = 0; i + name_len < len; i++) {
        if ((i == 0 || block[i - 1] == '\n') && strncmp(block + i, name, name_len) == 0 &&
            block[i + name_len] == ':') {
            size_t n = 0;
            size_t j = i + name_len + 1;
            while (j < len && block[j] == ' ') {
                j++;
            }
            for (; j < len && n + 1 < size; j++) {
                if (block[j] == '\r' && block[j + 1] == '\n') {
                    if (block[j + 2] != ' ' && block[j + 2] != '\t') {
                        break;
                    }
                    j += 2; /* unfold: CRLF goes, the white space stays */
                }
                out[n++] = block[j];
            }
            out[n] = '\0';
            return out;
        }
    }
    return NULL;
}

static void every_line_is_crlf_and_short(const char *text, size_t len)
{
    size_t column = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            assert_true(i > 0 && text[i - 1] == '\r');
            column = 0;
            continue;
        }
        if (text[i] == '\r') {
            assert_true(i + 1 < len && text[i + 1] == '\n');
        }
        assert_true(text[i] != '\0');
        column++;
        assert_true(column <= 998);
    }
}

typedef struct parts {
    char boundary[64];
    const char *part[3];
    size_t part_len[3];
} parts;

static parts split(const char *dsn, size_t len)
{
    parts p;
    char ct[256];
    const char *end_of_header = strstr(dsn, "\r\n\r\n");
    assert_non_null(end_of_header);
    assert_non_null(field(dsn, (size_t)(end_of_header - dsn) + 2, "Content-Type", ct, sizeof(ct)));
    assert_non_null(strstr(ct, "multipart/report; report-type=delivery-status;"));
    const char *b = strstr(ct, "boundary=\"");
    assert_non_null(b);
    b += 10;
    size_t bl = (size_t)(strchr(b, '"') - b);
    char delimiter[80];
    snprintf(delimiter, sizeof(delimiter), "\r\n--%.*s", (int)bl, b);
    snprintf(p.boundary, sizeof(p.boundary), "%.*s", (int)bl, b);
    const char *at = dsn;
    for (int i = 0; i < 3; i++) {
        at = strstr(at, delimiter);
        assert_non_null(at);
        at += strlen(delimiter);
        assert_memory_equal(at, "\r\n", 2);
        at += 2;
        const char *next = strstr(at, delimiter);
        assert_non_null(next);
        p.part[i] = at;
        p.part_len[i] = (size_t)(next - at);
    }
    /* The close delimiter ends the message, and the boundary appears nowhere else. */
    char close[90];
    snprintf(close, sizeof(close), "%s--\r\n", delimiter);
    assert_string_equal(dsn + len - strlen(close), close);
    size_t count = 0;
    for (const char *s = dsn; (s = strstr(s, p.boundary)) != NULL; s++) {
        count++;
    }
    assert_int_equal(count, 5); /* the parameter, three delimiters, the close */
    return p;
}

static void a_failure_report_has_every_field(void **state)
{
    (void)state;
    dsn_report r = sample();
    static char out[64 * 1024];
    size_t len = dsn_build(&r, out, sizeof(out));
    assert_true(len > 0);
    assert_int_equal(len, strlen(out));
    every_line_is_crlf_and_short(out, len);
    char v[2048];
    size_t header_len = (size_t)(strstr(out, "\r\n\r\n") - out) + 2;
    assert_string_equal(field(out, header_len, "From", v, sizeof(v)),
                        "Mail Delivery System <MAILER-DAEMON@mx.example.com>");
    assert_string_equal(field(out, header_len, "To", v, sizeof(v)), "<alice@example.org>");
    assert_string_equal(field(out, header_len, "Subject", v, sizeof(v)),
                        "Undelivered Mail Returned to Sender");
    assert_string_equal(field(out, header_len, "Date", v, sizeof(v)),
                        "Wed, 06 Mar 2024 10:11:12 +0000");
    assert_string_equal(field(out, header_len, "Message-ID", v, sizeof(v)),
                        "<01DA.dsn@mx.example.com>");
    assert_string_equal(field(out, header_len, "Auto-Submitted", v, sizeof(v)), "auto-replied");
    assert_string_equal(field(out, header_len, "MIME-Version", v, sizeof(v)), "1.0");

    parts p = split(out, len);
    /* The hostile reply held the first boundary this generator gives: it was skipped. */
    assert_string_equal(p.boundary, "=_imsrelay_0000000300000004_=");
    assert_non_null(field(p.part[0], p.part_len[0], "Content-Type", v, sizeof(v)));
    assert_string_equal(v, "text/plain; charset=us-ascii");
    assert_non_null(strstr(p.part[0], "<bob@example.net>: failed, host mx2.example.net said:"));

    const char *st = p.part[1];
    size_t sl = p.part_len[1];
    assert_string_equal(field(st, sl, "Content-Type", v, sizeof(v)), "message/delivery-status");
    assert_string_equal(field(st, sl, "Reporting-MTA", v, sizeof(v)), "dns; mx.example.com");
    assert_string_equal(field(st, sl, "Arrival-Date", v, sizeof(v)),
                        "Tue, 05 Mar 2024 10:11:12 +0000");
    const char *first = strstr(st, "\r\n\r\nFinal-Recipient:") + 4;
    const char *second = strstr(first, "\r\n\r\nFinal-Recipient:") + 4;
    assert_true(second > first + 4 && second < st + sl);
    size_t fl = (size_t)(second - first);
    assert_string_equal(field(first, fl, "Final-Recipient", v, sizeof(v)),
                        "rfc822; bob@example.net");
    assert_string_equal(field(first, fl, "Action", v, sizeof(v)), "failed");
    assert_string_equal(field(first, fl, "Status", v, sizeof(v)), "5.1.1");
    assert_string_equal(field(first, fl, "Remote-MTA", v, sizeof(v)), "dns; mx2.example.net");
    assert_string_equal(field(first, fl, "Last-Attempt-Date", v, sizeof(v)),
                        "Tue, 05 Mar 2024 10:15:00 +0000");
    /* The reply, on one logical line: its line breaks are spaces now, nothing injected. */
    assert_string_equal(field(first, fl, "Diagnostic-Code", v, sizeof(v)),
                        "smtp; 550-5.1.1 <bob@example.net>: no such user 550- "
                        "--=_imsrelay_0000000100000002_= From: evil@example.net . 550 "
                        "5.1.1 bye ?");
    assert_null(strstr(out, "\nFrom: evil"));
    assert_null(strstr(out, "\n.\r\n"));
    size_t rest = (size_t)(st + sl - second);
    assert_string_equal(field(second, rest, "Final-Recipient", v, sizeof(v)),
                        "rfc822; carol@example.com");
    assert_string_equal(field(second, rest, "Status", v, sizeof(v)), "4.4.7");
    assert_null(field(second, rest, "Remote-MTA", v, sizeof(v)));
    assert_null(field(second, rest, "Last-Attempt-Date", v, sizeof(v)));
    assert_string_equal(field(second, rest, "Diagnostic-Code", v, sizeof(v)),
                        "X-imsrelay; message expired: connect to mx.example.com timed out");

    /* The whole original, byte for byte. */
    assert_string_equal(field(p.part[2], p.part_len[2], "Content-Type", v, sizeof(v)),
                        "message/rfc822");
    const char *body = strstr(p.part[2], "\r\n\r\n") + 4;
    assert_int_equal(p.part[2] + p.part_len[2] - body, sizeof(original) - 1);
    assert_memory_equal(body, original, sizeof(original) - 1);
}

static void large_originals_return_their_header_only(void **state)
{
    (void)state;
    dsn_report r = sample();
    r.return_full_max = 100; /* smaller than the original */
    static char out[64 * 1024];
    size_t len = dsn_build(&r, out, sizeof(out));
    assert_true(len > 0);
    parts p = split(out, len);
    char v[256];
    assert_string_equal(field(p.part[2], p.part_len[2], "Content-Type", v, sizeof(v)),
                        "text/rfc822-headers");
    const char *headers = strstr(p.part[2], "\r\n\r\n") + 4;
    size_t expected = (size_t)(strstr(original, "\r\n\r\n") - original) + 2;
    assert_int_equal(p.part[2] + p.part_len[2] - headers, expected);
    assert_memory_equal(headers, original, expected);
    assert_null(strstr(out, "the figures are attached"));

    /* A buffer too small for the whole original falls back to the header alone. */
    r = sample();
    size_t whole = dsn_build(&r, out, sizeof(out));
    r = sample();
    size_t fallback = dsn_build(&r, out, whole);
    assert_true(fallback > 0 && fallback < whole);
    assert_null(strstr(out, "the figures are attached"));
    r = sample();
    assert_int_equal(dsn_build(&r, out, 200), 0);
    assert_string_equal(out, "");
}

static uint32_t stuck(void *context)
{
    (void)context;
    return 7;
}

static void a_boundary_found_in_the_content_is_never_used(void **state)
{
    (void)state;
    dsn_report r = sample();
    r.random = stuck; /* always the same boundary, which the original contains */
    char content[256];
    snprintf(content, sizeof(content), "Subject: x\r\n\r\n--=_imsrelay_0000000700000007_=\r\n");
    r.original = content;
    r.original_size = strlen(content);
    static char out[64 * 1024];
    assert_int_equal(dsn_build(&r, out, sizeof(out)), 0);
    /* With a working generator the same content is fine. */
    r.random = count_up;
    rng = (counter){7, 0x01000000};
    assert_true(dsn_build(&r, out, sizeof(out)) > 0);
}

static void a_delay_report(void **state)
{
    (void)state;
    dsn_report r = sample();
    recipients[0] = (dsn_recipient){"bob@example.net",
                                    DSN_ACTION_DELAYED,
                                    "4.7.0",
                                    "mx2.example.net",
                                    "421 4.7.0 greylisted, try again later",
                                    "Tue, 05 Mar 2024 14:00:00 +0000",
                                    "Sun, 10 Mar 2024 10:11:12 +0000"};
    r.recipient_count = 1;
    static char out[64 * 1024];
    size_t len = dsn_build(&r, out, sizeof(out));
    assert_true(len > 0);
    char v[512];
    size_t header_len = (size_t)(strstr(out, "\r\n\r\n") - out) + 2;
    assert_string_equal(field(out, header_len, "Subject", v, sizeof(v)),
                        "Delayed Mail (still being retried)");
    parts p = split(out, len);
    assert_string_equal(field(p.part[1], p.part_len[1], "Action", v, sizeof(v)), "delayed");
    assert_string_equal(field(p.part[1], p.part_len[1], "Will-Retry-Until", v, sizeof(v)),
                        "Sun, 10 Mar 2024 10:11:12 +0000");
    assert_non_null(strstr(p.part[0], "will keep trying"));
}

static void long_replies_are_folded_and_bounded(void **state)
{
    (void)state;
    char reply[4000];
    size_t n = 0;
    while (n + 10 < sizeof(reply)) {
        n += (size_t)snprintf(reply + n, sizeof(reply) - n, "word%03zu ", n % 1000);
    }
    dsn_report r = sample();
    recipients[0].diagnostic = reply;
    static char out[64 * 1024];
    size_t len = dsn_build(&r, out, sizeof(out));
    assert_true(len > 0);
    every_line_is_crlf_and_short(out, len);
    parts p = split(out, len);
    char v[2048];
    assert_non_null(field(p.part[1], p.part_len[1], "Diagnostic-Code", v, sizeof(v)));
    assert_true(strlen(v) <= strlen("smtp; ") + DSN_DIAGNOSTIC_MAX);
    assert_true(strlen(v) > 800);
    assert_memory_equal(v, "smtp; word000 word008", 21);
    /* Folded: no line of the status part is longer than 78 characters. */
    const char *line = p.part[1];
    while (line < p.part[1] + p.part_len[1]) {
        const char *eol = strstr(line, "\r\n");
        assert_true(eol - line <= 78);
        line = eol + 2;
    }
}

static void invalid_reports_are_refused(void **state)
{
    (void)state;
    static char out[4096];
    dsn_report r = sample();
    r.recipient_count = 0;
    assert_int_equal(dsn_build(&r, out, sizeof(out)), 0);
    r = sample();
    r.random = NULL;
    assert_int_equal(dsn_build(&r, out, sizeof(out)), 0);
    r = sample();
    assert_int_equal(dsn_build(&r, out, 0), 0);
}

static void when_a_dsn_is_due(void **state)
{
    (void)state;
    queue_state_recipient r = {0};
    r.status = QUEUE_STATE_FAILED;
    assert_true(dsn_due("alice@example.org", DSN_ACTION_FAILED, &r, 0, 0));
    assert_false(dsn_due("", DSN_ACTION_FAILED, &r, 0, 0));
    assert_false(dsn_due(NULL, DSN_ACTION_FAILED, &r, 0, 0));
    r.failure_dsn_sent = true;
    assert_false(dsn_due("alice@example.org", DSN_ACTION_FAILED, &r, 0, 0));
    r = (queue_state_recipient){0};
    r.status = QUEUE_STATE_DEFERRED;
    r.first_queued = 1000;
    assert_false(dsn_due("alice@example.org", DSN_ACTION_FAILED, &r, 99999, 3600));
    assert_false(dsn_due("alice@example.org", DSN_ACTION_DELAYED, &r, 1000 + 3599, 3600));
    assert_true(dsn_due("alice@example.org", DSN_ACTION_DELAYED, &r, 1000 + 3600, 3600));
    assert_false(dsn_due("", DSN_ACTION_DELAYED, &r, 1000 + 3600, 3600));
    assert_false(dsn_due("alice@example.org", DSN_ACTION_DELAYED, &r, 1000 + 3600, 0));
    assert_false(dsn_due("alice@example.org", DSN_ACTION_DELAYED, &r, 500, 3600));
    r.delay_dsn_sent = true;
    assert_false(dsn_due("alice@example.org", DSN_ACTION_DELAYED, &r, 1000 + 3600, 3600));
    r.delay_dsn_sent = false;
    r.status = QUEUE_STATE_DONE;
    assert_false(dsn_due("alice@example.org", DSN_ACTION_DELAYED, &r, 1000 + 3600, 3600));
}

static void dates(void **state)
{
    (void)state;
    char text[DSN_DATE_MAX];
    dsn_format_date(0, text, sizeof(text));
    assert_string_equal(text, "Thu, 01 Jan 1970 00:00:00 +0000");
    dsn_format_date(1709633472, text, sizeof(text));
    assert_string_equal(text, "Tue, 05 Mar 2024 10:11:12 +0000");
    dsn_format_date(951782400, text, sizeof(text));
    assert_string_equal(text, "Tue, 29 Feb 2000 00:00:00 +0000");
    dsn_format_date(4102444799u, text, sizeof(text));
    assert_string_equal(text, "Thu, 31 Dec 2099 23:59:59 +0000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(a_failure_report_has_every_field),
            cmocka_unit_test(large_originals_return_their_header_only),
            cmocka_unit_test(a_boundary_found_in_the_content_is_never_used),
            cmocka_unit_test(a_delay_report),
            cmocka_unit_test(long_replies_are_folded_and_bounded),
            cmocka_unit_test(invalid_reports_are_refused),
            cmocka_unit_test(when_a_dsn_is_due),
            cmocka_unit_test(dates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
