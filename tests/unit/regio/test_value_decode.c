/* Decoding raw value bytes: lists, strings and DWORDs in every shape the registry can hold. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "raw_bytes.h"
#include "value_decode.h"

typedef struct fixture {
    regio_diag_list diags;
    regio_decoded_list list;
    regio_value_state state;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof(*f));
    regio_diag_list_init(&f->diags);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    free(f->list.text);
    free(f->list.lines);
    regio_diag_list_free(&f->diags);
    free(f);
    raw_bytes_free_all();
    return 0;
}

static void decode(fixture *f, uint32_t type, const uint8_t *data, size_t size)
{
    free(f->list.text);
    free(f->list.lines);
    regio_raw_value v = {.name = "RelayDenyList", .type = type, .data = data, .size = size};
    assert_true(regio_decode_list(&v, "RelayDenyList", &f->list, &f->state, &f->diags));
}

static void assert_lines(const fixture *f, const char *const *expected, size_t count)
{
    assert_int_equal(f->list.count, count);
    for (size_t i = 0; i < count; i++) {
        assert_string_equal(f->list.lines[i], expected[i]);
    }
}

static void multi_sz_with_its_terminators(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_MULTI_SZ,
           U16("10.0.0.1\0"
               "192.168.0.0;255.255.0.0\0\0"));
    const char *expected[] = {"10.0.0.1", "192.168.0.0;255.255.0.0"};
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_lines(f, expected, 2);
    assert_int_equal(f->diags.count, 0);
}

static void multi_sz_without_terminators_reads_the_same(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_MULTI_SZ,
           U16("10.0.0.1\0"
               "192.168.0.0;255.255.0.0"));
    const char *expected[] = {"10.0.0.1", "192.168.0.0;255.255.0.0"};
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_lines(f, expected, 2);
    assert_int_equal(f->diags.count, 0);
}

static void multi_sz_with_one_terminator_reads_the_same(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_MULTI_SZ,
           U16("10.0.0.1\0"
               "192.168.0.0;255.255.0.0\0"));
    const char *expected[] = {"10.0.0.1", "192.168.0.0;255.255.0.0"};
    assert_lines(f, expected, 2);
}

static void odd_byte_count_ignores_the_last_byte_with_a_warning(void **state)
{
    fixture *f = *state;
    /* "10.0.0.1\0" and the first byte of another unit */
    uint8_t data[19];
    memcpy(data, utf16("10.0.0.1\0", 9), 18);
    data[18] = '7';
    decode(f, REGIO_REG_MULTI_SZ, bytes(data, sizeof(data)), sizeof(data));
    const char *expected[] = {"10.0.0.1"};
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_lines(f, expected, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayDenyList", "odd number of bytes") >=
                0);
}

static void empty_values_have_no_lines(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_MULTI_SZ, NULL, 0);
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_int_equal(f->list.count, 0);
    decode(f, REGIO_REG_MULTI_SZ, U16("\0"));
    assert_int_equal(f->list.count, 0);
    decode(f, REGIO_REG_MULTI_SZ, U16("\0\0"));
    assert_int_equal(f->list.count, 0);
    decode(f, REGIO_REG_MULTI_SZ, bytes("\0", 1), 1); /* one byte: odd, and nothing in it */
    assert_int_equal(f->list.count, 0);
    assert_int_equal(f->state, REGIO_VALUE_OK);
}

static void embedded_empty_strings_keep_line_numbers(void **state)
{
    fixture *f = *state;
    /* `reg add /d "a\0\0b"` stores this; the deny entry after the empty string must count. */
    decode(f, REGIO_REG_MULTI_SZ,
           U16("10.0.0.1\0\0"
               "10.0.0.2\0\0"));
    const char *expected[] = {"10.0.0.1", "", "10.0.0.2"};
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_lines(f, expected, 3);
    int i = find_diag(&f->diags, REGIO_SEV_INFO, "RelayDenyList", "empty string");
    assert_true(i >= 0);
    assert_int_equal(f->diags.items[i].line, 2);
}

