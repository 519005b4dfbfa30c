#include "store/smarthost_password.h"

#include "store/restricted_key.h"

#include <dpapi.h>
#include <sddl.h>
#include <wincrypt.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ties the blob to this use: another program's CryptUnprotectData without it fails. */
static const char entropy_text[] = "imsrelay SmartHostPassword";

DWORD smarthost_password_set(const wchar_t *key_path, const char *password)
{
    size_t len = strlen(password);
    if (len == 0 || len > SMARTHOST_PASSWORD_MAX) {
        return ERROR_INVALID_PARAMETER;
    }
    DATA_BLOB in = {(DWORD)len, (BYTE *)password};
    DATA_BLOB entropy = {sizeof(entropy_text) - 1, (BYTE *)entropy_text};
    DATA_BLOB out = {0, NULL};
    if (!CryptProtectData(&in, L"imsrelay smart host password", &entropy, NULL, NULL,
                          CRYPTPROTECT_LOCAL_MACHINE | CRYPTPROTECT_UI_FORBIDDEN, &out)) {
        return GetLastError();
    }
    HKEY key;
    DWORD error = restricted_key_open(key_path, KEY_SET_VALUE, true, &key);
    if (error == ERROR_SUCCESS) {
        error = RegSetValueExW(key, SMARTHOST_PASSWORD_VALUE, 0, REG_BINARY, out.pbData,
                               out.cbData);
        RegCloseKey(key);
    }
    LocalFree(out.pbData);
    return error;
}

DWORD smarthost_password_clear(const wchar_t *key_path)
{
    HKEY key;
    DWORD error = restricted_key_open(key_path, KEY_SET_VALUE, false, &key);
    if (error != ERROR_SUCCESS) {
        return error;
    }
    error = RegDeleteValueW(key, SMARTHOST_PASSWORD_VALUE);
    RegCloseKey(key);
    return error;
}

void smarthost_password_key_acl(const wchar_t *key_path, char *out, size_t size)
{
    if (size > 0) {
        out[0] = '\0';
    }
    HKEY key;
    if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, key_path, 0, READ_CONTROL, &key) != ERROR_SUCCESS) {
        return;
    }
    BYTE buffer[1024];
    DWORD length = sizeof(buffer);
    if (RegGetKeySecurity(key, DACL_SECURITY_INFORMATION, buffer, &length) == ERROR_SUCCESS) {
        LPSTR sddl = NULL;
        if (ConvertSecurityDescriptorToStringSecurityDescriptorA(
                    buffer, SDDL_REVISION_1, DACL_SECURITY_INFORMATION, &sddl, NULL)) {
            snprintf(out, size, "%s", sddl);
            LocalFree(sddl);
        }
    }
    RegCloseKey(key);
}

bool smarthost_password_stored(const wchar_t *key_path)
{
    HKEY key;
    if (restricted_key_open(key_path, KEY_QUERY_VALUE, false, &key) != ERROR_SUCCESS) {
        return false;
    }
    DWORD type = 0, size = 0;
    LSTATUS rc = RegQueryValueExW(key, SMARTHOST_PASSWORD_VALUE, NULL, &type, NULL, &size);
    RegCloseKey(key);
    return rc == ERROR_SUCCESS && type == REG_BINARY && size > 0;
}

DWORD smarthost_password_get(const wchar_t *key_path, char *out, size_t size)
{
    if (size > 0) {
        out[0] = '\0';
    }
    HKEY key;
    DWORD error = restricted_key_open(key_path, KEY_QUERY_VALUE, false, &key);
    if (error != ERROR_SUCCESS) {
        return error;
    }
    BYTE blob[4096];
    DWORD type = 0, blob_size = sizeof(blob);
    error = RegQueryValueExW(key, SMARTHOST_PASSWORD_VALUE, NULL, &type, blob, &blob_size);
    RegCloseKey(key);
    if (error != ERROR_SUCCESS) {
        return error == ERROR_MORE_DATA ? ERROR_INVALID_DATA : error;
    }
    if (type != REG_BINARY || blob_size == 0) {
        return ERROR_INVALID_DATA;
    }
    DATA_BLOB in = {blob_size, blob};
    DATA_BLOB entropy = {sizeof(entropy_text) - 1, (BYTE *)entropy_text};
    DATA_BLOB plain = {0, NULL};
    if (!CryptUnprotectData(&in, NULL, &entropy, NULL, NULL, CRYPTPROTECT_UI_FORBIDDEN, &plain)) {
        return ERROR_INVALID_DATA;
    }
    error = ERROR_SUCCESS;
    if (plain.cbData == 0 || plain.cbData >= size || plain.cbData > SMARTHOST_PASSWORD_MAX ||
        memchr(plain.pbData, '\0', plain.cbData)) {
        error = ERROR_INVALID_DATA;
    } else {
        memcpy(out, plain.pbData, plain.cbData);
        out[plain.cbData] = '\0';
    }
    SecureZeroMemory(plain.pbData, plain.cbData);
    LocalFree(plain.pbData);
    return error;
}
