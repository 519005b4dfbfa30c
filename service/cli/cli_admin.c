#include "cli/cli_admin.h"

#include <stdio.h>
#include <stdlib.h>

#include "common/win_text.h"
#include "config/reg_reader.h"

int cli_admin_fail(const wchar_t *what, DWORD error)
{
    if (error == ERROR_ACCESS_DENIED) {
        fwprintf(stderr,
                 L"imsrelay: %ls: access denied. Run this command as an administrator (an "
                 L"elevated command prompt).\n",
                 what);
        return 5;
    }
    char text[512];
    win_text_error(error, text, sizeof(text));
    wchar_t *wide = win_text_wide_from_utf8(text);
    fwprintf(stderr, L"imsrelay: %ls: %ls (error %lu)\n", what, wide ? wide : L"", error);
    free(wide);
    return 1;
}

static bool is_administrator(void)
{
    SID_IDENTIFIER_AUTHORITY nt = SECURITY_NT_AUTHORITY;
    PSID admins;
    BOOL member = FALSE;
    if (!AllocateAndInitializeSid(&nt, 2, SECURITY_BUILTIN_DOMAIN_RID, DOMAIN_ALIAS_RID_ADMINS, 0,
                                  0, 0, 0, 0, 0, &admins)) {
        return true; /* cannot tell: let the operations themselves say */
    }
    if (!CheckTokenMembership(NULL, admins, &member)) {
        member = TRUE;
    }
    FreeSid(admins);
    return member != FALSE;
}

int cli_admin_require(const wchar_t *command)
{
    if (is_administrator()) {
        return 0;
    }
    fwprintf(stderr,
             L"imsrelay: %ls needs administrator rights. Open a command prompt with \"Run as "
             L"administrator\" and run it again.\n",
             command);
    return 5;
}

bool cli_admin_mail_root(wchar_t *out, DWORD out_chars)
{
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *config = reg_reader_read_config(&diags);
    regio_diag_list_free(&diags);
    if (!config) {
        return false;
    }
    /* regio expands it when the machine can; an unexpanded default is expanded here. */
    wchar_t *raw = win_text_wide_from_utf8(config->mail_root);
    regio_config_free(config);
    if (!raw) {
        return false;
    }
    DWORD n = ExpandEnvironmentStringsW(raw, out, out_chars);
    free(raw);
    return n > 0 && n <= out_chars;
}

DWORD cli_admin_make_folder(const wchar_t *path, bool *created)
{
    if (created) {
        *created = false;
    }
    if (CreateDirectoryW(path, NULL)) {
        if (created) {
            *created = true;
        }
        return ERROR_SUCCESS;
    }
    if (GetLastError() == ERROR_ALREADY_EXISTS) {
        return ERROR_SUCCESS;
    }
    if (GetLastError() != ERROR_PATH_NOT_FOUND) {
        return GetLastError();
    }
    wchar_t parent[MAX_PATH];
    wcsncpy(parent, path, MAX_PATH - 1);
    parent[MAX_PATH - 1] = L'\0';
    wchar_t *slash = wcsrchr(parent, L'\\');
    if (!slash || slash == parent) {
        return ERROR_PATH_NOT_FOUND;
    }
    *slash = L'\0';
    DWORD s = cli_admin_make_folder(parent, NULL);
    if (s != ERROR_SUCCESS) {
        return s;
    }
    return cli_admin_make_folder(path, created);
}