static void leading_empty_string_is_line_one(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_MULTI_SZ,
           U16("\0"
               "10.0.0.2\0\0"));
    const char *expected[] = {"", "10.0.0.2"};
    assert_lines(f, expected, 2);
}

static void reg_sz_is_a_one_line_list_with_a_warning(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_SZ, U16("192.168.1.0;255.255.255.0\0"));
    const char *expected[] = {"192.168.1.0;255.255.255.0"};
    assert_int_equal(f->state, REGIO_VALUE_COERCED);
    assert_lines(f, expected, 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_WARNING, "RelayDenyList", "REG_SZ") >= 0);
}

static void reg_expand_sz_is_a_one_line_list_not_expanded(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_EXPAND_SZ, U16("%ADDR%"));
    const char *expected[] = {"%ADDR%"};
    assert_int_equal(f->state, REGIO_VALUE_COERCED);
    assert_lines(f, expected, 1);
}

static void reg_sz_with_text_after_its_nul_is_unreadable(void **state)
{
    fixture *f = *state;
    decode(f, REGIO_REG_SZ,
           U16("10.0.0.1\0"
               "10.0.0.2\0"));
    assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(f->list.count, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList", "after its terminating") >=
                0);
}

static void other_types_are_unreadable_with_an_error(void **state)
{
    fixture *f = *state;
    const uint32_t types[] = {REGIO_REG_NONE,
                              REGIO_REG_BINARY,
                              REGIO_REG_DWORD,
                              REGIO_REG_QWORD,
                              REGIO_REG_DWORD_BIG_ENDIAN,
                              REGIO_REG_LINK,
                              42};
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        regio_diag_list_free(&f->diags);
        decode(f, types[i], U16("10.0.0.1\0\0"));
        assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
        assert_int_equal(f->list.count, 0);
        assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList",
                              "expected REG_MULTI_SZ") >= 0);
    }
}

static void unreadable_or_missing_bytes_are_unreadable(void **state)
{
    fixture *f = *state;
    regio_raw_value v = {.name = "RelayDenyList", .type = REGIO_REG_MULTI_SZ, .unreadable = true};
    assert_true(regio_decode_list(&v, "RelayDenyList", &f->list, &f->state, &f->diags));
    assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
    /* A size without bytes is a reader bug; it must not be dereferenced. */
    regio_raw_value w = {.name = "RelayDenyList", .type = REGIO_REG_MULTI_SZ, .size = 20};
    assert_true(regio_decode_list(&w, "RelayDenyList", &f->list, &f->state, &f->diags));
    assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(regio_diag_count(&f->diags, REGIO_SEV_ERROR), 2);
}

/* n copies of "1.2.3.4\0" in UTF-16LE, n * 16 bytes. */
static uint8_t *repeated_lines(size_t n)
{
    uint8_t *data = malloc(n * 16);
    assert_non_null(data);
    const uint8_t *line = utf16("1.2.3.4\0", 8);
    for (size_t i = 0; i < n; i++) {
        memcpy(data + 16 * i, line, 16);
    }
    return data;
}

static void list_of_sixteen_mebibytes_is_read_whole(void **state)
{
    fixture *f = *state;
    size_t n = REGIO_LIST_MAX_BYTES / 16;
    uint8_t *data = repeated_lines(n);
    data[16 * (n - 1)] = '9'; /* the last line differs, so it is really read */
    decode(f, REGIO_REG_MULTI_SZ, data, 16 * n);
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_int_equal(f->list.count, n);
    assert_string_equal(f->list.lines[0], "1.2.3.4");
    assert_string_equal(f->list.lines[n - 1], "9.2.3.4");
    free(data);
}

static void list_beyond_the_limit_is_unreadable(void **state)
{
    fixture *f = *state;
    size_t n = REGIO_LIST_MAX_BYTES / 16 + 1;
    uint8_t *data = repeated_lines(n);
    decode(f, REGIO_REG_MULTI_SZ, data, 16 * n);
    assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
    assert_int_equal(f->list.count, 0);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList", "more than the limit") >= 0);
    free(data);
}

