/* imsrelay.exe user add|remove|list: the accounts SMTP AUTH accepts (see user_store.h). */
#include <windows.h>

#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "cli/cli_password.h"
#include "cli/commands.h"
#include "common/win_text.h"
#include "store/user_store.h"

static int user_usage(void)
{
    fputs("usage: imsrelay.exe user add ACCOUNT [--password-stdin]\n"
          "       imsrelay.exe user remove ACCOUNT\n"
          "       imsrelay.exe user list\n"
          "add asks for the password twice on a console; with --password-stdin (or when\n"
          "standard input is not a console) it reads one line from standard input.\n",
          stderr);
    return 2;
}

static void print_error(const char *what, DWORD error)
{
    if (error == ERROR_ACCESS_DENIED) {
        fprintf(stderr,
                "imsrelay: %s: access denied; run this from an elevated (Administrator) "
                "command prompt\n",
                what);
        return;
    }
    char text[512];
    win_text_error(error, text, sizeof(text));
    fprintf(stderr, "imsrelay: %s: error %lu: %s\n", what, (unsigned long)error, text);
}

static void print_account(void *ctx, const char *account)
{
    (*(int *)ctx)++;
    printf("%s\n", account);
}

int cmd_user(int argc, wchar_t **argv)
{
    if (argc < 2) {
        return user_usage();
    }
    const wchar_t *action = argv[1];
    if (!_wcsicmp(action, L"list") && argc == 2) {
        int count = 0;
        DWORD error = user_store_list(USER_STORE_KEY, print_account, &count);
        if (error != ERROR_SUCCESS) {
            print_error("cannot list accounts", error);
            return 1;
        }
        if (count == 0) {
            fputs("no accounts\n", stderr);
        }
        return 0;
    }
    bool add = !_wcsicmp(action, L"add");
    bool remove = !_wcsicmp(action, L"remove");
    bool password_stdin = add && argc == 4 && !wcscmp(argv[3], L"--password-stdin");
    if (!(add || remove) || !(argc == 3 || password_stdin)) {
        return user_usage();
    }
    char account[USER_ACCOUNT_MAX * 4 + 1];
    if (!win_text_utf8_into(argv[2], account, sizeof(account))) {
        fputs("imsrelay: the account name is too long\n", stderr);
        return 2;
    }
    const char *problem = user_store_account_problem(account);
    if (problem) {
        fprintf(stderr, "imsrelay: %s\n", problem);
        return 2;
    }
    if (remove) {
        DWORD error = user_store_remove(USER_STORE_KEY, account);
        if (error == ERROR_FILE_NOT_FOUND) {
            fprintf(stderr, "imsrelay: no account %s\n", account);
            return 1;
        }
        if (error != ERROR_SUCCESS) {
            print_error("cannot remove the account", error);
            return 1;
        }
        printf("account %s removed\n", account);
        return 0;
    }
    char password[USER_PASSWORD_MAX + 1];
    if (!cli_password_ask(password_stdin, USER_PASSWORD_MAX, password, sizeof(password)) ||
        password[0] == 0) {
        fputs("imsrelay: no password given (1 to 256 bytes)\n", stderr);
        SecureZeroMemory(password, sizeof(password));
        return 2;
    }
    DWORD error = user_store_set(USER_STORE_KEY, account, password, USER_STORE_ITERATIONS);
    SecureZeroMemory(password, sizeof(password));
    if (error != ERROR_SUCCESS) {
        print_error("cannot save the account", error);
        return 1;
    }
    printf("account %s saved\n", account);
    return 0;
}
