/* The strict address parser and the canonical formatter: what an administrator types is
 * read the same way on Linux and on Windows, and what imsrelay prints can be typed back. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "relay_addr.h"

static void assert_round_trip(const char *text, const char *canonical)
{
    relay_addr a;
    char why[200];
    if (!relay_addr_parse_span(text, strlen(text), &a, why, sizeof(why))) {
        fail_msg("%s rejected: %s", text, why);
    }
    char out[RELAY_ADDR_TEXT_MAX];
    size_t n = relay_addr_format(&a, out, sizeof(out));
    assert_string_equal(out, canonical);
    assert_int_equal(n, strlen(canonical));
    relay_addr back;
    assert_true(relay_addr_parse(out, &back));
    assert_true(relay_addr_equal(&a, &back));
}

static void assert_rejected(const char *text, const char *reason)
{
    relay_addr a;
    char why[200];
    assert_false(relay_addr_parse_span(text, strlen(text), &a, why, sizeof(why)));
    assert_string_equal(why, reason);
}

static void ipv4_accepted(void **state)
{
    (void)state;
    assert_round_trip("192.168.1.17", "192.168.1.17");
    assert_round_trip("0.0.0.0", "0.0.0.0");
    assert_round_trip("255.255.255.255", "255.255.255.255");
    assert_round_trip("10.0.100.1", "10.0.100.1");
    relay_addr a;
    assert_true(relay_addr_parse("192.168.17.9", &a));
    assert_int_equal(a.family, RELAY_AF_INET4);
    assert_memory_equal(a.bytes, ((uint8_t[16]){192, 168, 17, 9}), 16);
}

static void ipv4_rejected_with_reasons(void **state)
{
    (void)state;
    assert_rejected("192.168.010.1",
                    "octet 3 has a leading zero (Windows would read it as octal): 192.168.010.1");
    assert_rejected("010.1.1.1",
                    "octet 1 has a leading zero (Windows would read it as octal): 010.1.1.1");
    assert_rejected("00.1.1.1",
                    "octet 1 has a leading zero (Windows would read it as octal): 00.1.1.1");
    assert_rejected("192.168.1.256", "octet 4 is 256, above 255: 192.168.1.256");
    assert_rejected("1.2.3.1000", "octet 4 is 1000, above 255: 1.2.3.1000");
    assert_rejected("192.168.1", "octet 4 is missing: 192.168.1");
    assert_rejected("192.168.1.", "octet 4 is missing: 192.168.1.");
    assert_rejected("1.2.3.4.5", "more than four octets: 1.2.3.4.5");
    assert_rejected("1.2..4", "unexpected character '.' in octet 3: 1.2..4");
    assert_rejected("1.2.3.4x", "unexpected character 'x' after octet 4: 1.2.3.4x");
    assert_rejected("1.2.3.-4", "unexpected character '-' in octet 4: 1.2.3.-4");
    assert_rejected("+1.2.3.4",
                    "not an IPv4 or IPv6 address (host names are not allowed): +1.2.3.4");
    assert_rejected("mail.example.com",
                    "not an IPv4 or IPv6 address (host names are not allowed): mail.example.com");
    assert_rejected("0x7f.0.0.1", "unexpected character 'x' after octet 1: 0x7f.0.0.1");
    assert_rejected("127.1", "octet 3 is missing: 127.1");
    assert_rejected("", "the address is empty: ");
    assert_rejected("1.2.3.4\x01", "unexpected character 0x01 after octet 4: 1.2.3.4\x01");
}

static void ipv6_accepted_and_canonical(void **state)
{
    (void)state;
    assert_round_trip("::", "::");
    assert_round_trip("::1", "::1");
    assert_round_trip("1::", "1::");
    assert_round_trip("2001:DB8::1", "2001:db8::1");
    assert_round_trip("2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1");
    assert_round_trip("2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1");    /* first of equal runs */
    assert_round_trip("2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"); /* one zero: kept */
    assert_round_trip("1:0:0:2:0:0:0:3", "1:0:0:2::3");                /* longest run */
    assert_round_trip("ffff:ffff::", "ffff:ffff::");
    assert_round_trip("1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8");
    assert_round_trip("1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0");
    assert_round_trip("::ffff:192.168.1.17", "::ffff:192.168.1.17");
    assert_round_trip("::ffff:c0a8:111", "::ffff:192.168.1.17");
    assert_round_trip("1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304");
    assert_round_trip("::1.2.3.4", "::102:304");
    assert_round_trip("fe80::1:2", "fe80::1:2");
}

