#include "store/user_store.h"

#include "common/win_text.h"
#include "store/restricted_key.h"

#include <bcrypt.h>

#include <string.h>

#define RECORD_VERSION 1
#define SALT_SIZE      16
#define HASH_SIZE      32
#define RECORD_SIZE    (1 + 4 + SALT_SIZE + HASH_SIZE)
/* Bounds an attacker-independent but admin-editable field: a record claiming billions of
 * iterations must not stall a session thread for hours. */
#define MIN_ITERATIONS 1
#define MAX_ITERATIONS 10000000

const char *user_store_account_problem(const char *account)
{
    size_t len = strlen(account);
    if (len == 0) {
        return "the account name is empty";
    }
    if (len > USER_ACCOUNT_MAX) {
        return "the account name is longer than 64 characters";
    }
    for (const unsigned char *p = (const unsigned char *)account; *p; p++) {
        if (*p < 0x20 || *p == 0x7f) {
            return "the account name contains a control character";
        }
        if (*p == '\\') {
            return "the account name contains a backslash";
        }
    }
    return NULL;
}

/* The value name: the account in UTF-16, lower-cased so "Alice" and "alice" are one. */
static bool account_value_name(const char *account, wchar_t *out, size_t out_chars)
{
    if (user_store_account_problem(account)) {
        return false;
    }
    if (!win_text_wide_into(account, out, out_chars)) {
        return false;
    }
    CharLowerW(out);
    return true;
}

static bool derive(const char *password, const BYTE *salt, DWORD iterations, BYTE *out)
{
    BCRYPT_ALG_HANDLE alg;
    if (!BCRYPT_SUCCESS(BCryptOpenAlgorithmProvider(&alg, BCRYPT_SHA256_ALGORITHM, NULL,
                                                    BCRYPT_ALG_HANDLE_HMAC_FLAG))) {
        return false;
    }
    NTSTATUS status = BCryptDeriveKeyPBKDF2(alg, (PUCHAR)password, (ULONG)strlen(password),
                                            (PUCHAR)salt, SALT_SIZE, iterations, out, HASH_SIZE, 0);
    BCryptCloseAlgorithmProvider(alg, 0);
    return BCRYPT_SUCCESS(status);
}

DWORD user_store_set(const wchar_t *key_path, const char *account, const char *password,
                     DWORD iterations)
{
    wchar_t name[USER_ACCOUNT_MAX + 1];
    if (!account_value_name(account, name, USER_ACCOUNT_MAX + 1)) {
        return ERROR_INVALID_PARAMETER;
    }
    size_t password_len = strlen(password);
    if (password_len == 0 || password_len > USER_PASSWORD_MAX || iterations < MIN_ITERATIONS ||
        iterations > MAX_ITERATIONS) {
        return ERROR_INVALID_PARAMETER;
    }
    BYTE record[RECORD_SIZE];
    record[0] = RECORD_VERSION;
    for (int i = 0; i < 4; i++) {
        record[1 + i] = (BYTE)(iterations >> (8 * i));
    }
    BYTE *salt = record + 5;
    if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, salt, SALT_SIZE, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
        return ERROR_INTERNAL_ERROR;
    }
    if (!derive(password, salt, iterations, record + 5 + SALT_SIZE)) {
        return ERROR_INTERNAL_ERROR;
    }
    HKEY key;
    DWORD error = restricted_key_open(key_path, KEY_SET_VALUE, true, &key);
    if (error == ERROR_SUCCESS) {
        error = RegSetValueExW(key, name, 0, REG_BINARY, record, sizeof(record));
        RegCloseKey(key);
    }
    SecureZeroMemory(record, sizeof(record));
    return error;
}

DWORD user_store_remove(const wchar_t *key_path, const char *account)
{
    wchar_t name[USER_ACCOUNT_MAX + 1];
    if (!account_value_name(account, name, USER_ACCOUNT_MAX + 1)) {
        return ERROR_INVALID_PARAMETER;
    }
    HKEY key;
    DWORD error = restricted_key_open(key_path, KEY_SET_VALUE, false, &key);
    if (error != ERROR_SUCCESS) {
        return error;
    }
    error = RegDeleteValueW(key, name);
    RegCloseKey(key);
    return error;
}

DWORD user_store_list(const wchar_t *key_path, void (*visit)(void *ctx, const char *account),
                      void *ctx)
{
    HKEY key;
    DWORD error = restricted_key_open(key_path, KEY_QUERY_VALUE, false, &key);
    if (error == ERROR_FILE_NOT_FOUND) {
        return ERROR_SUCCESS; /* no key yet: no accounts */
    }
    if (error != ERROR_SUCCESS) {
        return error;
    }
    for (DWORD i = 0;; i++) {
        wchar_t name[USER_ACCOUNT_MAX + 2];
        DWORD name_chars = USER_ACCOUNT_MAX + 2;
        DWORD type = 0;
        error = RegEnumValueW(key, i, name, &name_chars, NULL, &type, NULL, NULL);
        if (error == ERROR_NO_MORE_ITEMS) {
            error = ERROR_SUCCESS;
            break;
        }
        if (error == ERROR_MORE_DATA) {
            continue; /* a name too long to be ours: not an account */
        }
        if (error != ERROR_SUCCESS) {
            break;
        }
        char account[USER_ACCOUNT_MAX * 4 + 1];
        if (type == REG_BINARY &&
            WideCharToMultiByte(CP_UTF8, 0, name, -1, account, sizeof(account), NULL, NULL) > 0) {
            visit(ctx, account);
        }
    }
    RegCloseKey(key);
    return error;
}

/* Reads and checks one record. false when absent or malformed. */
static bool read_record(const wchar_t *key_path, const wchar_t *name, BYTE *record)
{
    HKEY key;
    if (restricted_key_open(key_path, KEY_QUERY_VALUE, false, &key) != ERROR_SUCCESS) {
        return false;
    }
    DWORD type = 0;
    DWORD size = RECORD_SIZE;
    DWORD error = RegQueryValueExW(key, name, NULL, &type, record, &size);
    RegCloseKey(key);
    return error == ERROR_SUCCESS && type == REG_BINARY && size == RECORD_SIZE &&
           record[0] == RECORD_VERSION;
}

static DWORD record_iterations(const BYTE *record)
{
    DWORD n = 0;
    for (int i = 3; i >= 0; i--) {
        n = (n << 8) | record[1 + i];
    }
    return n;
}

bool user_store_verify(const wchar_t *key_path, const char *account, const char *password)
{
    wchar_t name[USER_ACCOUNT_MAX + 1];
    BYTE record[RECORD_SIZE];
    bool known = account_value_name(account, name, USER_ACCOUNT_MAX + 1) &&
                 strlen(password) <= USER_PASSWORD_MAX && read_record(key_path, name, record);
    DWORD iterations = known ? record_iterations(record) : USER_STORE_ITERATIONS;
    if (iterations < MIN_ITERATIONS || iterations > MAX_ITERATIONS) {
        known = false;
        iterations = USER_STORE_ITERATIONS;
    }
    if (!known) {
        /* Same work as a real check, against a salt nobody has. */
        memset(record, 0, sizeof(record));
    }
    BYTE derived[HASH_SIZE];
    if (!derive(password, record + 5, iterations, derived)) {
        return false;
    }
    /* Constant time: every byte is compared whatever the first difference. */
    BYTE difference = 0;
    for (int i = 0; i < HASH_SIZE; i++) {
        difference |= (BYTE)(derived[i] ^ record[5 + SALT_SIZE + i]);
    }
    SecureZeroMemory(derived, sizeof(derived));
    return known && difference == 0;
}
