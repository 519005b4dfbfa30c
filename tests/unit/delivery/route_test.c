/* SmartHost values as an administrator writes them, every mistake named at its character,
 * and the domain a recipient is routed by. */
#include "route.h"

#include <stdio.h>
#include <string.h>

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

static route_smarthost parse_ok(const char *text)
{
    route_smarthost r;
    char error[ROUTE_ERROR_MAX] = "";
    if (!route_smarthost_parse(text, &r, error, sizeof(error))) {
        fail_msg("\"%s\" rejected: %s", text, error);
    }
    return r;
}

static void expect_error(const char *text, const char *expected)
{
    route_smarthost r;
    char error[ROUTE_ERROR_MAX] = "";
    assert_false(route_smarthost_parse(text, &r, error, sizeof(error)));
    assert_string_equal(error, expected);
    assert_int_equal(r.count, 0);
}

static void empty_means_mx_routing(void **state)
{
    (void)state;
    assert_int_equal(parse_ok("").count, 0);
    assert_int_equal(parse_ok("  \t ").count, 0);
}

static void every_form(void **state)
{
    (void)state;
    route_smarthost r = parse_ok("Relay.Example.NET, relay2.example.net:587 ,[smtp.isp.example],"
                                 "[192.0.2.25]:2525,[2001:db8::1]:587, [IPv6:2001:DB8:0::2]");
    assert_int_equal(r.count, 6);
    assert_int_equal(r.hosts[0].kind, ROUTE_NAME);
    assert_true(r.hosts[0].mx_lookup);
    assert_string_equal(r.hosts[0].name, "relay.example.net");
    assert_int_equal(r.hosts[0].port, 25);
    assert_true(r.hosts[1].mx_lookup);
    assert_int_equal(r.hosts[1].port, 587);
    assert_int_equal(r.hosts[2].kind, ROUTE_NAME);
    assert_false(r.hosts[2].mx_lookup); /* brackets: A/AAAA only (Postfix's relayhost) */
    assert_string_equal(r.hosts[2].name, "smtp.isp.example");
    assert_int_equal(r.hosts[3].kind, ROUTE_IPV4);
    assert_false(r.hosts[3].mx_lookup);
    assert_string_equal(r.hosts[3].name, "192.0.2.25");
    assert_int_equal(r.hosts[3].port, 2525);
    assert_memory_equal(r.hosts[3].address.bytes, "\xc0\x00\x02\x19", 4);
    assert_int_equal(r.hosts[4].kind, ROUTE_IPV6);
    assert_string_equal(r.hosts[4].name, "2001:db8::1");
    assert_int_equal(r.hosts[4].port, 587);
    assert_int_equal(r.hosts[4].address.bytes[15], 1);
    assert_int_equal(r.hosts[5].kind, ROUTE_IPV6);
    assert_string_equal(r.hosts[5].name, "2001:db8::2");
    assert_int_equal(r.hosts[5].port, 25);
    /* Whether the port was written: SmartHostTls 3 takes 465 instead of a default 25. */
    assert_false(r.hosts[0].port_given);
    assert_true(r.hosts[1].port_given);
    assert_false(r.hosts[2].port_given);
    assert_true(r.hosts[3].port_given);
    assert_false(r.hosts[5].port_given);
    /* A trailing dot (fully qualified) is accepted and dropped; the top port is fine. */
    r = parse_ok("mx.example.com.:65535");
    assert_string_equal(r.hosts[0].name, "mx.example.com");
    assert_int_equal(r.hosts[0].port, 65535);
    r = parse_ok("localhost, [relay1]");
    assert_string_equal(r.hosts[0].name, "localhost");
    assert_string_equal(r.hosts[1].name, "relay1");
    assert_false(r.hosts[1].mx_lookup);
}

static void mistakes_are_named_at_their_character(void **state)
{
    (void)state;
    expect_error("mx.example.com:0", "at character 16: port \"0\" is not a number from 1 to 65535");
    expect_error("mx.example.com:65536",
                 "at character 16: port \"65536\" is not a number from 1 to 65535");
    expect_error("mx.example.com:", "at character 16: port \"\" is not a number from 1 to 65535");
    expect_error("mx.example.com:-1",
                 "at character 16: port \"-1\" is not a number from 1 to 65535");
    expect_error("a.example, ,b.example",
                 "at character 11: empty entry (two commas, or a comma at the start or end)");
    expect_error("a.example,",
                 "at character 11: empty entry (two commas, or a comma at the start or end)");
    expect_error("2001:db8::1",
                 "at character 1: an IPv6 address must be in brackets, e.g. [2001:db8::1]:25");
    expect_error("x, 192.0.2.1", "at character 4: \"192.0.2.1\" ends in an all-digit label (an "
                                 "address must be written in brackets, e.g. [192.0.2.1])");
    expect_error("[192.0.2.1", "at character 1: '[' without ']'");
    expect_error("[192.0.2.1]x", "at character 12: expected ':' and a port after ']'");
    expect_error("[192.0.2.300]", "at character 2: octet 4 is 300, above 255: 192.0.2.300");
    expect_error("[2001:db8::1::2]:25",
                 "at character 2: '::' appears more than once: 2001:db8::1::2");
    expect_error("mail_relay.example", "at character 1: \"mail_relay.example\" is not a host "
                                       "name (only letters, digits, hyphens and dots)");
    expect_error("-mx.example", "at character 1: \"-mx.example\" has a label that begins or "
                                "ends with a hyphen");
    expect_error("mx..example", "at character 1: \"mx..example\" has an empty label or one "
                                "longer than 63 characters");
    expect_error("[]", "at character 2: \"\" is empty");
    expect_error("[IPv6:mx.example]", "at character 2: \"IPv6:mx.example\" is not an IPv6 "
                                      "address after \"IPv6:\"");
}

