/* Path syntax and recipient classification: what is local, and every relay trick. */
#include "smtp_address.h"
#include "smtp_test_host.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static const char *const domains[] = {"example.com",
                                      "  Mail.Example.ORG.  ",
                                      "[192.0.2.1]",
                                      "[IPv6:2001:db8::1]",
                                      "",
                                      "# comment",
                                      "local"};
#define NDOMAINS (sizeof domains / sizeof domains[0])

static smtp_path_status parse(const char *text, unsigned flags, smtp_path *p)
{
    size_t used;
    smtp_path_status st = smtp_path_parse(text, strlen(text), flags, p, &used);
    if (st == SMTP_PATH_OK) {
        assert_int_equal(used, strlen(text));
    }
    return st;
}

/* Parses as a RCPT path and classifies; -1 when the path is rejected. */
static int classify(const char *text)
{
    smtp_path p;
    if (parse(text, SMTP_PATH_ALLOW_POSTMASTER, &p) != SMTP_PATH_OK) {
        return -1;
    }
    return (int)smtp_recipient_classify(&p, domains, NDOMAINS);
}

#define LOCAL    ((int)SMTP_RCPT_LOCAL)
#define RELAY    ((int)SMTP_RCPT_RELAY)
#define REJECTED (-1)

static void local_domains_match_exactly_and_case_insensitively(void **state)
{
    (void)state;
    assert_int_equal(classify("<bob@example.com>"), LOCAL);
    assert_int_equal(classify("<Bob@EXAMPLE.COM>"), LOCAL);
    assert_int_equal(classify("<x@mail.example.org>"), LOCAL); /* entry trimmed, dot dropped */
    assert_int_equal(classify("<x@local>"), LOCAL);
    assert_int_equal(classify("<first.last+tag@example.com>"), LOCAL);
    assert_int_equal(classify("<\"john smith\"@example.com>"), LOCAL);
    assert_int_equal(classify("<bob@sub.example.com>"), RELAY); /* no subdomain matching */
    assert_int_equal(classify("<bob@example.com.evil.net>"), RELAY);
    assert_int_equal(classify("<bob@xexample.com>"), RELAY);
    assert_int_equal(classify("<bob@example.co>"), RELAY);
    assert_int_equal(classify("<bob@elsewhere.net>"), RELAY);
    /* A trailing dot is not RFC 5321 syntax: rejected, never local. */
    assert_int_equal(classify("<bob@example.com.>"), REJECTED);
    /* Blank and comment entries never match anything. */
    assert_int_equal(classify("<bob@comment>"), RELAY);
}

static void postmaster_without_domain_is_local(void **state)
{
    (void)state;
    assert_int_equal(classify("<postmaster>"), LOCAL);
    assert_int_equal(classify("<PostMaster>"), LOCAL);
    assert_int_equal(classify("<postmaster@example.com>"), LOCAL);
    assert_int_equal(classify("<postmaster@elsewhere.net>"), RELAY);
    assert_int_equal(classify("<\"postmaster\">"), REJECTED);
    assert_int_equal(classify("<postmasterx>"), REJECTED);
    assert_int_equal(classify("<bob>"), REJECTED);
    smtp_path p;
    /* Only RCPT allows the bare postmaster. */
    assert_int_equal(parse("<postmaster>", 0, &p), SMTP_PATH_SYNTAX);
    assert_int_equal(parse("<postmaster>", SMTP_PATH_ALLOW_NULL, &p), SMTP_PATH_SYNTAX);
}

static void percent_hack_is_never_local(void **state)
{
    (void)state;
    assert_int_equal(classify("<user%elsewhere.net@example.com>"), RELAY);
    assert_int_equal(classify("<user%elsewhere.net%relay@example.com>"), RELAY);
    assert_int_equal(classify("<%@example.com>"), RELAY);
}

static void bang_paths_are_never_local(void **state)
{
    (void)state;
    assert_int_equal(classify("<elsewhere.net!user>"), REJECTED); /* no domain at all */
    assert_int_equal(classify("<elsewhere.net!user@example.com>"), RELAY);
    assert_int_equal(classify("<a!b!c@example.com>"), RELAY);
}

