#include "store/restricted_key.h"

#include <sddl.h>

DWORD restricted_key_open(const wchar_t *key_path, REGSAM access, bool create, HKEY *key)
{
    if (!create) {
        return RegOpenKeyExW(HKEY_LOCAL_MACHINE, key_path, 0, access, key);
    }
    PSECURITY_DESCRIPTOR sd = NULL;
    if (!ConvertStringSecurityDescriptorToSecurityDescriptorW(RESTRICTED_KEY_SDDL, SDDL_REVISION_1,
                                                              &sd, NULL)) {
        return GetLastError();
    }
    SECURITY_ATTRIBUTES sa = {sizeof(sa), sd, FALSE};
    DWORD disposition = 0;
    DWORD error = RegCreateKeyExW(HKEY_LOCAL_MACHINE, key_path, 0, NULL, 0, access | WRITE_DAC, &sa,
                                  key, &disposition);
    if (error == ERROR_SUCCESS) {
        error = RegSetKeySecurity(
                *key, DACL_SECURITY_INFORMATION | PROTECTED_DACL_SECURITY_INFORMATION, sd);
        if (error != ERROR_SUCCESS) {
            RegCloseKey(*key);
        }
    }
    LocalFree(sd);
    return error;
}
