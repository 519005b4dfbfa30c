/* The envelope of queue files, on the exact bytes service/spool.c writes, and every way a
 * damaged file is refused with the reason the Badmail event gives. */
#include "queue_file.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* What spool.c's format_header() writes for two relayed recipients (no "for" clause), then
 * the message as received. */
static const char two_recipients[] =
        "X-Sender: <alice@example.org>\r\n"
        "X-Receiver: <bob@example.net>\r\n"
        "X-Receiver: <\"carol smith\"@Example.COM>\r\n"
        "Received: from client.example.org (host.example.org [192.0.2.7])\r\n"
        "\tby mx.example.com (imsrelay) with ESMTPA id 01DA2B3C4D5E6F70.00000F10.00000001; "
        "Tue, 5 Mar 2024 10:11:12 +0000\r\n"
        "From: Alice <alice@example.org>\r\n"
        "Subject: hello\r\n"
        "\r\n"
        "X-Receiver: <not@envelope> is body text\r\n";

/* One recipient and the null sender: the Received header names the recipient. */
static const char bounce[] =
        "X-Sender: <>\r\n"
        "X-Receiver: <postmaster@example.net>\r\n"
        "Received: from unknown ([2001:db8::7])\r\n"
        "\tby mx.example.com (imsrelay) with SMTP id 01DA.00000F10.00000002\r\n"
        "\tfor <postmaster@example.net>; Tue, 5 Mar 2024 10:11:12 +0000\r\n"
        "\r\n";

static queue_file_status parse(const char *data, size_t size, bool whole, queue_file_envelope *e,
                               char *error)
{
    /* A private copy: reading one byte past the prefix is caught by the sanitizers. */
    char *copy = malloc(size ? size : 1);
    assert_non_null(copy);
    memcpy(copy, data, size);
    queue_file_status st = queue_file_parse(copy, size, whole, e, error, QUEUE_FILE_ERROR_MAX);
    if (st == QUEUE_FILE_OK) {
        /* The envelope owns its strings: the buffer may go. */
        memset(copy, 'Z', size);
    }
    free(copy);
    return st;
}

static void expect_malformed(const char *data, size_t size, const char *reason)
{
    queue_file_envelope e;
    char error[QUEUE_FILE_ERROR_MAX] = "";
    assert_int_equal(parse(data, size, true, &e, error), QUEUE_FILE_MALFORMED);
    assert_string_equal(error, reason);
    assert_null(e.storage_);
}

static void the_spool_format_parses(void **state)
{
    (void)state;
    queue_file_envelope e;
    char error[QUEUE_FILE_ERROR_MAX] = "";
    assert_int_equal(parse(two_recipients, strlen(two_recipients), true, &e, error), QUEUE_FILE_OK);
    assert_string_equal(e.sender, "alice@example.org");
    assert_int_equal(e.recipient_count, 2);
    assert_string_equal(e.recipients[0], "bob@example.net");
    assert_string_equal(e.recipients[1], "\"carol smith\"@Example.COM");
    assert_int_equal(e.message_offset, strstr(two_recipients, "Received: from") - two_recipients);
    queue_file_envelope_free(&e);
    assert_null(e.recipients);

    assert_int_equal(parse(bounce, strlen(bounce), true, &e, error), QUEUE_FILE_OK);
    assert_string_equal(e.sender, "");
    assert_int_equal(e.recipient_count, 1);
    assert_string_equal(e.recipients[0], "postmaster@example.net");
    assert_memory_equal(bounce + e.message_offset, "Received: from unknown", 22);
    queue_file_envelope_free(&e);
}

/* The service reads a block; whatever prefix it has, it either gets the final answer or is
 * told to read more, never a wrong answer. */
