#include <windows.h>

#include "cli/cli_password.h"

#include <stdio.h>
#include <string.h>

#include "common/win_text.h"

/* Reads one line without its line end. false on end of input or a line too long. */
static bool read_line(HANDLE in, bool console, size_t max, char *out, size_t size)
{
    if (console) {
        wchar_t wide[CLI_PASSWORD_MAX + 4];
        if (max > CLI_PASSWORD_MAX) {
            max = CLI_PASSWORD_MAX;
        }
        DWORD got = 0;
        if (!ReadConsoleW(in, wide, CLI_PASSWORD_MAX + 3, &got, NULL)) {
            return false;
        }
        wide[got] = 0;
        wide[wcscspn(wide, L"\r\n")] = 0;
        return win_text_utf8_into(wide, out, size) && strlen(out) <= max;
    }
    size_t len = 0;
    for (;;) {
        char c;
        DWORD got = 0;
        if (!ReadFile(in, &c, 1, &got, NULL) || got == 0) {
            break;
        }
        if (c == '\n') {
            break;
        }
        if (len + 1 >= size) {
            return false;
        }
        out[len++] = c;
    }
    if (len > 0 && out[len - 1] == '\r') {
        len--;
    }
    out[len] = 0;
    return true;
}

bool cli_password_ask(bool from_stdin, size_t max, char *password, size_t size)
{
    HANDLE in = GetStdHandle(STD_INPUT_HANDLE);
    DWORD mode = 0;
    bool console = !from_stdin && GetConsoleMode(in, &mode);
    if (!console) {
        return read_line(in, false, max, password, size) && strlen(password) <= max;
    }
    char again[CLI_PASSWORD_MAX + 1];
    SetConsoleMode(in, mode & ~(DWORD)ENABLE_ECHO_INPUT);
    fputs("Password: ", stdout);
    fflush(stdout);
    bool ok = read_line(in, true, max, password, size);
    fputs("\nPassword again: ", stdout);
    fflush(stdout);
    ok = ok && read_line(in, true, max, again, sizeof(again));
    fputs("\n", stdout);
    SetConsoleMode(in, mode);
    if (ok && strcmp(password, again) != 0) {
        fputs("imsrelay: the passwords differ\n", stderr);
        ok = false;
    }
    SecureZeroMemory(again, sizeof(again));
    return ok;
}