static void unpaired_surrogate_line_is_an_error_that_can_never_match(void **state)
{
    fixture *f = *state;
    /* line 2 is "10.0.0.2" followed by a lone high surrogate */
    uint8_t data[] = {'1', 0, '0', 0, '.', 0, '0',  0,    '.', 0, '0', 0, '.', 0,
                      '1', 0, 0,   0, '1', 0, '0',  0,    '.', 0, '0', 0, '.', 0,
                      '0', 0, '.', 0, '2', 0, 0x00, 0xD8, 0,   0, 0,   0};
    decode(f, REGIO_REG_MULTI_SZ, bytes(data, sizeof(data)), sizeof(data));
    const char *expected[] = {"10.0.0.1", "10.0.0.2\xEF\xBF\xBD"};
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_lines(f, expected, 2);
    int i = find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList", "unpaired surrogate");
    assert_true(i >= 0);
    assert_int_equal(f->diags.items[i].line, 2);
    assert_string_equal(f->diags.items[i].text, "10.0.0.2\xEF\xBF\xBD");
}

static void many_bad_lines_give_a_bounded_number_of_diagnostics(void **state)
{
    fixture *f = *state;
    size_t n = 1000;
    uint8_t *data = malloc(4 * n);
    assert_non_null(data);
    for (size_t i = 0; i < n; i++) { /* a lone low surrogate, then NUL, on every line */
        memcpy(data + 4 * i, "\x00\xDC\x00\x00", 4);
    }
    decode(f, REGIO_REG_MULTI_SZ, data, 4 * n);
    assert_int_equal(f->list.count, n);
    assert_int_equal(f->diags.count, REGIO_LINE_DIAGS_MAX + 1);
    assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayDenyList", "990 more lines") >= 0);
    free(data);
}

static void non_ascii_text_is_utf8(void **state)
{
    fixture *f = *state;
    const uint8_t data[] = {'#', 0, ' ', 0, 0xE9, 0x00, 0x3B, 0x30, 0, 0};
    decode(f, REGIO_REG_MULTI_SZ, bytes(data, sizeof(data)), sizeof(data));
    const char *expected[] = {"# \xC3\xA9\xE3\x80\xBB"};
    assert_lines(f, expected, 1);
}

static void string_decoding(void **state)
{
    fixture *f = *state;
    char *text = NULL;
    regio_raw_value v = {.type = REGIO_REG_EXPAND_SZ};

    v.data = utf16("D:\\mail\0", 8);
    v.size = 16;
    assert_true(regio_decode_string(&v, "MailRoot", &text, &f->state, &f->diags));
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_string_equal(text, "D:\\mail");
    free(text);

    v.data = utf16("D:\\mail", 7); /* no terminator */
    v.size = 14;
    v.type = REGIO_REG_SZ;
    assert_true(regio_decode_string(&v, "MailRoot", &text, &f->state, &f->diags));
    assert_string_equal(text, "D:\\mail");
    free(text);
    assert_int_equal(f->diags.count, 0);

    const struct {
        uint32_t type;
        const uint8_t *data;
        size_t size;
        const char *reason;
    } bad[] = {
            {REGIO_REG_SZ, utf16("\0", 1), 2, "is empty"},
            {REGIO_REG_SZ, NULL, 0, "is empty"},
            {REGIO_REG_SZ, utf16("D:\\a\0D:\\b", 9), 18, "after its terminating NUL"},
            {REGIO_REG_MULTI_SZ, utf16("D:\\a\0\0", 6), 12, "expected REG_SZ or REG_EXPAND_SZ"},
            {REGIO_REG_DWORD, dword_bytes(1), 4, "expected REG_SZ or REG_EXPAND_SZ"},
            {REGIO_REG_SZ, bytes("D\0:\0\x00\xDC", 6), 6, "unpaired surrogate"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        regio_diag_list_free(&f->diags);
        v.type = bad[i].type;
        v.data = bad[i].data;
        v.size = bad[i].size;
        assert_true(regio_decode_string(&v, "MailRoot", &text, &f->state, &f->diags));
        assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
        assert_null(text);
        assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "MailRoot", bad[i].reason) >= 0);
    }
}

