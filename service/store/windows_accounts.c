#include "store/windows_accounts.h"

#include "common/win_text.h"

#include <windows.h>
#include <wchar.h>

#define ACCOUNT_TEXT_MAX 256

bool windows_accounts_usable(void)
{
    HMODULE ntdll = GetModuleHandleW(L"ntdll.dll");
    return !(ntdll && GetProcAddress(ntdll, "wine_get_version") != NULL);
}

bool windows_accounts_verify(const char *user, const char *password)
{
    wchar_t wuser[ACCOUNT_TEXT_MAX], wpassword[ACCOUNT_TEXT_MAX], *domain = NULL;
    if (!win_text_wide_into(user, wuser, ACCOUNT_TEXT_MAX) ||
        !win_text_wide_into(password, wpassword, ACCOUNT_TEXT_MAX)) {
        return false;
    }
    wchar_t *name = wuser;
    wchar_t *backslash = wcschr(wuser, L'\\');
    if (backslash) { /* DOMAIN\user */
        *backslash = 0;
        domain = wuser;
        name = backslash + 1;
    }
    HANDLE token = NULL;
    bool ok = LogonUserW(name, domain, wpassword, LOGON32_LOGON_NETWORK, LOGON32_PROVIDER_DEFAULT,
                         &token) != 0;
    if (ok) {
        CloseHandle(token);
    }
    SecureZeroMemory(wpassword, sizeof(wpassword));
    return ok;
}
