/* DATA: dot-unstuffing, the only real end of data, and SMTP smuggling. */
#include "smtp_data.h"
#include "smtp_test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

typedef struct sink_buf {
    char bytes[4096];
    size_t len;
} sink_buf;

static void sink(void *ctx, const uint8_t *bytes, size_t len)
{
    sink_buf *b = ctx;
    assert_true(len > 0);
    assert_true(b->len + len < sizeof b->bytes);
    memcpy(b->bytes + b->len, bytes, len);
    b->len += len;
}

/* memmem, which C11 and mingw lack; the body may hold a NUL. */
static bool contains(const char *hay, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++) {
        if (memcmp(hay + i, needle, n) == 0) {
            return true;
        }
    }
    return false;
}

/* Decodes in chunks of `chunk` bytes; returns the bytes consumed up to the end (or all). */
static size_t decode(const char *in, size_t len, size_t chunk, sink_buf *out, smtp_data_decoder *d,
                     bool *ended)
{
    smtp_data_decoder_init(d);
    memset(out, 0, sizeof *out);
    size_t pos = 0;
    *ended = false;
    while (pos < len && !*ended) {
        size_t n = chunk == 0 || chunk > len - pos ? len - pos : chunk;
        size_t used = smtp_data_decode(d, (const uint8_t *)in + pos, n, sink, out, ended);
        assert_true(used == n || *ended);
        pos += used;
    }
    return pos;
}

static void dot_stuffing_is_removed_in_any_chunking(void **state)
{
    (void)state;
    static const char in[] = "a\r\n..b\r\n.c\r\n...\r\n\r\n.\r\nNOOP\r\n";
    for (size_t chunk = 0; chunk < 8; chunk++) {
        sink_buf out;
        smtp_data_decoder d;
        bool ended;
        size_t used = decode(in, sizeof in - 1, chunk, &out, &d, &ended);
        assert_true(ended);
        assert_int_equal(used, sizeof in - 1 - strlen("NOOP\r\n"));
        out.bytes[out.len] = '\0';
        assert_string_equal(out.bytes, "a\r\n.b\r\nc\r\n..\r\n\r\n");
        assert_false(d.bare_cr);
        assert_false(d.bare_lf);
    }
}

static void empty_message_ends_at_once(void **state)
{
    (void)state;
    sink_buf out;
    smtp_data_decoder d;
    bool ended;
    assert_int_equal(decode(".\r\nrest", 7, 0, &out, &d, &ended), 3);
    assert_true(ended);
    assert_int_equal(out.len, 0);
}

/* The line-break shapes around a dot that some servers take for the end of data. */
static const struct {
    const char *name;
    const char *bytes;
    size_t len;
    bool bare; /* contains a bare CR or LF, so the message is refused */
} variants[] = {
#define V(name, s, bare)                                                                           \
    {                                                                                              \
        name, s, sizeof s - 1, bare                                                                \
    }
        V("LF.LF", "\n.\n", true),
        V("CR.CR", "\r.\r", true),
        V("CR.LF", "\r.\n", true),
        V("LF.CR", "\n.\r", true),
        V("LF.CRLF", "\n.\r\n", true),
        V("CRLF.LF", "\r\n.\n", true),
        V("CR.CRLF", "\r.\r\n", true),
        V("CRLF.CR", "\r\n.\r", true),
        V("CRLF NUL.CRLF", "\r\n\0.\r\n", false),
        V("LF.LF (after CRLF)", "\r\n\n.\n", true),
        V("CRLF.CR CR LF", "\r\n.\r\r\n", true),
        V("CRLF.SP CRLF", "\r\n. \r\n", false),
#undef V
};
#define NVARIANTS (sizeof variants / sizeof variants[0])

static void no_variant_ends_the_data_in_the_decoder(void **state)
{
    (void)state;
    for (size_t v = 0; v < NVARIANTS; v++) {
        char in[128];
        size_t n = 0;
        memcpy(in + n, "hello", 5);
        n += 5;
        memcpy(in + n, variants[v].bytes, variants[v].len);
        n += variants[v].len;
        memcpy(in + n, "MAIL FROM:<x@y.z>", 17);
        n += 17;
        for (size_t chunk = 0; chunk < 4; chunk++) {
            sink_buf out;
            smtp_data_decoder d;
            bool ended;
            size_t used = decode(in, n, chunk, &out, &d, &ended);
            if (ended) {
                fail_msg("%s ended the data", variants[v].name);
            }
            assert_int_equal(used, n);
            assert_int_equal(d.bare_cr || d.bare_lf, variants[v].bare);
            assert_int_equal(d.nul, memchr(variants[v].bytes, 0, variants[v].len) != NULL);
        }
    }
}

