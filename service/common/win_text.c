#include "common/win_text.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

wchar_t *win_text_wide_from_utf8(const char *utf8)
{
    if (!utf8) {
        utf8 = "";
    }
    int n = MultiByteToWideChar(CP_UTF8, 0, utf8, -1, NULL, 0);
    if (n <= 0) {
        n = 1;
    }
    wchar_t *wide = malloc((size_t)n * sizeof(wchar_t));
    if (!wide) {
        return NULL;
    }
    if (MultiByteToWideChar(CP_UTF8, 0, utf8, -1, wide, n) <= 0) {
        wide[0] = L'\0';
    }
    return wide;
}

char *win_text_utf8_from_wide(const wchar_t *wide)
{
    if (!wide) {
        wide = L"";
    }
    int n = WideCharToMultiByte(CP_UTF8, 0, wide, -1, NULL, 0, NULL, NULL);
    if (n <= 0) {
        n = 1;
    }
    char *utf8 = malloc((size_t)n);
    if (!utf8) {
        return NULL;
    }
    if (WideCharToMultiByte(CP_UTF8, 0, wide, -1, utf8, n, NULL, NULL) <= 0) {
        utf8[0] = '\0';
    }
    return utf8;
}

bool win_text_wide_into(const char *utf8, wchar_t *out, size_t out_chars)
{
    if (out_chars == 0 || out_chars > 0x7fffffff) {
        return false;
    }
    return MultiByteToWideChar(CP_UTF8, MB_ERR_INVALID_CHARS, utf8, -1, out, (int)out_chars) > 0;
}

bool win_text_utf8_into(const wchar_t *wide, char *out, size_t out_size)
{
    if (out_size == 0 || out_size > 0x7fffffff) {
        return false;
    }
    return WideCharToMultiByte(CP_UTF8, WC_ERR_INVALID_CHARS, wide, -1, out, (int)out_size, NULL,
                               NULL) > 0;
}

char *win_text_copy(const char *text)
{
    size_t len = strlen(text) + 1;
    char *out = malloc(len);
    if (out) {
        memcpy(out, text, len);
    }
    return out;
}

void win_text_error(unsigned long code, char *out, size_t out_size)
{
    wchar_t buffer[512];
    DWORD n = FormatMessageW(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL, code,
                             0, buffer, sizeof(buffer) / sizeof(buffer[0]), NULL);
    while (n > 0 && (buffer[n - 1] == L'\r' || buffer[n - 1] == L'\n' || buffer[n - 1] == L' ' ||
                     buffer[n - 1] == L'.')) {
        buffer[--n] = L'\0';
    }
    if (n == 0) {
        snprintf(out, out_size, "Windows error %lu", code);
        return;
    }
    if (WideCharToMultiByte(CP_UTF8, 0, buffer, -1, out, (int)out_size, NULL, NULL) <= 0) {
        snprintf(out, out_size, "Windows error %lu", code);
    }
}
