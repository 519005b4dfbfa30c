/* The reply parser: multi-line replies, enhanced status codes, bounds, malformed input,
 * and the same result in every chunking. */
#include "smtp_reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* Feeds in[0..len) in pieces of `chunk` bytes (0 = whole) until a reply completes or an
 * error. Returns the result; *used = bytes consumed. */
static smtp_reply_result parse_chunked(smtp_reply_parser *p, const char *in, size_t len,
                                       size_t chunk, size_t *used)
{
    size_t pos = 0;
    while (pos < len) {
        size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
        size_t consumed = 0;
        smtp_reply_result r = smtp_reply_parse(p, in + pos, n, &consumed);
        pos += consumed;
        if (r != SMTP_REPLY_NEED_MORE) {
            *used = pos;
            return r;
        }
        assert_int_equal(consumed, n);
    }
    *used = pos;
    return SMTP_REPLY_NEED_MORE;
}

static void multi_line_reply_in_every_chunking(void **state)
{
    (void)state;
    static const char in[] = "250-mx.example.net hello\r\n250-PIPELINING\r\n250-SIZE 1000\r\n"
                             "250 8BITMIME\r\n354 next";
    for (size_t chunk = 0; chunk < sizeof in; chunk++) {
        smtp_reply_parser p;
        size_t used;
        smtp_reply_parser_init(&p);
        assert_int_equal(parse_chunked(&p, in, sizeof in - 1, chunk, &used), SMTP_REPLY_COMPLETE);
        assert_int_equal(used, sizeof in - 1 - strlen("354 next"));
        const smtp_reply *r = smtp_reply_parser_reply(&p);
        assert_int_equal(r->code, 250);
        assert_int_equal(r->line_count, 4);
        assert_false(r->truncated);
        assert_int_equal(r->status.klass, 0);
        assert_string_equal(r->text, "mx.example.net hello\nPIPELINING\nSIZE 1000\n8BITMIME");
        assert_int_equal(r->text_length, strlen(r->text));
    }
}

static void consecutive_replies_come_one_at_a_time(void **state)
{
    (void)state;
    static const char in[] = "250 2.1.0 ok\r\n550 5.1.1 <b@x>: no such user\r\n354 go ahead\r\n";
    smtp_reply_parser p;
    smtp_reply_parser_init(&p);
    size_t pos = 0, used;
    char status[SMTP_STATUS_TEXT_MAX];
    const uint16_t codes[] = {250, 550, 354};
    const char *const statuses[] = {"2.1.0", "5.1.1", ""};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(smtp_reply_parse(&p, in + pos, sizeof in - 1 - pos, &used),
                         SMTP_REPLY_COMPLETE);
        pos += used;
        assert_int_equal(smtp_reply_parser_reply(&p)->code, codes[i]);
        smtp_status_format(smtp_reply_parser_reply(&p)->status, status);
        assert_string_equal(status, statuses[i]);
    }
    assert_int_equal(pos, sizeof in - 1);
    assert_string_equal(smtp_reply_parser_reply(&p)->text, "go ahead");
}

static void enhanced_status_code_only_when_well_formed(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        const char *status;
    } cases[] = {
            {"550 5.7.1 relaying denied\r\n", "5.7.1"},
            {"452 4.5.3 too many\r\n", "4.5.3"},
            {"250 2.0.0\r\n", "2.0.0"},               /* the code alone */
            {"550 5.123.999 x\r\n", "5.123.999"},     /* three digits each */
            {"550 4.1.1 class differs\r\n", ""},      /* must match the code's class */
            {"550 5.1.1234 too many digits\r\n", ""}, /* not x.y.z */
            {"550 5.1 short\r\n", ""},
            {"550 3.1.1 bad class\r\n", ""},
            {"550 5.1.1x glued\r\n", ""},
            {"550 no status here\r\n", ""},
            {"550-5.1.1 first line has it\r\n550 second\r\n", "5.1.1"},
            {"550-first line does not\r\n550 5.1.1 second\r\n", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        smtp_reply_parser p;
        size_t used;
        char status[SMTP_STATUS_TEXT_MAX];
        smtp_reply_parser_init(&p);
        assert_int_equal(parse_chunked(&p, cases[i].in, strlen(cases[i].in), 0, &used),
                         SMTP_REPLY_COMPLETE);
        smtp_status_format(smtp_reply_parser_reply(&p)->status, status);
        assert_string_equal(status, cases[i].status);
    }
}

