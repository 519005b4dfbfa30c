/* List lines as docs/design.md "List lines" defines them: every accepted form, and for every
 * rejected line a reason an administrator understands. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "relay_line.h"
#include "test_rng.h"

/* Parses line, expects a rule, and checks it in canonical form ("net/prefix" or
 * "net;mask"). */
static relay_rule assert_rule(const char *line, const char *canonical)
{
    relay_rule rule;
    char why[320];
    relay_line_kind kind = relay_line_parse(line, &rule, why, sizeof(why));
    if (kind != RELAY_LINE_RULE) {
        fail_msg("'%s' not a rule: %s", line, why);
    }
    char text[120];
    relay_rule_format(&rule, text, sizeof(text));
    assert_string_equal(text, canonical);
    return rule;
}

static void assert_invalid(const char *line, const char *reason)
{
    relay_rule rule;
    char why[320];
    assert_int_equal(relay_line_parse(line, &rule, why, sizeof(why)), RELAY_LINE_INVALID);
    assert_string_equal(why, reason);
}

static bool matches(const relay_rule *rule, const char *address)
{
    relay_addr a;
    assert_true(relay_addr_parse(address, &a));
    a = relay_addr_normalized(&a);
    return relay_rule_matches(rule, &a);
}

static void article_examples(void **state)
{
    (void)state;
    /* "To add net 192.168.0.0 to a list" */
    relay_rule r = assert_rule("192.168.0.0;255.255.0.0", "192.168.0.0/16");
    assert_true(matches(&r, "192.168.0.1"));
    assert_true(matches(&r, "192.168.255.255"));
    assert_false(matches(&r, "192.169.0.1"));
    /* "To add the host 192.168.1.17 to a list, add either ... or ..." */
    relay_rule a = assert_rule("192.168.1.17;255.255.255.255", "192.168.1.17/32");
    relay_rule b = assert_rule("192.168.1.17", "192.168.1.17/32");
    assert_memory_equal(&a.net, &b.net, sizeof(a.net));
    assert_memory_equal(&a.mask, &b.mask, sizeof(a.mask));
    assert_true(matches(&b, "192.168.1.17"));
    assert_false(matches(&b, "192.168.1.18"));
    /* The subset rule: 192.168.1.0 through 192.168.1.7. */
    relay_rule s = assert_rule("192.168.1.0;255.255.255.248", "192.168.1.0/29");
    assert_true(matches(&s, "192.168.1.0"));
    assert_true(matches(&s, "192.168.1.7"));
    assert_false(matches(&s, "192.168.1.8"));
}

static void cidr_ipv6_spaces_and_ignored_lines(void **state)
{
    (void)state;
    assert_rule("10.0.0.0/8", "10.0.0.0/8");
    assert_rule("0.0.0.0/0", "0.0.0.0/0");
    assert_rule("0.0.0.0;0.0.0.0", "0.0.0.0/0");
    assert_rule("  192.168.1.0 ;  255.255.255.0\t", "192.168.1.0/24");
    assert_rule("\t10.1.0.0 / 16 ", "10.1.0.0/16");
    relay_rule r = assert_rule("2001:db8::/32", "2001:db8::/32");
    assert_true(matches(&r, "2001:db8:ffff::1"));
    assert_false(matches(&r, "2001:db9::1"));
    assert_false(matches(&r, "32.1.13.184")); /* 2001:0db8 as IPv4: families never mix */
    assert_rule("2001:db8::;ffff:ffff::", "2001:db8::/32");
    assert_rule("2001:db8::1", "2001:db8::1/128");
    assert_rule("::/0", "::/0");

    relay_rule rule;
    char why[320];
    assert_int_equal(relay_line_parse("", &rule, why, sizeof(why)), RELAY_LINE_BLANK);
    assert_int_equal(relay_line_parse("   \t ", &rule, why, sizeof(why)), RELAY_LINE_BLANK);
    assert_int_equal(relay_line_parse("# the mail hub", &rule, why, sizeof(why)),
                     RELAY_LINE_COMMENT);
    assert_int_equal(relay_line_parse("   #10.0.0.1", &rule, why, sizeof(why)), RELAY_LINE_COMMENT);
}

static void non_contiguous_masks_work(void **state)
{
    (void)state;
    /* Every host numbered .1 in any 10.x.y.0/24: legal in the article's arithmetic. */
    relay_rule r = assert_rule("10.0.0.1;255.0.0.255", "10.0.0.1;255.0.0.255");
    assert_int_equal(r.prefix, -1);
    assert_true(matches(&r, "10.200.3.1"));
    assert_true(matches(&r, "10.0.0.1"));
    assert_false(matches(&r, "10.200.3.2"));
    assert_false(matches(&r, "11.0.0.1"));
    relay_rule v6 = assert_rule("2001:db8::1;ffff:ffff::ffff", "2001:db8::1;ffff:ffff::ffff");
    assert_true(matches(&v6, "2001:db8:1:2:3:4:5:1"));
    assert_false(matches(&v6, "2001:db8:1:2:3:4:5:2"));
}