static void source_routes_are_judged_by_the_final_mailbox(void **state)
{
    (void)state;
    smtp_path p;
    assert_int_equal(parse("<@example.com:user@elsewhere.net>", SMTP_PATH_ALLOW_POSTMASTER, &p),
                     SMTP_PATH_OK);
    assert_string_equal(p.mailbox, "user@elsewhere.net");
    assert_true(p.source_route);
    assert_int_equal(classify("<@example.com:user@elsewhere.net>"), RELAY);
    assert_int_equal(classify("<@example.com,@mail.example.org:user@elsewhere.net>"), RELAY);
    assert_int_equal(classify("<@elsewhere.net:user@example.com>"), LOCAL);
    assert_int_equal(classify("<@[192.0.2.1]:user@elsewhere.net>"), RELAY);
    assert_int_equal(classify("<@example.com:postmaster>"), REJECTED);
    assert_int_equal(classify("<@example.com user@elsewhere.net>"), REJECTED);
    assert_int_equal(classify("<@:user@example.com>"), REJECTED);
    assert_int_equal(classify("<@example.com,user@example.com>"), REJECTED);
}

static void quoted_local_parts_with_routing_characters_are_never_local(void **state)
{
    (void)state;
    assert_int_equal(classify("<\"user@elsewhere.net\"@example.com>"), RELAY);
    assert_int_equal(classify("<\"user%elsewhere.net\"@example.com>"), RELAY);
    assert_int_equal(classify("<\"elsewhere.net!user\"@example.com>"), RELAY);
    assert_int_equal(classify("<\"user\\@elsewhere.net\"@example.com>"), RELAY);
    assert_int_equal(classify("<\"@elsewhere.net:user\"@example.com>"), RELAY);
    assert_int_equal(classify("<\"unterminated@example.com>"), REJECTED);
}

static void double_at_is_rejected(void **state)
{
    (void)state;
    assert_int_equal(classify("<user@elsewhere.net@example.com>"), REJECTED);
    assert_int_equal(classify("<user@@example.com>"), REJECTED);
    assert_int_equal(classify("<@example.com>"), REJECTED);
}

static void address_literals_are_local_only_when_listed(void **state)
{
    (void)state;
    assert_int_equal(classify("<user@[192.0.2.1]>"), LOCAL);
    assert_int_equal(classify("<user@[192.0.2.2]>"), RELAY);
    assert_int_equal(classify("<user@[IPv6:2001:db8::1]>"), LOCAL);
    assert_int_equal(classify("<user@[ipv6:2001:DB8::1]>"), LOCAL);
    assert_int_equal(classify("<user@[IPv6:2001:db8::2]>"), RELAY);
    assert_int_equal(classify("<user@[IPv6:::ffff:192.0.2.1]>"), RELAY);
    assert_int_equal(classify("<user@[x-tag:anything]>"), RELAY);
    /* Malformed literals are syntax errors. */
    assert_int_equal(classify("<user@[192.0.2.256]>"), REJECTED);
    assert_int_equal(classify("<user@[192.0.2]>"), REJECTED);
    assert_int_equal(classify("<user@[IPv6:2001:db8:::1]>"), REJECTED);
    assert_int_equal(classify("<user@[IPv6:1:2:3:4:5:6:7:8:9]>"), REJECTED);
    assert_int_equal(classify("<user@[IPv6:12345::1]>"), REJECTED);
    assert_int_equal(classify("<user@[192.0.2.1>"), REJECTED);
    assert_int_equal(classify("<user@[]>"), REJECTED);
    assert_int_equal(classify("<user@192.0.2.1]>"), REJECTED);
}

static void ipv6_literal_forms(void **state)
{
    (void)state;
    static const char *const good[] = {"<u@[IPv6:::]>",
                                       "<u@[IPv6:::1]>",
                                       "<u@[IPv6:1::]>",
                                       "<u@[IPv6:1:2:3:4:5:6:7:8]>",
                                       "<u@[IPv6:1:2:3:4:5:6::8]>",
                                       "<u@[IPv6:1:2:3:4:5:6:1.2.3.4]>",
                                       "<u@[IPv6:::1.2.3.4]>"};
    static const char *const bad[] = {"<u@[IPv6:1:2:3:4:5:6:7]>",
                                      "<u@[IPv6:1:2:3:4:5:6:7:8::]>",
                                      "<u@[IPv6::1]>",
                                      "<u@[IPv6:1:]>",
                                      "<u@[IPv6:1::2::3]>",
                                      "<u@[IPv6:1.2.3.4::]>",
                                      "<u@[IPv6:g::1]>"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        assert_int_equal(classify(good[i]), RELAY);
    }
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        if (classify(bad[i]) != REJECTED) {
            fail_msg("accepted %s", bad[i]);
        }
    }
}