static void ipv6_rejected_with_reasons(void **state)
{
    (void)state;
    assert_rejected("2001:db8::1::2", "'::' appears more than once: 2001:db8::1::2");
    assert_rejected("1:::2", "'::' appears more than once or ':::': 1:::2");
    assert_rejected(":1::2", "starts with a single ':': :1::2");
    assert_rejected("1::2:", "ends with a single ':': 1::2:");
    assert_rejected("1:2:3:4:5:6:7", "has 7 groups; eight are needed without '::': 1:2:3:4:5:6:7");
    assert_rejected("1:2:3:4:5:6:7:8:9", "more than eight groups: 1:2:3:4:5:6:7:8:9");
    assert_rejected("1:2:3:4::5:6:7:8",
                    "'::' must stand for at least one group of zeros: 1:2:3:4::5:6:7:8");
    assert_rejected("12345::1", "group 1 has more than four hex digits: 12345::1");
    assert_rejected("fe80::1%eth0", "zone indexes ('%...') are not allowed: fe80::1%eth0");
    assert_rejected("2001:db8::g", "unexpected character 'g' in group 3: 2001:db8::g");
    assert_rejected("::ffff:192.168.01.1",
                    "in the IPv4 part, octet 3 has a leading zero (Windows would read it as "
                    "octal): ::ffff:192.168.01.1");
    assert_rejected("1:2:3:4:5:6:7:1.2.3.4",
                    "too many groups before the IPv4 part: 1:2:3:4:5:6:7:1.2.3.4");
    assert_rejected("1:2:3:4:5:6:7::1.2.3.4",
                    "too many groups before the IPv4 part: 1:2:3:4:5:6:7::1.2.3.4");
    assert_rejected("[::1]", "unexpected character '[' in group 1: [::1]");
}

static void v4_mapped_clients_normalize_to_ipv4(void **state)
{
    (void)state;
    relay_addr mapped, plain, other;
    assert_true(relay_addr_parse("::ffff:192.168.17.9", &mapped));
    assert_true(relay_addr_parse("192.168.17.9", &plain));
    assert_true(relay_addr_parse("2001:db8::c0a8:1109", &other));
    assert_true(relay_addr_is_v4_mapped(&mapped));
    assert_false(relay_addr_is_v4_mapped(&plain));
    relay_addr n = relay_addr_normalized(&mapped);
    assert_true(relay_addr_equal(&n, &plain));
    n = relay_addr_normalized(&other);
    assert_true(relay_addr_equal(&n, &other));
    n = relay_addr_normalized(&plain);
    assert_true(relay_addr_equal(&n, &plain));
}

static void format_truncates_safely(void **state)
{
    (void)state;
    relay_addr a;
    assert_true(relay_addr_parse("2001:db8:1:2:3:4:5:6", &a));
    char small[8];
    size_t n = relay_addr_format(&a, small, sizeof(small));
    assert_int_equal(n, strlen("2001:db8:1:2:3:4:5:6"));
    assert_string_equal(small, "2001:db");
    a = relay_addr_from_v4_uint(0xC0A80111u);
    char out[RELAY_ADDR_TEXT_MAX];
    relay_addr_format(&a, out, sizeof(out));
    assert_string_equal(out, "192.168.1.17");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(ipv4_accepted),
            cmocka_unit_test(ipv4_rejected_with_reasons),
            cmocka_unit_test(ipv6_accepted_and_canonical),
            cmocka_unit_test(ipv6_rejected_with_reasons),
            cmocka_unit_test(v4_mapped_clients_normalize_to_ipv4),
            cmocka_unit_test(format_truncates_safely),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