static void code_without_text_and_bare_lf_are_accepted(void **state)
{
    (void)state;
    smtp_reply_parser p;
    size_t used;
    smtp_reply_parser_init(&p);
    assert_int_equal(parse_chunked(&p, "250\r\n", 5, 1, &used), SMTP_REPLY_COMPLETE);
    assert_int_equal(smtp_reply_parser_reply(&p)->code, 250);
    assert_string_equal(smtp_reply_parser_reply(&p)->text, "");

    /* Bare LF ends a line too (documented leniency); a CR before LF is dropped. */
    smtp_reply_parser_init(&p);
    static const char lf[] = "250-a\n250-b\r\n250 c\n";
    assert_int_equal(parse_chunked(&p, lf, sizeof lf - 1, 1, &used), SMTP_REPLY_COMPLETE);
    assert_int_equal(used, sizeof lf - 1);
    assert_string_equal(smtp_reply_parser_reply(&p)->text, "a\nb\nc");
    assert_int_equal(smtp_reply_parser_reply(&p)->line_count, 3);
}

static void control_characters_in_text_become_question_marks(void **state)
{
    (void)state;
    smtp_reply_parser p;
    size_t used;
    static const char in[] = "550 a\tb\x1b[31mc\x7f\xc3\xa9\r\n";
    smtp_reply_parser_init(&p);
    assert_int_equal(parse_chunked(&p, in, sizeof in - 1, 0, &used), SMTP_REPLY_COMPLETE);
    assert_string_equal(smtp_reply_parser_reply(&p)->text, "a\tb?[31mc?\xc3\xa9");
}

static void malformed_replies_are_errors(void **state)
{
    (void)state;
    static const struct {
        const char *in;
        size_t len;
        smtp_reply_error error;
    } cases[] = {
            {"25\r\n", 4, SMTP_REPLY_BAD_CODE},
            {"2500 x\r\n", 8, SMTP_REPLY_BAD_SEPARATOR},
            {"25O ok\r\n", 8, SMTP_REPLY_BAD_CODE},
            {"150 one-hundreds are not SMTP\r\n", 31, SMTP_REPLY_BAD_CODE},
            {"650 x\r\n", 7, SMTP_REPLY_BAD_CODE},
            {" 250 x\r\n", 8, SMTP_REPLY_BAD_CODE},
            {"\r\n", 2, SMTP_REPLY_BAD_CODE},
            {"250_x\r\n", 7, SMTP_REPLY_BAD_SEPARATOR},
            {"250-a\r\n251 b\r\n", 14, SMTP_REPLY_CODE_MISMATCH},
            {"250-a\r\n550 b\r\n", 14, SMTP_REPLY_CODE_MISMATCH},
            {"250 a\0b\r\n", 9, SMTP_REPLY_NUL},
            {"250 a\rb\r\n", 9, SMTP_REPLY_BARE_CR},
            {"250 a\r\r\n", 8, SMTP_REPLY_BARE_CR},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t chunk = 0; chunk < 3; chunk++) {
            smtp_reply_parser p;
            size_t used;
            smtp_reply_parser_init(&p);
            assert_int_equal(parse_chunked(&p, cases[i].in, cases[i].len, chunk, &used),
                             SMTP_REPLY_ERROR);
            assert_int_equal(smtp_reply_parser_error(&p), cases[i].error);
            assert_true(strlen(smtp_reply_error_text(cases[i].error)) > 0);
            /* An error is for good: the stream is out of step. */
            assert_int_equal(smtp_reply_parse(&p, "250 ok\r\n", 8, &used), SMTP_REPLY_ERROR);
            assert_int_equal(used, 0);
        }
    }
}