static void v4_mapped_lines_read_as_ipv4(void **state)
{
    (void)state;
    relay_rule r = assert_rule("::ffff:10.0.0.0/104", "10.0.0.0/8");
    assert_int_equal(r.net.family, RELAY_AF_INET4);
    assert_true(matches(&r, "10.9.8.7"));
    assert_true(matches(&r, "::ffff:10.9.8.7"));
    r = assert_rule("::ffff:192.168.1.17", "192.168.1.17/32");
    assert_true(matches(&r, "::ffff:192.168.1.17"));
    /* Shorter than /96: stays IPv6 and so never matches a (normalized) IPv4 client. */
    r = assert_rule("::/80", "::/80");
    assert_false(matches(&r, "::ffff:10.0.0.1"));
    assert_true(matches(&r, "::1"));
}

static void bad_lines_have_reasons(void **state)
{
    (void)state;
    assert_invalid("192.168.010.1", "octet 3 has a leading zero (Windows would read it as "
                                    "octal): 192.168.010.1");
    assert_invalid("192.168.1.0;255.255.255.00",
                   "bad mask: octet 4 has a leading zero (Windows would read it as octal): "
                   "255.255.255.00");
    assert_invalid("192.168.1.0;255.255.255.0 # office",
                   "unexpected text after the mask 255.255.255.0: # office");
    assert_invalid("192.168.1.17 mailhub", "unexpected text after the address 192.168.1.17: "
                                           "mailhub");
    assert_invalid("10.0.0.0/8 # lan", "unexpected text after the prefix length 8: # lan");
    assert_invalid("10.0.0.0/33",
                   "the prefix length /33 is too long for an IPv4 network (at most 32)");
    assert_invalid("2001:db8::/129",
                   "the prefix length /129 is too long for an IPv6 network (at most 128)");
    assert_invalid("10.0.0.0/x", "the prefix length /x is not a number from 0 to 32");
    assert_invalid("10.0.0.0/0008", "the prefix length /0008 is not a number from 0 to 32");
    assert_invalid("10.0.0.0/-1", "the prefix length /-1 is not a number from 0 to 32");
    assert_invalid("10.0.0.0;ffff:ff00::",
                   "the mask ffff:ff00:: is IPv6 but the network 10.0.0.0 is IPv4");
    assert_invalid("2001:db8::;255.255.0.0",
                   "the mask 255.255.0.0 is IPv4 but the network 2001:db8:: is IPv6");
    assert_invalid("10.0.0.0;", "no mask after ';'");
    assert_invalid("10.0.0.0/", "no prefix length after '/'");
    assert_invalid(";255.0.0.0", "no network address before ';'");
    assert_invalid("10.0.0.0;255.0.0.0;1", "more than one ';' or '/' (a line is net;mask or "
                                           "net/prefix)");
    assert_invalid("10.0.0.0/8;255.0.0.0", "more than one ';' or '/' (a line is net;mask or "
                                           "net/prefix)");
    assert_invalid("mailhub.example.com", "not an IPv4 or IPv6 address (host names are not "
                                          "allowed): mailhub.example.com");
    assert_invalid("10.0.0.1,10.0.0.2", "unexpected character ',' after octet 4: "
                                        "10.0.0.1,10.0.0.2");
}

static void overlong_line_rejected(void **state)
{
    (void)state;
    char line[400];
    memset(line, ' ', sizeof(line));
    memcpy(line + 300, "10.0.0.1", 9); /* padding alone would be harmless, but unbounded */
    assert_invalid(line, "the line is longer than 255 characters");
    memset(line, ' ', sizeof(line));
    memcpy(line + 246, "10.0.0.1", 9); /* exactly 254 characters: accepted */
    assert_rule(line, "10.0.0.1/32");
}

static void net_outside_mask_never_matches(void **state)
{
    (void)state;
    relay_rule rule;
    char why[320];
    assert_int_equal(relay_line_parse("192.168.1.5;255.255.255.0", &rule, why, sizeof(why)),
                     RELAY_LINE_RULE);
    assert_true(rule.never_matches);
    assert_string_equal(why, "never matches: 192.168.1.5 has bits outside the mask "
                             "255.255.255.0 (did you mean 192.168.1.0/24?)");
    assert_false(matches(&rule, "192.168.1.5"));
    assert_int_equal(relay_line_parse("2001:db8::1/32", &rule, why, sizeof(why)), RELAY_LINE_RULE);
    assert_true(rule.never_matches);
    assert_string_equal(why, "never matches: 2001:db8::1 has bits outside the mask "
                             "ffff:ffff:: (did you mean 2001:db8::/32?)");
    assert_int_equal(relay_line_parse("10.0.0.1;255.0.0.0", &rule, why, sizeof(why)),
                     RELAY_LINE_RULE);
    assert_true(rule.never_matches);
    assert_int_equal(relay_line_parse("10.0.0.0;255.0.0.0", &rule, why, sizeof(why)),
                     RELAY_LINE_RULE);
    assert_false(rule.never_matches);
    assert_string_equal(why, "");
}