static void every_prefix_is_incomplete_or_the_same_answer(void **state)
{
    (void)state;
    size_t size = strlen(two_recipients);
    size_t start = (size_t)(strstr(two_recipients, "Received:") - two_recipients);
    for (size_t n = 0; n <= size; n++) {
        queue_file_envelope e;
        char error[QUEUE_FILE_ERROR_MAX] = "";
        queue_file_status st = parse(two_recipients, n, false, &e, error);
        if (n < start + strlen("Received:")) {
            assert_int_equal(st, QUEUE_FILE_INCOMPLETE);
            /* The same prefix as a whole file is a truncated file. */
            assert_int_equal(parse(two_recipients, n, true, &e, error), QUEUE_FILE_MALFORMED);
        } else {
            assert_int_equal(st, QUEUE_FILE_OK);
            assert_int_equal(e.recipient_count, 2);
            assert_int_equal(e.message_offset, start);
            queue_file_envelope_free(&e);
        }
    }
}

static void missing_or_damaged_envelope_lines(void **state)
{
    (void)state;
    expect_malformed("", 0, "the file is empty");
    const char *no_sender = "X-Receiver: <bob@example.net>\r\nReceived: x\r\n";
    expect_malformed(no_sender, strlen(no_sender), "line 1 is not \"X-Sender: <address>\"");
    const char *unbracketed = "X-Sender: alice@example.org\r\n";
    expect_malformed(unbracketed, strlen(unbracketed), "line 1 is not \"X-Sender: <address>\"");
    const char *no_rcpt = "X-Sender: <a@b>\r\nReceived: from x\r\n\r\n";
    expect_malformed(no_rcpt, strlen(no_rcpt), "there is no X-Receiver line after X-Sender");
    const char *damaged = "X-Sender: <a@b>\r\nX-Receiver: <c@d>\r\nX-Receiver: e@f\r\nR: x\r\n";
    expect_malformed(damaged, strlen(damaged), "line 3 is not \"X-Receiver: <address>\"");
    const char *unclosed = "X-Sender: <a@b>\r\nX-Receiver: <c@d\r\nReceived: x\r\n";
    expect_malformed(unclosed, strlen(unclosed), "line 2: the address does not end with '>'");
    const char *empty_rcpt = "X-Sender: <a@b>\r\nX-Receiver: <>\r\nReceived: x\r\n";
    expect_malformed(empty_rcpt, strlen(empty_rcpt), "line 2: the recipient address is empty");
    const char *two_senders = "X-Sender: <a@b>\r\nX-Receiver: <c@d>\r\nX-Sender: <e@f>\r\n";
    expect_malformed(two_senders, strlen(two_senders), "line 3 is a second X-Sender line");
    const char *no_message = "X-Sender: <a@b>\r\nX-Receiver: <c@d>\r\n";
    expect_malformed(no_message, strlen(no_message),
                     "the file ends after the envelope: there is no message");
    const char *not_header = "X-Sender: <a@b>\r\nX-Receiver: <c@d>\r\n\r\nbody\r\n";
    expect_malformed(not_header, strlen(not_header),
                     "line 3, where the message starts, is not a header field");
    const char *truncated = "X-Sender: <a@b>\r\nX-Receiver: <c@d";
    expect_malformed(truncated, strlen(truncated), "the file ends inside the envelope, in line 2");
}

static void line_ends_nuls_and_bytes(void **state)
{
    (void)state;
    const char *bare_lf = "X-Sender: <a@b>\r\nX-Receiver: <c@d>\nReceived: x\r\n";
    expect_malformed(bare_lf, strlen(bare_lf), "line 2 does not end with CRLF");
    const char *lf_first = "X-Sender: <a@b>\n";
    expect_malformed(lf_first, strlen(lf_first), "line 1 does not end with CRLF");
    const char *bare_cr = "X-Sender: <a@b>\r\nX-Receiver: <c@d>\rX-Receiver: <e@f>\r\nR: x\r\n";
    expect_malformed(bare_cr, strlen(bare_cr), "line 2 contains a CR without LF");
    const char nul[] = "X-Sender: <a@b>\r\nX-Receiver: <c\0d>\r\nReceived: x\r\n";
    expect_malformed(nul, sizeof(nul) - 1, "line 2 contains a NUL byte");
    const char *control = "X-Sender: <a\tb@c>\r\nX-Receiver: <c@d>\r\nReceived: x\r\n";
    expect_malformed(control, strlen(control),
                     "line 1: the address contains a control or non-ASCII byte");
    const char *eight_bit = "X-Sender: <a@b>\r\nX-Receiver: <j\xc3\xa9@d>\r\nReceived: x\r\n";
    expect_malformed(eight_bit, strlen(eight_bit),
                     "line 2: the address contains a control or non-ASCII byte");
}