static void long_lines_are_cut_and_too_long_lines_refused(void **state)
{
    (void)state;
    static char in[SMTP_REPLY_LINE_LIMIT + 16];
    smtp_reply_parser p;
    size_t used;

    /* A line at the limit: accepted, text cut at SMTP_REPLY_LINE_KEEP. */
    memcpy(in, "550 ", 4);
    memset(in + 4, 'x', SMTP_REPLY_LINE_LIMIT - 4);
    memcpy(in + SMTP_REPLY_LINE_LIMIT, "\r\n", 2);
    smtp_reply_parser_init(&p);
    assert_int_equal(parse_chunked(&p, in, SMTP_REPLY_LINE_LIMIT + 2, 7, &used),
                     SMTP_REPLY_COMPLETE);
    assert_int_equal(smtp_reply_parser_reply(&p)->text_length, SMTP_REPLY_LINE_KEEP);
    assert_true(smtp_reply_parser_reply(&p)->truncated);

    /* One byte more: refused. */
    memset(in + 4, 'x', SMTP_REPLY_LINE_LIMIT - 3);
    memcpy(in + SMTP_REPLY_LINE_LIMIT + 1, "\r\n", 2);
    smtp_reply_parser_init(&p);
    assert_int_equal(parse_chunked(&p, in, SMTP_REPLY_LINE_LIMIT + 3, 0, &used), SMTP_REPLY_ERROR);
    assert_int_equal(smtp_reply_parser_error(&p), SMTP_REPLY_LINE_TOO_LONG);
}

static void many_lines_are_kept_up_to_the_bound_then_refused(void **state)
{
    (void)state;
    /* 100-byte lines: 8 KiB of text is about 80 of them; the rest are read and dropped,
     * and past SMTP_REPLY_TOTAL_LIMIT the reply is refused. */
    char line[101];
    memcpy(line, "250-", 4);
    memset(line + 4, 'y', 95);
    memcpy(line + 99, "\r\n", 2);
    smtp_reply_parser p;
    size_t used, fed = 0;
    smtp_reply_parser_init(&p);
    for (int i = 0; i < 200; i++) {
        assert_int_equal(smtp_reply_parse(&p, line, sizeof line, &used), SMTP_REPLY_NEED_MORE);
        fed += used;
    }
    assert_int_equal(smtp_reply_parse(&p, "250 end\r\n", 9, &used), SMTP_REPLY_COMPLETE);
    const smtp_reply *r = smtp_reply_parser_reply(&p);
    assert_int_equal(r->line_count, 201);
    assert_true(r->truncated);
    assert_int_equal(r->text_length, SMTP_REPLY_TEXT_MAX);
    assert_int_equal(strlen(r->text), SMTP_REPLY_TEXT_MAX);

    smtp_reply_parser_init(&p);
    smtp_reply_result result = SMTP_REPLY_NEED_MORE;
    fed = 0;
    while (result == SMTP_REPLY_NEED_MORE && fed < 2 * SMTP_REPLY_TOTAL_LIMIT) {
        result = smtp_reply_parse(&p, line, sizeof line, &used);
        fed += used;
    }
    assert_int_equal(result, SMTP_REPLY_ERROR);
    assert_int_equal(smtp_reply_parser_error(&p), SMTP_REPLY_REPLY_TOO_LONG);
    assert_int_equal(fed, SMTP_REPLY_TOTAL_LIMIT + 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(multi_line_reply_in_every_chunking),
            cmocka_unit_test(consecutive_replies_come_one_at_a_time),
            cmocka_unit_test(enhanced_status_code_only_when_well_formed),
            cmocka_unit_test(code_without_text_and_bare_lf_are_accepted),
            cmocka_unit_test(control_characters_in_text_become_question_marks),
            cmocka_unit_test(malformed_replies_are_errors),
            cmocka_unit_test(long_lines_are_cut_and_too_long_lines_refused),
            cmocka_unit_test(many_lines_are_kept_up_to_the_bound_then_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