/* Each variant inside a real session, followed by a smuggled transaction and then the real
 * end of data: exactly one transaction, no smuggled command executed, and the message is
 * refused when it holds a bare CR or LF. */
static void no_variant_smuggles_a_second_message(void **state)
{
    (void)state;
    static const char head[] = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\n"
                               "DATA\r\nSubject: one\r\n\r\nhello";
    static const char smuggled[] = "MAIL FROM:<evil@b.org>\r\nRCPT TO:<victim@example.com>\r\n"
                                   "DATA\r\nsmuggled\r\n";
    static const char tail[] = "\r\n.\r\nQUIT\r\n";
    for (size_t v = 0; v < NVARIANTS; v++) {
        char in[1024];
        size_t n = 0;
        memcpy(in + n, head, sizeof head - 1);
        n += sizeof head - 1;
        memcpy(in + n, variants[v].bytes, variants[v].len);
        n += variants[v].len;
        memcpy(in + n, smuggled, sizeof smuggled - 1);
        n += sizeof smuggled - 1;
        memcpy(in + n, tail, sizeof tail - 1);
        n += sizeof tail - 1;
        static const size_t chunks[] = {0, 1, 2, 3, 5};
        for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
            test_host *t = malloc(sizeof *t);
            test_host_init(t);
            smtp_session *s = test_session(t);
            test_feed(t, s, in, n, chunks[c]);
            smtp_session_destroy(s);
            if (t->begins != 1) {
                fail_msg("%s: %d transactions", variants[v].name, t->begins);
            }
            assert_int_equal(t->ends, 1);
            assert_null(strstr(t->log, "C: MAIL FROM:<evil"));
            assert_null(strstr(t->log, "C: RCPT TO:<victim"));
            assert_null(strstr(
                    t->log, "C: DATA\nS: 354 Start mail input; end with <CRLF>.<CRLF>\nC: DATA"));
            assert_null(strstr(strstr(t->output, "354 "), "250 2.1.0"));
            /* A variant with a NUL byte is refused for the NUL (refused all the same). */
            bool nul = memchr(variants[v].bytes, 0, variants[v].len) != NULL;
            bool refused = variants[v].bare || nul;
            const char *expected =
                    variants[v].bare
                            ? "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                              "550 5.6.0 Message contains a bare CR or LF; lines must end in "
                              "CRLF\r\n221 2.0.0 mx.example.com closing connection\r\n"
                    : nul ? "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                            "550 5.6.0 Message contains a NUL byte\r\n"
                            "221 2.0.0 mx.example.com closing connection\r\n"
                          : "354 Start mail input; end with <CRLF>.<CRLF>\r\n"
                            "250 2.0.0 Message accepted for delivery\r\n"
                            "221 2.0.0 mx.example.com closing connection\r\n";
            if (strstr(t->output, expected) == NULL) {
                fail_msg("%s (chunk %zu): %s", variants[v].name, chunks[c], t->output);
            }
            assert_int_equal(test_committed(t), refused ? 0 : 1);
            if (!refused) {
                /* The would-be second message is content of the first. */
                assert_true(contains(t->messages[0].body, t->messages[0].body_len,
                                     "\r\nMAIL FROM:<evil@b.org>\r\n"));
            }
            test_host_free(t);
            free(t);
        }
    }
}

static void bare_cr_or_lf_anywhere_refuses_the_message(void **state)
{
    (void)state;
    static const char *const bodies[] = {"a\nb\r\n", "a\rb\r\n", "a\r\r\n",
                                         "\n",       "x\r\n\r",  "ok\r\n\n"};
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        test_host *t = malloc(sizeof *t);
        test_host_init(t);
        char in[256];
        snprintf(in, sizeof in,
                 "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n%s"
                 "\r\n.\r\nNOOP\r\n",
                 bodies[i]);
        test_conversation(t, in, 0);
        assert_non_null(strstr(t->output, "550 5.6.0 Message contains a bare CR or LF; lines "
                                          "must end in CRLF\r\n250 2.0.0 OK\r\n"));
        assert_true(t->messages[0].aborted);
        test_host_free(t);
        free(t);
    }
}

/* A NUL byte anywhere in the message (at a line's start, after a dot, in a header, last
 * before the end) refuses the whole message, in every chunking; the session goes on. */