static void string_longer_than_a_windows_path_is_unreadable(void **state)
{
    fixture *f = *state;
    size_t units = REGIO_STRING_MAX_UNITS + 1;
    char *ascii = malloc(units);
    assert_non_null(ascii);
    memset(ascii, 'a', units);
    char *text = NULL;
    regio_raw_value v = {.type = REGIO_REG_SZ, .data = utf16(ascii, units), .size = 2 * units};
    assert_true(regio_decode_string(&v, "MailRoot", &text, &f->state, &f->diags));
    assert_int_equal(f->state, REGIO_VALUE_UNREADABLE);
    assert_null(text);
    v.size -= 2; /* exactly the longest */
    assert_true(regio_decode_string(&v, "MailRoot", &text, &f->state, &f->diags));
    assert_int_equal(f->state, REGIO_VALUE_OK);
    assert_int_equal(strlen(text), REGIO_STRING_MAX_UNITS);
    free(text);
    free(ascii);
}

static void dword_decoding(void **state)
{
    fixture *f = *state;
    uint32_t out = 7;
    regio_raw_value v = {.type = REGIO_REG_DWORD, .data = dword_bytes(0x01020304), .size = 4};
    assert_int_equal(regio_decode_dword(&v, "RelayFlags", &out, &f->diags), REGIO_VALUE_OK);
    assert_int_equal(out, 0x01020304);

    const uint8_t eight[8] = {3, 0, 0, 0, 0, 0, 0, 0};
    const struct {
        uint32_t type;
        const uint8_t *data;
        size_t size;
        const char *reason;
    } bad[] = {
            {REGIO_REG_SZ, utf16("3\0", 2), 4, "is REG_SZ, expected REG_DWORD"},
            {REGIO_REG_BINARY, dword_bytes(3), 4, "is REG_BINARY, expected REG_DWORD"},
            {REGIO_REG_QWORD, bytes(eight, 8), 8, "is REG_QWORD, expected REG_DWORD"},
            {REGIO_REG_DWORD_BIG_ENDIAN, dword_bytes(3), 4, "REG_DWORD_BIG_ENDIAN"},
            {REGIO_REG_DWORD, bytes(eight, 3), 3, "of 3 bytes, expected 4"},
            {REGIO_REG_DWORD, bytes(eight, 8), 8, "of 8 bytes, expected 4"},
            {REGIO_REG_DWORD, NULL, 0, "of 0 bytes, expected 4"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        regio_diag_list_free(&f->diags);
        v.type = bad[i].type;
        v.data = bad[i].data;
        v.size = bad[i].size;
        out = 7;
        assert_int_equal(regio_decode_dword(&v, "RelayFlags", &out, &f->diags),
                         REGIO_VALUE_UNREADABLE);
        assert_int_equal(out, 7);
        assert_true(find_diag(&f->diags, REGIO_SEV_ERROR, "RelayFlags", bad[i].reason) >= 0);
    }
}

#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
            T(multi_sz_with_its_terminators),
            T(multi_sz_without_terminators_reads_the_same),
            T(multi_sz_with_one_terminator_reads_the_same),
            T(odd_byte_count_ignores_the_last_byte_with_a_warning),
            T(empty_values_have_no_lines),
            T(embedded_empty_strings_keep_line_numbers),
            T(leading_empty_string_is_line_one),
            T(reg_sz_is_a_one_line_list_with_a_warning),
            T(reg_expand_sz_is_a_one_line_list_not_expanded),
            T(reg_sz_with_text_after_its_nul_is_unreadable),
            T(other_types_are_unreadable_with_an_error),
            T(unreadable_or_missing_bytes_are_unreadable),
            T(list_of_sixteen_mebibytes_is_read_whole),
            T(list_beyond_the_limit_is_unreadable),
            T(unpaired_surrogate_line_is_an_error_that_can_never_match),
            T(many_bad_lines_give_a_bounded_number_of_diagnostics),
            T(non_ascii_text_is_utf8),
            T(string_decoding),
            T(string_longer_than_a_windows_path_is_unreadable),
            T(dword_decoding),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