/* A big list's lines (a.b.c.d, a.b.c.d/n, a.b.c.d;m.m.m.m) are read by a one-pass path of
 * their own; every other spelling goes the general way. The same line with a blank in front
 * takes the general way: both must read the same rule, kind and reason, for canonical lines
 * and for near misses (a digit too many, a leading zero, a net outside its mask). */
static void big_list_lines_read_as_the_general_way(void **state)
{
    (void)state;
    static const char *const near_misses[] = {
            "10.0.0.1",
            "10.0.0.0/8",
            "0.0.0.0/0",
            "10.0.0.0;255.0.0.0",
            "10.0.0.1;255.0.255.255",
            "10.0.0.1/8",
            "10.0.0.01",
            "010.0.0.0/8",
            "10.0.0.0/08",
            "10.0.0.0/33",
            "10.0.0.256",
            "10.0.0.1;255.255.255.256",
            "10.0.0.0;0.0.0.0",
            "1.2.3.4/",
            "1.2.3.4;",
            "1.2.3",
            "1.2.3.4.5",
            "1.2.3.4/24/24",
            "1.2.3.4;255.0.0.0;1",
            "1.2.3.4 ",
            "1.2.3.4#",
            "1.2.3.4/0",
            "255.255.255.255/32",
            "1.2.3.4;255.255.255.255",
    };
    rng r = {20261130};
    for (size_t i = 0; i < 20000 + sizeof(near_misses) / sizeof(near_misses[0]); i++) {
        char line[64];
        if (i < sizeof(near_misses) / sizeof(near_misses[0])) {
            snprintf(line, sizeof(line), "%s", near_misses[i]);
        } else {
            uint32_t net = (uint32_t)next(&r), mask;
            unsigned prefix = (unsigned)(next(&r) % 33);
            mask = prefix ? UINT32_MAX << (32 - prefix) : 0;
            if (next(&r) % 4 == 0) {
                mask = (uint32_t)next(&r); /* non-contiguous, mostly */
            }
            if (next(&r) % 8 != 0) {
                net &= mask;
            }
            if (i % 3 == 0) {
                snprintf(line, sizeof(line), "%u.%u.%u.%u/%u", net >> 24, (net >> 16) & 255,
                         (net >> 8) & 255, net & 255, prefix);
            } else if (i % 3 == 1) {
                snprintf(line, sizeof(line), "%u.%u.%u.%u;%u.%u.%u.%u", net >> 24,
                         (net >> 16) & 255, (net >> 8) & 255, net & 255, mask >> 24,
                         (mask >> 16) & 255, (mask >> 8) & 255, mask & 255);
            } else {
                snprintf(line, sizeof(line), "%u.%u.%u.%u", net >> 24, (net >> 16) & 255,
                         (net >> 8) & 255, net & 255);
            }
        }
        char spaced[80];
        snprintf(spaced, sizeof(spaced), " %s", line);
        relay_rule fast, general;
        char fast_why[320], general_why[320];
        relay_line_kind fast_kind = relay_line_parse(line, &fast, fast_why, sizeof(fast_why));
        relay_line_kind general_kind =
                relay_line_parse(spaced, &general, general_why, sizeof(general_why));
        if (fast_kind != general_kind || strcmp(fast_why, general_why) != 0) {
            fail_msg("'%s': %d '%s' but ' %s': %d '%s'", line, fast_kind, fast_why, line,
                     general_kind, general_why);
        }
        if (fast_kind == RELAY_LINE_RULE) {
            assert_memory_equal(&fast.net, &general.net, sizeof(fast.net));
            assert_memory_equal(&fast.mask, &general.mask, sizeof(fast.mask));
            assert_int_equal(fast.prefix, general.prefix);
            assert_int_equal(fast.never_matches, general.never_matches);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(article_examples),
            cmocka_unit_test(cidr_ipv6_spaces_and_ignored_lines),
            cmocka_unit_test(non_contiguous_masks_work),
            cmocka_unit_test(v4_mapped_lines_read_as_ipv4),
            cmocka_unit_test(bad_lines_have_reasons),
            cmocka_unit_test(overlong_line_rejected),
            cmocka_unit_test(net_outside_mask_never_matches),
            cmocka_unit_test(big_list_lines_read_as_the_general_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