static void a_nul_byte_anywhere_refuses_the_message(void **state)
{
    (void)state;
    static const char head[] =
            "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n";
    static const struct {
        const char *bytes;
        size_t len;
    } bodies[] = {
            {"Subject: a\0b\r\n\r\nx\r\n", 19},
            {"\0\r\n", 3},
            {"..\0\r\n", 5},
            {"x\r\ny\0", 6},
    };
    for (size_t i = 0; i < sizeof bodies / sizeof bodies[0]; i++) {
        for (size_t chunk = 1; chunk <= 8; chunk *= 2) {
            char in[256];
            size_t len = 0;
            memcpy(in, head, sizeof head - 1);
            len += sizeof head - 1;
            memcpy(in + len, bodies[i].bytes, bodies[i].len);
            len += bodies[i].len;
            static const char tail[] = "\r\n.\r\nNOOP\r\n";
            memcpy(in + len, tail, sizeof tail - 1);
            len += sizeof tail - 1;
            test_host *t = malloc(sizeof *t);
            test_host_init(t);
            smtp_session *s = test_session(t);
            test_feed(t, s, in, len, chunk);
            assert_non_null(strstr(t->output, "550 5.6.0 Message contains a NUL byte\r\n"
                                              "250 2.0.0 OK\r\n"));
            assert_true(t->messages[0].aborted);
            smtp_session_destroy(s);
            test_host_free(t);
            free(t);
        }
    }
}

static void after_a_refused_message_the_next_one_is_judged_afresh(void **state)
{
    (void)state;
    test_host *t = malloc(sizeof *t);
    test_host_init(t);
    test_conversation(t,
                      "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
                      "bad\nline\r\n.\r\n"
                      "MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n"
                      "good line\r\n.\r\n",
                      0);
    assert_int_equal(t->begins, 2);
    assert_true(t->messages[0].aborted);
    assert_true(t->messages[1].committed);
    assert_string_equal(t->messages[1].body, "good line\r\n");
    test_host_free(t);
    free(t);
}

static void large_message_streams_in_bounded_pieces(void **state)
{
    (void)state;
    test_host *t = malloc(sizeof *t);
    test_host_init(t);
    smtp_session *s = test_session(t);
    test_feeds(t, s, "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n");
    size_t bound = smtp_session_memory(&t->host.limits);
    char line[100];
    memset(line, 'm', 98);
    line[98] = '\r';
    line[99] = '\n';
    for (int i = 0; i < 9000; i++) { /* 900 000 bytes */
        test_feed(t, s, line, sizeof line, 0);
    }
    test_feeds(t, s, ".\r\n");
    assert_int_equal(t->messages[0].body_len, 900000);
    assert_true(t->messages[0].committed);
    assert_true(t->writes >= 900000 / 8192);
    assert_true(smtp_session_memory_in_use(s) <= bound);
    smtp_session_destroy(s);
    test_host_free(t);
    free(t);
}

/* ---- improper pipelining: bytes behind DATA before the 354 ---- */

static const char envelope[] = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\n";
static const char refusal[] = "554 5.5.0 Error: SMTP protocol synchronization\r\n";

/* Message text in the same packet as DATA (as a client that does not wait for the 354 sends
 * it): refused with Postfix's 554, the connection closed, nothing handed to the host. The
 * DATA line may itself arrive in pieces: what counts is what came with its end. */
static void text_in_the_same_packet_as_data_is_refused(void **state)
{
    (void)state;
    static const char *const tails[] = {
            "DATA\r\nSubject: x\r\n\r\nbody\r\n.\r\nQUIT\r\n",
            "DATA\r\n.\r\n",
            "DATA\r\n\r\n",
            "data\r\nx",
    };
    for (size_t i = 0; i < sizeof tails / sizeof tails[0]; i++) {
        for (size_t split = 0; split < 4; split++) {
            test_host *t = malloc(sizeof *t);
            test_host_init(t);
            smtp_session *s = test_session(t);
            test_feeds(t, s, envelope);
            /* "DATA\r\n" cut after `split` bytes; the rest comes with the text. */
            test_feed_at_once(t, s, tails[i], split, 0);
            test_feeds_at_once(t, s, tails[i] + split);
            const char *after_rcpt = strstr(t->output, "250 2.1.5");
            assert_non_null(after_rcpt);
            if (strcmp(strchr(after_rcpt, '\n') + 1, refusal) != 0) {
                fail_msg("tail %zu split %zu: %s", i, split, t->output);
            }
            assert_true(t->closed);
            assert_true(smtp_session_closed(s));
            assert_int_equal(t->begins, 0);
            assert_int_equal(test_committed(t), 0);
            assert_null(strstr(t->output, "354 "));
            assert_non_null(
                    strstr(t->log, "\nS: 554 5.5.0 Error: SMTP protocol synchronization\n"));
            smtp_session_destroy(s);
            test_host_free(t);
            free(t);
        }
    }
}