static void lengths_are_bounded_as_rfc_5321_says(void **state)
{
    (void)state;
    char text[600];
    smtp_path p;
    /* Local part: 64 fits, 65 does not. */
    snprintf(text, sizeof text, "<%.*s@example.com>", 64,
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(parse(text, 0, &p), SMTP_PATH_OK);
    snprintf(text, sizeof text, "<%.*s@example.com>", 65,
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
             "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
    assert_int_equal(parse(text, 0, &p), SMTP_PATH_TOO_LONG);
    /* Whole path: 256 with brackets fits, 257 does not. Labels of 63. */
    char label[64];
    memset(label, 'd', 63);
    label[63] = '\0';
    /* "<" + "u@" + 63.63.63.d{n} + ">" */
    int n = 256 - 1 - 2 - 3 * 64 - 1;
    snprintf(text, sizeof text, "<u@%s.%s.%s.%.*s>", label, label, label, n, label);
    assert_int_equal(strlen(text), 256);
    assert_int_equal(parse(text, 0, &p), SMTP_PATH_OK);
    assert_int_equal(p.length, 254);
    snprintf(text, sizeof text, "<u@%s.%s.%s.%.*s>", label, label, label, n + 1, label);
    assert_int_equal(parse(text, 0, &p), SMTP_PATH_TOO_LONG);
    /* A 64-character label is not a label. */
    snprintf(text, sizeof text, "<u@%sd.com>", label);
    assert_int_equal(parse(text, 0, &p), SMTP_PATH_SYNTAX);
    /* Domain longer than 255 (through a longer-than-legal path). */
    snprintf(text, sizeof text, "<u@%s.%s.%s.%s.%s>", label, label, label, label, label);
    assert_int_equal(parse(text, 0, &p), SMTP_PATH_TOO_LONG);
}

static void malformed_paths_are_rejected(void **state)
{
    (void)state;
    static const char *const bad[] = {
            "",
            "<",
            "<>",
            "bob@example.com",
            "<bob@example.com",
            "<bob@>",
            "<@>",
            "<.bob@x.com>",
            "<bob.@x.com>",
            "<bo..b@x.com>",
            "<bob@-x.com>",
            "<bob@x-.com>",
            "<bob@x..com>",
            "<bob@.x.com>",
            "<bob@x.com.>",
            "<bob @x.com>",
            "<bob@x .com>",
            "<b\x01ob@x.com>",
            "<b\xc3\xa9@x.com>",
            "<bob@x_y.com>",
            "<bob@x.com>>",
            "<<bob@x.com>",
            "<\"a\x7f\"@x.com>",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        smtp_path p;
        size_t used = 0;
        smtp_path_status st =
                smtp_path_parse(bad[i], strlen(bad[i]), SMTP_PATH_ALLOW_POSTMASTER, &p, &used);
        if (st == SMTP_PATH_OK && used == strlen(bad[i])) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
    }
}

static void null_path_only_where_allowed(void **state)
{
    (void)state;
    smtp_path p;
    assert_int_equal(parse("<>", SMTP_PATH_ALLOW_NULL, &p), SMTP_PATH_OK);
    assert_true(p.null_path);
    assert_string_equal(p.mailbox, "");
    assert_int_equal(parse("<>", SMTP_PATH_ALLOW_POSTMASTER, &p), SMTP_PATH_SYNTAX);
    assert_int_equal(smtp_recipient_classify(&p, domains, NDOMAINS), SMTP_RCPT_RELAY);
}

static void parameters_after_the_path_are_left_to_the_caller(void **state)
{
    (void)state;
    smtp_path p;
    size_t used;
    const char *text = "<a@b.org> SIZE=10";
    assert_int_equal(smtp_path_parse(text, strlen(text), 0, &p, &used), SMTP_PATH_OK);
    assert_int_equal(used, 9);
    assert_string_equal(p.mailbox, "a@b.org");
    assert_int_equal(p.domain_offset, 2);
}

/* The same tricks through a whole session: each reaches the relay decision, so with relay
 * denied each gets 550 5.7.1, and none is ever delivered locally. */
static void every_trick_in_a_session_gets_the_relay_decision(void **state)
{
    (void)state;
    static const char *const tricks[] = {
            "user%elsewhere.net@example.com",
            "elsewhere.net!user@example.com",
            "\"user@elsewhere.net\"@example.com",
            "\"user%elsewhere.net\"@example.com",
            "user@[192.0.2.99]",
            "user@[IPv6:2001:db8::99]",
            "postmaster@elsewhere.net",
    };
    for (size_t i = 0; i < sizeof tricks / sizeof tricks[0]; i++) {
        test_host *t = malloc(sizeof *t);
        test_host_init(t);
        char input[512], expected[512];
        snprintf(input, sizeof input, "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<%s>\r\n",
                 tricks[i]);
        snprintf(expected, sizeof expected, "550 5.7.1 <%s>... relaying prohibited\r\n", tricks[i]);
        const char *out = test_conversation(t, input, 0);
        if (strstr(out, expected) == NULL) {
            fail_msg("%s: %s", tricks[i], out);
        }
        assert_int_equal(t->relay_calls, 1);
        assert_string_equal(t->relay_last_recipient, tricks[i]);
        test_host_free(t);
        free(t);
    }
    /* The source route: the final mailbox is what is judged and named. */
    test_host *t = malloc(sizeof *t);
    test_host_init(t);
    const char *out = test_conversation(
            t,
            "EHLO c\r\nMAIL FROM:<a@b.org>\r\nRCPT TO:<@example.com:user@elsewhere.net>\r\n"
            "RCPT TO:<elsewhere.net!user>\r\nRCPT TO:<user@elsewhere.net@example.com>\r\n",
            0);
    assert_non_null(strstr(out, "550 5.7.1 <user@elsewhere.net>... relaying prohibited\r\n"
                                "501 5.1.3 Bad recipient address syntax\r\n"
                                "501 5.1.3 Bad recipient address syntax\r\n"));
    assert_int_equal(t->relay_calls, 1);
    test_host_free(t);
    free(t);
}

static void the_relay_callback_receives_the_authenticated_account(void **state)
{
    (void)state;
    test_host *t = malloc(sizeof *t);
    test_host_init(t);
    t->relay_allow_authenticated = true;
    const char *out = test_conversation(t,
                                        "EHLO c\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "RCPT TO:<x@elsewhere.net>\r\n"
                                        "RSET\r\n"
                                        "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n"
                                        "MAIL FROM:<a@b.org>\r\n"
                                        "RCPT TO:<x@elsewhere.net>\r\n"
                                        "DATA\r\n"
                                        "hi\r\n"
                                        ".\r\n",
                                        0);
    assert_non_null(strstr(out, "550 5.7.1 <x@elsewhere.net>... relaying prohibited\r\n"));
    assert_non_null(strstr(out, "235 2.7.0 Authentication successful\r\n"
                                "250 2.1.0 Sender <a@b.org> OK\r\n"
                                "250 2.1.5 Recipient <x@elsewhere.net> OK\r\n"));
    assert_string_equal(t->relay_last_account, "alice");
    assert_string_equal(t->messages[0].envelope,
                        "c|a@b.org|x@elsewhere.net(R)|192.0.2.7|alice|-|0");
    test_host_free(t);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(local_domains_match_exactly_and_case_insensitively),
            cmocka_unit_test(postmaster_without_domain_is_local),
            cmocka_unit_test(percent_hack_is_never_local),
            cmocka_unit_test(bang_paths_are_never_local),
            cmocka_unit_test(source_routes_are_judged_by_the_final_mailbox),
            cmocka_unit_test(quoted_local_parts_with_routing_characters_are_never_local),
            cmocka_unit_test(double_at_is_rejected),
            cmocka_unit_test(address_literals_are_local_only_when_listed),
            cmocka_unit_test(ipv6_literal_forms),
            cmocka_unit_test(lengths_are_bounded_as_rfc_5321_says),
            cmocka_unit_test(malformed_paths_are_rejected),
            cmocka_unit_test(null_path_only_where_allowed),
            cmocka_unit_test(parameters_after_the_path_are_left_to_the_caller),
            cmocka_unit_test(every_trick_in_a_session_gets_the_relay_decision),
            cmocka_unit_test(the_relay_callback_receives_the_authenticated_account),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
