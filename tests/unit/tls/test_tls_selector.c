/* TlsCertificate as administrators write it: thumbprints copied from certmgr, PowerShell or
 * openssl, host names with or without "CN=", and the mistakes they make. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tls_selector.h"

static const uint8_t expected_thumbprint[TLS_SELECTOR_THUMBPRINT_BYTES] = {
        0x8f, 0x43, 0x28, 0x8a, 0xd2, 0x72, 0xf3, 0x10, 0x3b, 0x6f,
        0xb1, 0x42, 0x84, 0x85, 0xea, 0x30, 0x14, 0xc0, 0xbc, 0xfe};

static void assert_thumbprint(const char *text)
{
    struct tls_selector s;
    const char *why = NULL;
    assert_true(tls_selector_parse(text, strlen(text), &s, &why));
    assert_int_equal(s.kind, TLS_SELECTOR_THUMBPRINT);
    assert_memory_equal(s.thumbprint, expected_thumbprint, sizeof expected_thumbprint);
}

static void assert_host(const char *text, const char *host)
{
    struct tls_selector s;
    const char *why = NULL;
    assert_true(tls_selector_parse(text, strlen(text), &s, &why));
    assert_int_equal(s.kind, TLS_SELECTOR_HOST_NAME);
    assert_string_equal(s.host_name, host);
}

static void assert_rejected(const char *text, size_t len, const char *reason_part)
{
    struct tls_selector s;
    const char *why = NULL;
    assert_false(tls_selector_parse(text, len, &s, &why));
    assert_non_null(why);
    assert_non_null(strstr(why, reason_part));
}

static void thumbprints_in_the_forms_windows_and_openssl_print(void **state)
{
    (void)state;
    assert_thumbprint("8F43288AD272F3103B6FB1428485EA3014C0BCFE"); /* PowerShell */
    assert_thumbprint("8f 43 28 8a d2 72 f3 10 3b 6f b1 42 84 85 ea 30 14 c0 bc fe"); /* certmgr */
    assert_thumbprint("8F:43:28:8A:D2:72:F3:10:3B:6F:B1:42:84:85:EA:30:14:C0:BC:FE"); /* openssl */
    assert_thumbprint("  8F43288AD272F3103B6FB1428485EA3014C0BCFE \r\n");
}

static void the_invisible_mark_certmgr_copies_is_ignored(void **state)
{
    (void)state;
    assert_thumbprint("\xE2\x80\x8E"
                      "8f 43 28 8a d2 72 f3 10 3b 6f b1 42 84 85 ea 30 14 c0 bc fe");
    assert_thumbprint("\xEF\xBB\xBF"
                      "8F43288AD272F3103B6FB1428485EA3014C0BCFE");
}

static void a_thumbprint_with_a_digit_too_many_or_few_is_an_error(void **state)
{
    (void)state;
    const char *short_one = "8F43288AD272F3103B6FB1428485EA3014C0BCF";
    const char *long_one = "8F43288AD272F3103B6FB1428485EA3014C0BCFE0";
    assert_rejected(short_one, strlen(short_one), "40 hexadecimal digits");
    assert_rejected(long_one, strlen(long_one), "40 hexadecimal digits");
    const char *split = "8 F43288AD272F3103B6FB1428485EA3014C0BCFE";
    assert_rejected(split, strlen(split), "between pairs");
}

static void host_names_with_or_without_cn_lower_cased(void **state)
{
    (void)state;
    assert_host("mail.example.com", "mail.example.com");
    assert_host("CN=Mail.Example.COM", "mail.example.com");
    assert_host("cn=relay1", "relay1");
    assert_host("mail.example.com.", "mail.example.com");
    assert_host("*.example.com", "*.example.com");
    /* Short runs of hexadecimal letters are names, not broken thumbprints. */
    assert_host("cafe", "cafe");
}

static void what_is_neither_is_refused_with_a_reason(void **state)
{
    (void)state;
    assert_rejected("", 0, "empty");
    assert_rejected("   ", 3, "empty");
    assert_rejected("mail example com", 16, "neither");
    assert_rejected("CN=mail.example.com, O=Example", 30, "neither");
    assert_rejected("-mail.example.com", 17, "neither");
    assert_rejected("mail..example.com", 17, "neither");
    assert_rejected("mail.*.example.com", 18, "neither");
    assert_rejected("mail\0.example.com", 17, "NUL");
    char long_label[80];
    memset(long_label, 'a', 64);
    memcpy(long_label + 64, ".example", 9);
    assert_rejected(long_label, strlen(long_label), "neither");
    /* A thumbprint-like run stays one, even behind "CN=" or before a final dot. */
    const char *thumb_dot = "8F43288AD272F3103B6FB1428485EA3014C0BCFE0.";
    assert_rejected(thumb_dot, strlen(thumb_dot), "40 hexadecimal digits");
    char huge[600];
    memset(huge, 'a', sizeof huge);
    assert_rejected(huge, sizeof huge, "longer");
}

static void host_name_rules_for_certificates(void **state)
{
    (void)state;
    assert_true(tls_selector_host_name_valid("mail.example.com", false));
    assert_true(tls_selector_host_name_valid("a-b.c", false));
    assert_false(tls_selector_host_name_valid("*.example.com", false));
    assert_true(tls_selector_host_name_valid("*.example.com", true));
    assert_false(tls_selector_host_name_valid("a-.example", false));
    assert_false(tls_selector_host_name_valid("mail_1.example", false));
    assert_false(tls_selector_host_name_valid("", false));
}

static void thumbprint_text_is_what_windows_shows(void **state)
{
    (void)state;
    char text[41];
    tls_selector_thumbprint_text(expected_thumbprint, text);
    assert_string_equal(text, "8F43288AD272F3103B6FB1428485EA3014C0BCFE");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(thumbprints_in_the_forms_windows_and_openssl_print),
            cmocka_unit_test(the_invisible_mark_certmgr_copies_is_ignored),
            cmocka_unit_test(a_thumbprint_with_a_digit_too_many_or_few_is_an_error),
            cmocka_unit_test(host_names_with_or_without_cn_lower_cased),
            cmocka_unit_test(what_is_neither_is_refused_with_a_reason),
            cmocka_unit_test(host_name_rules_for_certificates),
            cmocka_unit_test(thumbprint_text_is_what_windows_shows),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