/* A command pipelined behind DATA is refused the same way and never executed, whether
 * DATA itself would have been accepted or not (after a 503 the text would be read as
 * commands: the classic way to smuggle). */
static void a_command_behind_data_in_the_same_packet_is_refused(void **state)
{
    (void)state;
    static const struct {
        const char *input;
        const char *last_reply_before; /* the reply just before the 554 */
    } cases[] = {
            {"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\nQUIT\r\n",
             "250 2.1.5"},
            {"EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<x@far.test>\r\nDATA\r\n"
             "MAIL FROM:<evil@b.org>\r\n",
             "550 5.7.1"},
            {"EHLO c\r\nDATA\r\nRSET\r\n", "250 "},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        test_host *t = malloc(sizeof *t);
        test_host_init(t);
        smtp_session *s = test_session(t);
        test_feeds_at_once(t, s, cases[i].input);
        const char *r = strstr(t->output, refusal);
        if (r == NULL || r[strlen(refusal)] != '\0') {
            fail_msg("case %zu: %s", i, t->output);
        }
        assert_true(t->closed);
        assert_int_equal(t->begins, 0);
        assert_null(strstr(t->output, "221 "));
        assert_null(strstr(t->output, "503 "));
        assert_null(strstr(t->log, "C: MAIL FROM:<evil"));
        assert_null(strstr(t->log, "C: QUIT"));
        assert_null(strstr(t->log, "C: RSET"));
        smtp_session_destroy(s);
        test_host_free(t);
        free(t);
    }
}

/* RFC 2920 pipelining is fine: EHLO, MAIL, RCPT... and DATA in one packet, then the text
 * once the 354 is in, in any chunking, then the next transaction pipelined up to its DATA
 * again: every message is stored. */
static void text_after_the_354_is_accepted_in_any_chunking(void **state)
{
    (void)state;
    static const char commands[] = "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\n"
                                   "RCPT TO:<carol@example.com>\r\nDATA\r\n";
    static const char text[] = "Subject: x\r\n\r\n..dot\r\nbody\r\n.\r\n"
                               "MAIL FROM:<a@b.org>\r\nRCPT TO:<bob@example.com>\r\nDATA\r\n";
    static const char second[] = "two\r\n.\r\nQUIT\r\n";
    static const size_t chunks[] = {0, 1, 2, 3, 7, 64};
    for (size_t c = 0; c < sizeof chunks / sizeof chunks[0]; c++) {
        test_host *t = malloc(sizeof *t);
        test_host_init(t);
        smtp_session *s = test_session(t);
        test_feed_at_once(t, s, commands, sizeof commands - 1, chunks[c]);
        assert_non_null(strstr(t->output, "354 Start mail input"));
        test_feed_at_once(t, s, text, sizeof text - 1, chunks[c]);
        test_feed_at_once(t, s, second, sizeof second - 1, chunks[c]);
        if (test_committed(t) != 2) {
            fail_msg("chunk %zu: %s", chunks[c], t->output);
        }
        assert_string_equal(t->messages[0].body, "Subject: x\r\n\r\n.dot\r\nbody\r\n");
        assert_string_equal(t->messages[1].body, "two\r\n");
        assert_null(strstr(t->output, "554 "));
        assert_non_null(strstr(t->output, "221 2.0.0"));
        smtp_session_destroy(s);
        test_host_free(t);
        free(t);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(dot_stuffing_is_removed_in_any_chunking),
            cmocka_unit_test(empty_message_ends_at_once),
            cmocka_unit_test(no_variant_ends_the_data_in_the_decoder),
            cmocka_unit_test(no_variant_smuggles_a_second_message),
            cmocka_unit_test(bare_cr_or_lf_anywhere_refuses_the_message),
            cmocka_unit_test(a_nul_byte_anywhere_refuses_the_message),
            cmocka_unit_test(after_a_refused_message_the_next_one_is_judged_afresh),
            cmocka_unit_test(large_message_streams_in_bounded_pieces),
            cmocka_unit_test(text_in_the_same_packet_as_data_is_refused),
            cmocka_unit_test(a_command_behind_data_in_the_same_packet_is_refused),
            cmocka_unit_test(text_after_the_354_is_accepted_in_any_chunking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
