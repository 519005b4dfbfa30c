/* imsrelay.exe policy show | export FILE.pol: Group Policy for a fleet of relays.
 *   show     what HKLM\SOFTWARE\Policies\imsrelay holds, value by value, as Group Policy
 *            (or an administrator) wrote it
 *   export   this server's effective settings as a Registry.pol file that Group Policy
 *            objects and LGPO tools import, so one relay configured and checked by hand
 *            can be pushed to all (values that name one machine are left out). */
#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <wchar.h>

#include "cli/commands.h"
#include "common/win_text.h"
#include "config/live_config.h"
#include "identity.h"
#include "policy_file.h"

#define VALUE_NAME_UNITS 16384
#define VALUE_DATA_MAX   (16u * 1024 * 1024 + 2)

static int policy_usage(void)
{
    fputs("usage: imsrelay.exe policy show\n"
          "       imsrelay.exe policy export FILE.pol\n",
          stderr);
    return 2;
}

static void print_data(DWORD type, const BYTE *data, DWORD size)
{
    if (type == REG_DWORD && size == 4) {
        DWORD v;
        memcpy(&v, data, 4);
        printf("REG_DWORD %lu\n", (unsigned long)v);
        return;
    }
    if (type == REG_SZ || type == REG_EXPAND_SZ || type == REG_MULTI_SZ) {
        printf("%s", type == REG_SZ          ? "REG_SZ"
                     : type == REG_EXPAND_SZ ? "REG_EXPAND_SZ"
                                             : "REG_MULTI_SZ");
        size_t units = size / sizeof(wchar_t);
        const wchar_t *text = (const wchar_t *)data;
        size_t start = 0;
        int lines = 0;
        for (size_t i = 0; i <= units; i++) {
            if (i == units || text[i] == L'\0') {
                if (i > start || (type != REG_MULTI_SZ && lines == 0)) {
                    wchar_t *line = calloc(i - start + 1, sizeof(wchar_t));
                    if (line) {
                        memcpy(line, text + start, (i - start) * sizeof(wchar_t));
                        char *utf8 = win_text_utf8_from_wide(line);
                        printf("%s%s", lines == 0 ? " " : " | ", utf8 ? utf8 : "");
                        free(utf8);
                        free(line);
                    }
                    lines++;
                }
                if (type != REG_MULTI_SZ) {
                    break;
                }
                start = i + 1;
            }
        }
        printf("\n");
        return;
    }
    printf("type %lu, %lu bytes\n", (unsigned long)type, (unsigned long)size);
}

static int policy_show(void)
{
    HKEY key;
    LSTATUS rc = RegOpenKeyExW(HKEY_LOCAL_MACHINE, IDENTITY_WIDE(IDENTITY_POLICY_KEY), 0, KEY_READ,
                               &key);
    if (rc == ERROR_FILE_NOT_FOUND) {
        printf("HKLM\\%s does not exist: no policy is in force\n", IDENTITY_POLICY_KEY);
        return 0;
    }
    if (rc != ERROR_SUCCESS) {
        char why[256];
        win_text_error((unsigned long)rc, why, sizeof(why));
        fprintf(stderr, "imsrelay: cannot open HKLM\\%s: %s\n", IDENTITY_POLICY_KEY, why);
        return 1;
    }
    wchar_t *name = malloc(VALUE_NAME_UNITS * sizeof(wchar_t));
    BYTE *data = malloc(VALUE_DATA_MAX);
    int rc_out = 0;
    size_t count = 0;
    printf("HKLM\\%s:\n", IDENTITY_POLICY_KEY);
    for (DWORD i = 0; name && data; i++) {
        DWORD name_units = VALUE_NAME_UNITS, type = 0, size = VALUE_DATA_MAX;
        rc = RegEnumValueW(key, i, name, &name_units, NULL, &type, data, &size);
        if (rc == ERROR_NO_MORE_ITEMS) {
            break;
        }
        if (rc != ERROR_SUCCESS) {
            fprintf(stderr, "imsrelay: listing the policy key failed (error %ld)\n", (long)rc);
            rc_out = 1;
            break;
        }
        char *utf8 = win_text_utf8_from_wide(name);
        printf("  %s: ", utf8 ? utf8 : "?");
        free(utf8);
        print_data(type, data, size);
        count++;
    }
    if (!name || !data) {
        fputs("imsrelay: out of memory\n", stderr);
        rc_out = 1;
    }
    printf("%zu value%s; `imsrelay.exe check` shows which are in force\n", count,
           count == 1 ? "" : "s");
    free(name);
    free(data);
    RegCloseKey(key);
    return rc_out;
}

static int policy_export(const wchar_t *file)
{
    live_config live;
    if (!live_config_read(&live)) {
        fputs("imsrelay: out of memory reading the configuration\n", stderr);
        return 1;
    }
    uint8_t *bytes = NULL;
    size_t len = 0, skipped = 0;
    bool built = policy_file_from_config(live.config, &bytes, &len, &skipped);
    size_t errors = regio_diag_count(&live.diags, REGIO_SEV_ERROR);
    live_config_free(&live);
    if (!built) {
        fputs("imsrelay: out of memory\n", stderr);
        return 1;
    }
    HANDLE h =
            CreateFileW(file, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    DWORD written = 0;
    bool ok = h != INVALID_HANDLE_VALUE && WriteFile(h, bytes, (DWORD)len, &written, NULL) &&
              written == len;
    DWORD error = ok ? 0 : GetLastError();
    if (h != INVALID_HANDLE_VALUE) {
        ok = CloseHandle(h) && ok;
    }
    free(bytes);
    if (!ok) {
        char why[256];
        win_text_error(error, why, sizeof(why));
        fprintf(stderr, "imsrelay: cannot write the policy file: %s\n", why);
        return 1;
    }
    printf("policy file written: %zu bytes, records for every setting set on this server "
           "(MailRoot, SmtpHostName, ListenAddresses and IPEnableRouter are this machine's "
           "own and left out)\n",
           len);
    if (skipped) {
        printf("warning: %zu value%s that the service cannot use %s left out; see "
               "imsrelay.exe check\n",
               skipped, skipped == 1 ? "" : "s", skipped == 1 ? "was" : "were");
    }
    if (errors) {
        printf("warning: the configuration has %zu error%s: check it before pushing it to a "
               "fleet\n",
               errors, errors == 1 ? "" : "s");
    }
    return 0;
}

int cmd_policy(int argc, wchar_t **argv)
{
    SetConsoleOutputCP(CP_UTF8);
    if (argc == 2 && !wcscmp(argv[1], L"show")) {
        return policy_show();
    }
    if (argc == 3 && !wcscmp(argv[1], L"export")) {
        return policy_export(argv[2]);
    }
    return policy_usage();
}