static void length_limits(void **state)
{
    (void)state;
    char text[ROUTE_TEXT_MAX + 2];
    /* 63-byte labels are fine, 64 are not. */
    memset(text, 'a', 63);
    strcpy(text + 63, ".example");
    assert_int_equal(parse_ok(text).count, 1);
    memset(text, 'a', 64);
    strcpy(text + 64, ".example");
    expect_error(text, "at character 1: \"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
                       "aaaaaaa\" has an empty label or one longer than 63 characters");
    /* 253 bytes in all, not 254. */
    memset(text, 0, sizeof(text));
    for (int i = 0; i < 4; i++) {
        memset(text + i * 64, 'b', 63);
        text[i * 64 + 63] = '.';
    }
    text[253] = '\0'; /* four labels: 63+1+63+1+63+1+61 = 253 */
    assert_int_equal(strlen(text), 253);
    assert_int_equal(parse_ok(text).count, 1);
    text[253] = 'b';
    text[254] = '\0';
    route_smarthost r;
    char error[ROUTE_ERROR_MAX];
    assert_false(route_smarthost_parse(text, &r, error, sizeof(error)));
    assert_non_null(strstr(error, "is longer than 253 characters, the longest DNS name"));
    /* 16 hosts, not 17. */
    strcpy(text, "h0.example");
    for (int i = 1; i < ROUTE_HOSTS_MAX; i++) {
        snprintf(text + strlen(text), 32, ",h%d.example", i);
    }
    assert_int_equal(parse_ok(text).count, ROUTE_HOSTS_MAX);
    size_t at = strlen(text) + 2;
    strcat(text, ",h16.example");
    char expected[64];
    snprintf(expected, sizeof(expected), "at character %zu: more than 16 hosts", at);
    expect_error(text, expected);
    memset(text, ' ', ROUTE_TEXT_MAX + 1);
    text[ROUTE_TEXT_MAX + 1] = '\0';
    expect_error(text, "is longer than 4096 characters");
}

static void expect_domain(const char *address, route_kind kind, const char *name)
{
    route_domain d;
    char error[ROUTE_ERROR_MAX] = "";
    if (!route_recipient_domain(address, &d, error, sizeof(error))) {
        fail_msg("%s: %s", address, error);
    }
    assert_int_equal(d.kind, kind);
    assert_string_equal(d.name, name);
}

static void expect_domain_error(const char *address, const char *expected)
{
    route_domain d;
    char error[ROUTE_ERROR_MAX] = "";
    assert_false(route_recipient_domain(address, &d, error, sizeof(error)));
    assert_string_equal(error, expected);
}

static void recipient_domains(void **state)
{
    (void)state;
    expect_domain("Bob@Example.COM", ROUTE_NAME, "example.com");
    expect_domain("bob@mail.example.com.", ROUTE_NAME, "mail.example.com");
    expect_domain("\"a@b\"@example.org", ROUTE_NAME, "example.org");
    expect_domain("x@[192.0.2.1]", ROUTE_IPV4, "192.0.2.1");
    expect_domain("x@[IPv6:2001:DB8::0:1]", ROUTE_IPV6, "2001:db8::1");
    expect_domain("x@[ipv6:::1]", ROUTE_IPV6, "::1");
    expect_domain_error("postmaster", "the address has no domain (no '@')");
    expect_domain_error("bob@", "the address has an empty domain");
    expect_domain_error("x@[2001:db8::1]", "the address literal is not IPv4 and has no \"IPv6:\" "
                                           "tag (RFC 5321 4.1.3)");
    expect_domain_error("x@[IPv6:192.0.2.1]", "the address literal is not an IPv6 address");
    expect_domain_error("x@[192.0.2.1", "the address literal does not end with ']'");
    expect_domain_error("x@[192.0.2.01]", "the address literal is not an IPv4 address");
    expect_domain_error("x@exa mple.com", "the domain \"exa mple.com\" is not a host name (only "
                                          "letters, digits, hyphens and dots)");
    expect_domain_error("x@10.0.0.1", "the domain \"10.0.0.1\" ends in an all-digit label (an "
                                      "address must be written in brackets, e.g. [192.0.2.1])");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(empty_means_mx_routing),
            cmocka_unit_test(every_form),
            cmocka_unit_test(mistakes_are_named_at_their_character),
            cmocka_unit_test(length_limits),
            cmocka_unit_test(recipient_domains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
