/* SMTP AUTH accounts: the right password works, nothing else does, and the store never
 * holds anything a reader could log in with. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <windows.h>

#include <stdio.h>
#include <string.h>

#include "store/user_store.h"

/* A scratch key per run, so tests never meet the real store or each other. */
static wchar_t key_path[256];
/* Few iterations keep the tests quick; the production count is tested once. */
#define FAST 1000

static int setup(void **state)
{
    (void)state;
    _snwprintf(key_path, 256, L"SOFTWARE\\imsrelay-tests\\users-%lu-%lu",
               (unsigned long)GetCurrentProcessId(), (unsigned long)GetTickCount());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    RegDeleteTreeW(HKEY_LOCAL_MACHINE, key_path);
    RegDeleteKeyW(HKEY_LOCAL_MACHINE, key_path);
    return 0;
}

static void right_password_verifies_and_wrong_ones_do_not(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "alice", "correct horse", FAST), ERROR_SUCCESS);
    assert_true(user_store_verify(key_path, "alice", "correct horse"));
    assert_false(user_store_verify(key_path, "alice", "correct hors"));
    assert_false(user_store_verify(key_path, "alice", "correct horse "));
    assert_false(user_store_verify(key_path, "alice", ""));
    assert_false(user_store_verify(key_path, "bob", "correct horse"));
}

static void account_names_are_case_insensitive(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "Alice", "pw1", FAST), ERROR_SUCCESS);
    assert_true(user_store_verify(key_path, "ALICE", "pw1"));
    assert_true(user_store_verify(key_path, "alice", "pw1"));
    /* Passwords are not. */
    assert_false(user_store_verify(key_path, "alice", "PW1"));
}

static void setting_again_replaces_the_password(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "alice", "old", FAST), ERROR_SUCCESS);
    assert_int_equal(user_store_set(key_path, "alice", "new", FAST), ERROR_SUCCESS);
    assert_false(user_store_verify(key_path, "alice", "old"));
    assert_true(user_store_verify(key_path, "alice", "new"));
}

static void removed_account_no_longer_verifies(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "alice", "pw", FAST), ERROR_SUCCESS);
    assert_int_equal(user_store_remove(key_path, "alice"), ERROR_SUCCESS);
    assert_false(user_store_verify(key_path, "alice", "pw"));
    assert_int_equal(user_store_remove(key_path, "alice"), ERROR_FILE_NOT_FOUND);
}

static void collect(void *ctx, const char *account)
{
    char *all = ctx;
    strcat(all, account);
    strcat(all, ";");
}

static void list_names_every_account(void **state)
{
    (void)state;
    char all[256] = "";
    assert_int_equal(user_store_list(key_path, collect, all), ERROR_SUCCESS);
    assert_string_equal(all, ""); /* no key yet: no accounts, no error */
    assert_int_equal(user_store_set(key_path, "alice", "a", FAST), ERROR_SUCCESS);
    assert_int_equal(user_store_set(key_path, "Bob", "b", FAST), ERROR_SUCCESS);
    assert_int_equal(user_store_list(key_path, collect, all), ERROR_SUCCESS);
    assert_non_null(strstr(all, "alice;"));
    assert_non_null(strstr(all, "bob;"));
}

static void stored_value_is_a_salted_hash_not_the_password(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "alice", "sekrit-password", FAST), ERROR_SUCCESS);
    assert_int_equal(user_store_set(key_path, "bob", "sekrit-password", FAST), ERROR_SUCCESS);
    BYTE a[128], b[128];
    DWORD a_size = sizeof(a), b_size = sizeof(b), type = 0;
    HKEY key;
    assert_int_equal(RegOpenKeyExW(HKEY_LOCAL_MACHINE, key_path, 0, KEY_READ, &key), 0);
    assert_int_equal(RegQueryValueExW(key, L"alice", NULL, &type, a, &a_size), 0);
    assert_int_equal(type, REG_BINARY);
    assert_int_equal(RegQueryValueExW(key, L"bob", NULL, &type, b, &b_size), 0);
    RegCloseKey(key);
    assert_int_equal(a_size, 53);
    for (DWORD i = 0; i + 6 <= a_size; i++) {
        assert_memory_not_equal(a + i, "sekrit", 6);
    }
    /* Same password, different salt, different hash. */
    assert_memory_not_equal(a + 5, b + 5, 48);
}

static void corrupt_records_never_verify(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "alice", "pw", FAST), ERROR_SUCCESS);
    HKEY key;
    assert_int_equal(RegOpenKeyExW(HKEY_LOCAL_MACHINE, key_path, 0, KEY_ALL_ACCESS, &key), 0);
    BYTE record[53];
    DWORD size = sizeof(record);
    assert_int_equal(RegQueryValueExW(key, L"alice", NULL, NULL, record, &size), 0);
    /* Truncated. */
    assert_int_equal(RegSetValueExW(key, L"alice", 0, REG_BINARY, record, 40), 0);
    assert_false(user_store_verify(key_path, "alice", "pw"));
    /* Wrong type. */
    assert_int_equal(RegSetValueExW(key, L"alice", 0, REG_SZ, (const BYTE *)L"pw", 6), 0);
    assert_false(user_store_verify(key_path, "alice", "pw"));
    /* An absurd iteration count is refused rather than computed. */
    record[1] = record[2] = record[3] = record[4] = 0xff;
    assert_int_equal(RegSetValueExW(key, L"alice", 0, REG_BINARY, record, 53), 0);
    assert_false(user_store_verify(key_path, "alice", "pw"));
    RegCloseKey(key);
}

static void bad_account_names_and_passwords_are_refused(void **state)
{
    (void)state;
    assert_non_null(user_store_account_problem(""));
    assert_non_null(user_store_account_problem("a\tb"));
    assert_non_null(user_store_account_problem("dom\\user"));
    assert_non_null(user_store_account_problem(
            "x234567890123456789012345678901234567890123456789012345678901234X"));
    assert_null(user_store_account_problem("alice@example.com"));
    assert_int_equal(user_store_set(key_path, "", "pw", FAST), ERROR_INVALID_PARAMETER);
    assert_int_equal(user_store_set(key_path, "alice", "", FAST), ERROR_INVALID_PARAMETER);
    char long_password[USER_PASSWORD_MAX + 2];
    memset(long_password, 'p', sizeof(long_password) - 1);
    long_password[sizeof(long_password) - 1] = 0;
    assert_int_equal(user_store_set(key_path, "alice", long_password, FAST),
                     ERROR_INVALID_PARAMETER);
    assert_false(user_store_verify(key_path, "a\r\nb", "pw"));
}

static void production_iteration_count_works(void **state)
{
    (void)state;
    assert_int_equal(user_store_set(key_path, "alice", "pw", USER_STORE_ITERATIONS), ERROR_SUCCESS);
    assert_true(user_store_verify(key_path, "alice", "pw"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
            T(right_password_verifies_and_wrong_ones_do_not),
            T(account_names_are_case_insensitive),
            T(setting_again_replaces_the_password),
            T(removed_account_no_longer_verifies),
            T(list_names_every_account),
            T(stored_value_is_a_salted_hash_not_the_password),
            T(corrupt_records_never_verify),
            T(bad_account_names_and_passwords_are_refused),
            T(production_iteration_count_works),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
