/* policy export's Registry.pol, read back by a reader of its own written from the format's
 * documentation (signature, version, [key;value;type;size;data] records in UTF-16LE): it
 * holds exactly the settings that were set and mean the same on every server. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "config.h"
#include "policy_file.h"

typedef struct record {
    char key[128];
    char value[64];
    uint32_t type;
    uint32_t size;
    const uint8_t *data;
} record;

static uint32_t u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t u16(const uint8_t *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

/* An ASCII string of UTF-16LE units up to its NUL; returns the position after the NUL. */
static size_t read_string(const uint8_t *p, size_t at, size_t len, char *out, size_t size)
{
    size_t n = 0;
    for (; at + 1 < len; at += 2) {
        uint16_t unit = u16(p + at);
        if (unit == 0) {
            out[n] = 0;
            return at + 2;
        }
        assert_true(unit < 0x80 && n + 1 < size);
        out[n++] = (char)unit;
    }
    fail_msg("string without its NUL");
    return len;
}

static size_t read_records(const uint8_t *p, size_t len, record *out, size_t max)
{
    assert_true(len >= 8);
    assert_int_equal(u32(p), 0x67655250u);
    assert_memory_equal(p, "PReg", 4);
    assert_int_equal(u32(p + 4), 1);
    size_t at = 8, n = 0;
    while (at < len) {
        assert_true(n < max);
        record *r = &out[n++];
        assert_int_equal(u16(p + at), '[');
        at = read_string(p, at + 2, len, r->key, sizeof(r->key));
        assert_int_equal(u16(p + at), ';');
        at = read_string(p, at + 2, len, r->value, sizeof(r->value));
        assert_int_equal(u16(p + at), ';');
        r->type = u32(p + at + 2);
        assert_int_equal(u16(p + at + 6), ';');
        r->size = u32(p + at + 8);
        assert_int_equal(u16(p + at + 12), ';');
        at += 14;
        assert_true(at + r->size + 2 <= len);
        r->data = p + at;
        at += r->size;
        assert_int_equal(u16(p + at), ']');
        at += 2;
    }
    return n;
}

static regio_raw_value dword_value(const char *name, const uint8_t *le)
{
    return (regio_raw_value){.name = name, .type = REGIO_REG_DWORD, .data = le, .size = 4};
}

static void exports_exactly_the_settings_that_were_set(void **state)
{
    (void)state;
    static const uint8_t three[4] = {3, 0, 0, 0}, port[4] = {0xC5, 0x09, 0, 0};
    /* "10.0.0.0/8\0# office\0\0" in UTF-16LE */
    uint8_t list[64] = {0};
    const char *lines = "10.0.0.0/8\0# office\0";
    size_t units = 20;
    for (size_t i = 0; i < units; i++) {
        list[2 * i] = (uint8_t)lines[i];
    }
    static const uint8_t host[] = {'m', 0, 'x', 0, 0, 0};
    regio_raw_value values[] = {
            dword_value("RelayFlags", three),
            {.name = "RelayAllowList",
             .type = REGIO_REG_MULTI_SZ,
             .data = list,
             .size = 2 * units + 2,
             .from_policy = true},
            dword_value("ListenPort", port),
            {.name = "SmtpHostName", .type = REGIO_REG_SZ, .data = host, .size = sizeof(host)},
    };
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *c = regio_config_build(values, 4, false, &diags);
    assert_non_null(c);
    uint8_t *file = NULL;
    size_t len = 0, skipped = 9;
    assert_true(policy_file_from_config(c, &file, &len, &skipped));
    assert_int_equal(skipped, 0);

    record r[8];
    size_t n = read_records(file, len, r, 8);
    /* SmtpHostName names one machine: not exported. Unset values: not exported. */
    assert_int_equal(n, 3);
    for (size_t i = 0; i < n; i++) {
        assert_string_equal(r[i].key, "SOFTWARE\\Policies\\imsrelay");
    }
    assert_string_equal(r[0].value, "RelayFlags");
    assert_int_equal(r[0].type, 4);
    assert_int_equal(r[0].size, 4);
    assert_int_equal(u32(r[0].data), 3);
    assert_string_equal(r[1].value, "RelayAllowList");
    assert_int_equal(r[1].type, 7);
    assert_int_equal(r[1].size, 2 * units + 2);
    assert_memory_equal(r[1].data, list, 2 * units + 2);
    assert_string_equal(r[2].value, "ListenPort");
    assert_int_equal(u32(r[2].data), 2501);
    free(file);
    regio_config_free(c);
    regio_diag_list_free(&diags);
}

static void an_unusable_value_is_left_out_and_counted(void **state)
{
    (void)state;
    static const uint8_t port[4] = {0, 0, 0, 0}; /* ListenPort 0: out of bounds */
    regio_raw_value values[] = {dword_value("ListenPort", port)};
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *c = regio_config_build(values, 1, false, &diags);
    uint8_t *file = NULL;
    size_t len = 0, skipped = 0;
    assert_true(policy_file_from_config(c, &file, &len, &skipped));
    assert_int_equal(skipped, 1);
    assert_int_equal(len, 8); /* the header alone */
    free(file);
    regio_config_free(c);
    regio_diag_list_free(&diags);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(exports_exactly_the_settings_that_were_set),
            cmocka_unit_test(an_unusable_value_is_left_out_and_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
