/* uninstall's configuration backup: a key exported by reg_export_key() and imported back
 * with `regedit /s` must come back byte for byte, whatever its values hold (quotes,
 * backslashes, strings without terminator or with odd sizes, empty lines in lists, every
 * type, long data, subkeys). Otherwise uninstalling would lose or change configuration. */
#include <windows.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <cmocka.h>

#include "store/reg_export.h"

typedef struct sample {
    const wchar_t *name;
    DWORD type;
    const void *data;
    DWORD size;
} sample;

static wchar_t key_path[128];
static wchar_t child_path[160];
static wchar_t file[MAX_PATH];

static const wchar_t quoted[] = L"mx \"one\" \\ two\\";
static const wchar_t unterminated[] = {L'a', L'b', L'c'};
static const wchar_t with_newline[] = L"line one\r\nline two";
static const wchar_t embedded_nul[] = {L'a', 0, L'b', 0};
static const wchar_t expand[] = L"%ProgramData%\\imsrelay";
static const wchar_t multi[] = L"192.168.17.0;255.255.255.0\0\0# comment \"q\" \\\0"
                               L"2001:db8::/32\0";
static const wchar_t multi_unterminated[] = {L'1', L'0', L'.', L'0', 0, L'x'};
static const BYTE odd[] = {'a', 0, 'b'};
static const DWORD dword = 0xDEADBEEF;
static const BYTE short_dword[] = {1, 2, 3};
static const uint64_t qword = 0x0123456789ABCDEFull;
static BYTE big[100000];

static const sample samples[] = {
        {L"Quoted \"name\" \\ here", REG_SZ, quoted, sizeof(quoted)},
        {L"", REG_SZ, L"the default value", sizeof(L"the default value")},
        {L"Unterminated", REG_SZ, unterminated, sizeof(unterminated)},
        {L"WithNewline", REG_SZ, with_newline, sizeof(with_newline)},
        {L"EmbeddedNul", REG_SZ, embedded_nul, sizeof(embedded_nul)},
        /* Not here: a REG_SZ of an odd byte count. It is exported exactly (hex(1)), but Wine's
         * regedit drops the odd byte on import; imsrelay reports such a value as corrupt. */
        {L"EmptyString", REG_SZ, L"", sizeof(L"")},
        {L"Expand", REG_EXPAND_SZ, expand, sizeof(expand)},
        {L"RelayDenyList", REG_MULTI_SZ, multi, sizeof(multi)},
        {L"MultiUnterminated", REG_MULTI_SZ, multi_unterminated, sizeof(multi_unterminated)},
        {L"RelayFlags", REG_DWORD, &dword, sizeof(dword)},
        {L"ShortDword", REG_DWORD, short_dword, sizeof(short_dword)},
        {L"Qword", REG_QWORD, &qword, sizeof(qword)},
        {L"EmptyBinary", REG_BINARY, NULL, 0},
        {L"None", REG_NONE, odd, sizeof(odd)},
        {L"Big", REG_BINARY, big, sizeof(big)},
};

static void write_samples(const wchar_t *path)
{
    HKEY key;
    assert_int_equal(
            RegCreateKeyExW(HKEY_LOCAL_MACHINE, path, 0, NULL, 0, KEY_ALL_ACCESS, NULL, &key, NULL),
            ERROR_SUCCESS);
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        assert_int_equal(RegSetValueExW(key, samples[i].name, 0, samples[i].type, samples[i].data,
                                        samples[i].size),
                         ERROR_SUCCESS);
    }
    RegCloseKey(key);
}

/* Equal bytes; or, for a string type whose data lacked terminators, the same bytes with
 * the terminators added (Wine's regedit adds them on import; the text is the same). */
static bool same_value(const sample *expected, DWORD type, const BYTE *data, DWORD size)
{
    if (type != expected->type || size < expected->size ||
        (expected->size && memcmp(data, expected->data, expected->size))) {
        return false;
    }
    if (size == expected->size) {
        return true;
    }
    bool string = type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ;
    for (DWORD i = expected->size; i < size; i++) {
        if (data[i] != 0) {
            return false;
        }
    }
    return string && size - expected->size <= 2 * sizeof(wchar_t);
}

