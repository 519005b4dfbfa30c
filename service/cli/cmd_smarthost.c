/* imsrelay.exe smarthost show | password [--password-stdin] | password --clear: the smart
 * host settings at a glance, and the login password (see store/smarthost_password.h). The
 * password is never printed, by any command. */
#include <windows.h>

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "cli/cli_admin.h"
#include "cli/cli_password.h"
#include "cli/commands.h"
#include "config/reg_reader.h"
#include "store/smarthost_password.h"

static int smarthost_usage(void)
{
    fputs("usage: imsrelay.exe smarthost show\n"
          "       imsrelay.exe smarthost password [--password-stdin]\n"
          "       imsrelay.exe smarthost password --clear\n"
          "password asks for the SmartHostAccount password twice on a console; with\n"
          "--password-stdin (or when standard input is not a console) it reads one line.\n",
          stderr);
    return 2;
}

static const char *smart_host_tls_meaning(uint32_t value)
{
    switch (value) {
    case 0:
        return "never";
    case 1:
        return "STARTTLS when offered, certificate not verified";
    case 2:
        return "STARTTLS required, certificate verified";
    default:
        return "implicit TLS (port 465 unless given), certificate verified";
    }
}

static const char *mx_tls_meaning(uint32_t value)
{
    switch (value) {
    case 0:
        return "never";
    case 1:
        return "opportunistic, certificate not verified";
    default:
        return "required, certificate verified";
    }
}

static int smarthost_show(void)
{
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    regio_config *c = reg_reader_read_config(&diags);
    if (!c) {
        regio_diag_list_free(&diags);
        fputs("imsrelay: the configuration cannot be read (out of memory)\n", stderr);
        return 1;
    }
    printf("SmartHost: %s\n",
           c->smart_host && *c->smart_host ? c->smart_host : "(none: MX delivery)");
    printf("SmartHostTls: %lu (%s)\n", (unsigned long)c->smart_host_tls.value,
           smart_host_tls_meaning(c->smart_host_tls.value));
    printf("MxTls: %lu (%s)\n", (unsigned long)c->mx_tls.value, mx_tls_meaning(c->mx_tls.value));
    printf("SmartHostAccount: %s\n", c->smart_host_account && *c->smart_host_account
                                             ? c->smart_host_account
                                             : "(none: no AUTH)");
    bool stored = smarthost_password_stored(SMARTHOST_PASSWORD_KEY);
    const char *state = "not stored";
    if (stored) {
        /* Decrypted only to see that it can be (a .reg from another machine cannot), then
         * wiped: never printed. */
        char password[SMARTHOST_PASSWORD_MAX + 1];
        DWORD error = smarthost_password_get(SMARTHOST_PASSWORD_KEY, password, sizeof(password));
        SecureZeroMemory(password, sizeof(password));
        state = error == ERROR_SUCCESS ? "stored (DPAPI, this machine only)"
                : error == ERROR_INVALID_DATA
                        ? "stored, but it does not decrypt on this machine (set it again)"
                        : "stored, but it cannot be read by this account";
    }
    printf("Password: %s\n", state);
    char acl[512];
    smarthost_password_key_acl(SMARTHOST_PASSWORD_KEY, acl, sizeof(acl));
    if (acl[0]) {
        /* SY, BA: full control; LS (the service's account): read; P: nothing inherited. */
        printf("Password key ACL: %s\n", acl);
    }
    if (c->smart_host_account && *c->smart_host_account && !stored) {
        puts("warning: SmartHostAccount is set but no password is stored: mail for the smart "
             "host stays queued (imsrelay.exe smarthost password)");
    }
    if (c->smart_host_account && *c->smart_host_account && c->smart_host_tls.value == 0) {
        puts("warning: SmartHostTls is 0: the password is sent only inside TLS, so mail for the "
             "smart host stays queued");
    }
    regio_config_free(c);
    regio_diag_list_free(&diags);
    return 0;
}

int cmd_smarthost(int argc, wchar_t **argv)
{
    if (argc == 2 && !_wcsicmp(argv[1], L"show")) {
        return smarthost_show();
    }
    if (argc < 2 || argc > 3 || _wcsicmp(argv[1], L"password") != 0) {
        return smarthost_usage();
    }
    bool clear = argc == 3 && !wcscmp(argv[2], L"--clear");
    bool from_stdin = argc == 3 && !wcscmp(argv[2], L"--password-stdin");
    if (argc == 3 && !clear && !from_stdin) {
        return smarthost_usage();
    }
    int denied = cli_admin_require(L"smarthost password");
    if (denied) {
        return denied;
    }
    if (clear) {
        DWORD error = smarthost_password_clear(SMARTHOST_PASSWORD_KEY);
        if (error == ERROR_FILE_NOT_FOUND) {
            puts("no smart host password was stored");
            return 0;
        }
        if (error != ERROR_SUCCESS) {
            return cli_admin_fail(L"cannot remove the smart host password", error);
        }
        puts("smart host password removed");
        return 0;
    }
    char password[CLI_PASSWORD_MAX + 1];
    if (!cli_password_ask(from_stdin, SMARTHOST_PASSWORD_MAX, password, sizeof(password)) ||
        password[0] == '\0') {
        SecureZeroMemory(password, sizeof(password));
        fprintf(stderr, "imsrelay: no password given (1 to %d bytes)\n", SMARTHOST_PASSWORD_MAX);
        return 2;
    }
    DWORD error = smarthost_password_set(SMARTHOST_PASSWORD_KEY, password);
    SecureZeroMemory(password, sizeof(password));
    if (error != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot store the smart host password", error);
    }
    puts("smart host password stored (DPAPI, machine scope; only SYSTEM, Administrators and the "
         "service can read it)");
    return 0;
}