static char *file_with_address_length(size_t length, size_t *size)
{
    char *text = malloc(length + 128);
    assert_non_null(text);
    int n = sprintf(text, "X-Sender: <a@b>\r\nX-Receiver: <");
    memset(text + n, 'x', length);
    n += (int)length;
    n += sprintf(text + n, ">\r\nReceived: x\r\n");
    *size = (size_t)n;
    return text;
}

static void length_limits(void **state)
{
    (void)state;
    size_t size;
    char *longest = file_with_address_length(QUEUE_FILE_ADDRESS_MAX, &size);
    queue_file_envelope e;
    char error[QUEUE_FILE_ERROR_MAX] = "";
    assert_int_equal(parse(longest, size, true, &e, error), QUEUE_FILE_OK);
    assert_int_equal(strlen(e.recipients[0]), QUEUE_FILE_ADDRESS_MAX);
    queue_file_envelope_free(&e);
    free(longest);

    char *too_long = file_with_address_length(QUEUE_FILE_ADDRESS_MAX + 1, &size);
    expect_malformed(too_long, size, "line 2 is longer than 270 bytes");
    /* Not a byte more is needed to know: the prefix up to the limit already says so. */
    assert_int_equal(parse(too_long, 17 + QUEUE_FILE_LINE_MAX, false, &e, error),
                     QUEUE_FILE_MALFORMED);
    free(too_long);

    char *very_long = file_with_address_length(100000, &size);
    expect_malformed(very_long, size, "line 2 is longer than 270 bytes");
    free(very_long);
}

static char *file_with_recipients(size_t count, size_t *size)
{
    char *text = malloc(64 + count * 48);
    assert_non_null(text);
    size_t n = (size_t)sprintf(text, "X-Sender: <a@b>\r\n");
    for (size_t i = 0; i < count; i++) {
        n += (size_t)sprintf(text + n, "X-Receiver: <r%zu@example.net>\r\n", i);
    }
    n += (size_t)sprintf(text + n, "Received: x\r\n");
    *size = n;
    return text;
}

static void recipient_count_limit(void **state)
{
    (void)state;
    size_t size;
    char *most = file_with_recipients(QUEUE_FILE_RECIPIENTS_MAX, &size);
    assert_true(size <= QUEUE_FILE_ENVELOPE_MAX);
    queue_file_envelope e;
    char error[QUEUE_FILE_ERROR_MAX] = "";
    assert_int_equal(parse(most, size, true, &e, error), QUEUE_FILE_OK);
    assert_int_equal(e.recipient_count, QUEUE_FILE_RECIPIENTS_MAX);
    assert_string_equal(e.recipients[0], "r0@example.net");
    assert_string_equal(e.recipients[99999], "r99999@example.net");
    assert_memory_equal(most + e.message_offset, "Received: x\r\n", 13);
    queue_file_envelope_free(&e);
    free(most);

    char *too_many = file_with_recipients(QUEUE_FILE_RECIPIENTS_MAX + 1, &size);
    expect_malformed(too_many, size, "the file has more than 100000 recipients");
    free(too_many);
}

static void field_names_ignore_case(void **state)
{
    (void)state;
    const char *lower = "x-sender: <a@b>\r\nx-RECEIVER: <c@d>\r\nreceived: x\r\n";
    queue_file_envelope e;
    char error[QUEUE_FILE_ERROR_MAX] = "";
    assert_int_equal(parse(lower, strlen(lower), true, &e, error), QUEUE_FILE_OK);
    assert_string_equal(e.recipients[0], "c@d");
    queue_file_envelope_free(&e);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(the_spool_format_parses),
            cmocka_unit_test(every_prefix_is_incomplete_or_the_same_answer),
            cmocka_unit_test(missing_or_damaged_envelope_lines),
            cmocka_unit_test(line_ends_nuls_and_bytes),
            cmocka_unit_test(length_limits),
            cmocka_unit_test(recipient_count_limit),
            cmocka_unit_test(field_names_ignore_case),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