static void check_samples(const wchar_t *path)
{
    HKEY key;
    assert_int_equal(RegOpenKeyExW(HKEY_LOCAL_MACHINE, path, 0, KEY_READ, &key), ERROR_SUCCESS);
    static BYTE data[sizeof(big) + 16];
    int bad = 0;
    for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
        DWORD type = 0;
        DWORD size = sizeof(data);
        LSTATUS s = RegQueryValueExW(key, samples[i].name, NULL, &type, data, &size);
        if (s != ERROR_SUCCESS) {
            print_error("value \"%ls\" did not come back (error %ld)\n", samples[i].name, (long)s);
            bad++;
        } else if (!same_value(&samples[i], type, data, size)) {
            print_error("value \"%ls\" came back as type %lu, %lu bytes (was type %lu, %lu "
                        "bytes)\n",
                        samples[i].name, type, size, samples[i].type, samples[i].size);

            bad++;
        }
    }
    assert_int_equal(bad, 0);
    DWORD values = 0;
    RegQueryInfoKeyW(key, NULL, NULL, NULL, NULL, NULL, NULL, &values, NULL, NULL, NULL, NULL);
    assert_int_equal(values, sizeof(samples) / sizeof(samples[0]));
    RegCloseKey(key);
}

static void run_regedit(const wchar_t *reg_file)
{
    wchar_t command[MAX_PATH + 32];
    swprintf(command, sizeof(command) / sizeof(command[0]), L"regedit.exe /s \"%ls\"", reg_file);
    STARTUPINFOW si = {.cb = sizeof(si)};
    PROCESS_INFORMATION pi;
    assert_true(CreateProcessW(NULL, command, NULL, NULL, FALSE, 0, NULL, NULL, &si, &pi));
    assert_int_equal(WaitForSingleObject(pi.hProcess, 60000), WAIT_OBJECT_0);
    CloseHandle(pi.hThread);
    CloseHandle(pi.hProcess);
}

static int setup(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(big); i++) {
        big[i] = (BYTE)(i * 7 + 3);
    }
    DWORD pid = GetCurrentProcessId();
    swprintf(key_path, 128, L"SOFTWARE\\imsrelay-test-regexport-%lu", pid);
    swprintf(child_path, 160, L"%ls\\Users", key_path);
    wchar_t dir[MAX_PATH];
    GetTempPathW(MAX_PATH, dir);
    swprintf(file, MAX_PATH, L"%lsimsrelay-regexport-%lu.reg", dir, pid);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    RegDeleteTreeW(HKEY_LOCAL_MACHINE, key_path);
    DeleteFileW(file);
    return 0;
}

static void export_then_import_restores_every_value(void **state)
{
    (void)state;
    write_samples(key_path);
    write_samples(child_path);
    assert_int_equal(reg_export_key(key_path, file), ERROR_SUCCESS);
    assert_int_equal(RegDeleteTreeW(HKEY_LOCAL_MACHINE, key_path), ERROR_SUCCESS);
    run_regedit(file);
    check_samples(key_path);
    check_samples(child_path);
}

static void file_is_what_regedit_writes(void **state)
{
    (void)state;
    write_samples(key_path);
    assert_int_equal(reg_export_key(key_path, file), ERROR_SUCCESS);
    FILE *f = _wfopen(file, L"rb");
    assert_non_null(f);
    static wchar_t text[400000];
    size_t n = fread(text, sizeof(wchar_t), sizeof(text) / sizeof(text[0]) - 1, f);
    fclose(f);
    text[n] = 0;
    assert_int_equal(text[0], 0xFEFF); /* UTF-16LE with BOM */
    assert_non_null(wcsstr(text, L"Windows Registry Editor Version 5.00\r\n"));
    assert_non_null(wcsstr(text, L"\"RelayFlags\"=dword:deadbeef\r\n"));
    assert_non_null(
            wcsstr(text, L"\"Quoted \\\"name\\\" \\\\ here\"=\"mx \\\"one\\\" \\\\ two\\\\\"\r\n"));
    assert_non_null(wcsstr(text, L"@=\"the default value\"\r\n"));
    assert_non_null(wcsstr(text, L"\"Qword\"=hex(b):ef,cd,ab,89,67,45,23,01\r\n"));
    /* Long data is wrapped as regedit wraps it: no line much longer than 80 characters. */
    size_t longest = 0;
    for (wchar_t *line = text; *line;) {
        wchar_t *end = wcsstr(line, L"\r\n");
        size_t len = end ? (size_t)(end - line) : wcslen(line);
        longest = len > longest ? len : longest;
        line = end ? end + 2 : line + len;
    }
    assert_true(longest < 120);
}

static void missing_key_is_reported_and_writes_nothing(void **state)
{
    (void)state;
    assert_int_equal(reg_export_key(L"SOFTWARE\\imsrelay-test-no-such-key", file),
                     ERROR_FILE_NOT_FOUND);
    assert_int_equal(GetFileAttributesW(file), INVALID_FILE_ATTRIBUTES);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test_teardown(export_then_import_restores_every_value, teardown),
            cmocka_unit_test_teardown(file_is_what_regedit_writes, teardown),
            cmocka_unit_test_teardown(missing_key_is_reported_and_writes_nothing, teardown),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
