#include "store/reg_export.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#define LINE_WIDTH  76
#define NAME_MAX_CH 16384 /* longest registry value name, in characters */

typedef struct writer {
    HANDLE file;
    wchar_t buffer[8192];
    size_t used;
    size_t column; /* characters on the current line, for wrapping hex data like regedit */
    DWORD error;
} writer;

static void flush(writer *w)
{
    if (w->used && !w->error) {
        DWORD written;
        if (!WriteFile(w->file, w->buffer, (DWORD)(w->used * sizeof(wchar_t)), &written, NULL) ||
            written != w->used * sizeof(wchar_t)) {
            w->error = GetLastError() ? GetLastError() : ERROR_WRITE_FAULT;
        }
    }
    w->used = 0;
}

static void put(writer *w, const wchar_t *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (w->used == sizeof(w->buffer) / sizeof(w->buffer[0])) {
            flush(w);
        }
        w->buffer[w->used++] = text[i];
        w->column = text[i] == L'\n' ? 0 : w->column + 1;
    }
}

static void puts_w(writer *w, const wchar_t *text)
{
    put(w, text, wcslen(text));
}

/* A quoted name or string: backslash and double quote escaped, as regedit writes them. */
static void put_quoted(writer *w, const wchar_t *text, size_t len)
{
    put(w, L"\"", 1);
    for (size_t i = 0; i < len; i++) {
        if (text[i] == L'\\' || text[i] == L'"') {
            put(w, L"\\", 1);
        }
        put(w, &text[i], 1);
    }
    put(w, L"\"", 1);
}

static void put_hex(writer *w, DWORD type, const BYTE *data, DWORD size)
{
    wchar_t prefix[16];
    if (type == REG_BINARY) {
        wcscpy(prefix, L"hex:");
    } else {
        swprintf(prefix, sizeof(prefix) / sizeof(prefix[0]), L"hex(%lx):", (unsigned long)type);
    }
    puts_w(w, prefix);
    for (DWORD i = 0; i < size; i++) {
        wchar_t byte[4];
        swprintf(byte, 4, L"%02x", data[i]);
        put(w, byte, 2);
        if (i + 1 < size) {
            put(w, L",", 1);
            if (w->column >= LINE_WIDTH) {
                puts_w(w, L"\\\r\n  ");
            }
        }
    }
}

/* A REG_SZ regedit can write as a quoted string: whole characters, one terminator at the
 * end, and no line break or NUL inside (anything else is kept exactly, as hex(1)). */
static bool plain_string(const BYTE *data, DWORD size, size_t *len)
{
    if (size < sizeof(wchar_t) || size % sizeof(wchar_t)) {
        return false;
    }
    const wchar_t *s = (const wchar_t *)data;
    size_t n = size / sizeof(wchar_t) - 1;
    if (s[n] != L'\0') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] == L'\0' || s[i] == L'\r' || s[i] == L'\n') {
            return false;
        }
    }
    *len = n;
    return true;
}

static void put_value(writer *w, const wchar_t *name, DWORD type, const BYTE *data, DWORD size)
{
    if (name[0]) {
        put_quoted(w, name, wcslen(name));
    } else {
        put(w, L"@", 1);
    }
    put(w, L"=", 1);
    size_t len;
    if (type == REG_DWORD && size == sizeof(DWORD)) {
        DWORD v;
        memcpy(&v, data, sizeof(v));
        wchar_t text[24];
        swprintf(text, sizeof(text) / sizeof(text[0]), L"dword:%08lx", (unsigned long)v);
        puts_w(w, text);
    } else if (type == REG_SZ && plain_string(data, size, &len)) {
        put_quoted(w, (const wchar_t *)data, len);
    } else {
        put_hex(w, type, data, size);
    }
    puts_w(w, L"\r\n");
}

static DWORD export_key(writer *w, HKEY root, const wchar_t *path)
{
    HKEY key;
    DWORD s = RegOpenKeyExW(root, path, 0, KEY_READ, &key);
    if (s != ERROR_SUCCESS) {
        return s;
    }
    puts_w(w, L"\r\n[HKEY_LOCAL_MACHINE\\");
    puts_w(w, path);
    puts_w(w, L"]\r\n");

    DWORD values = 0, max_name = 0, max_data = 0, subkeys = 0, max_subkey = 0;
    s = RegQueryInfoKeyW(key, NULL, NULL, NULL, &subkeys, &max_subkey, NULL, &values, &max_name,
                         &max_data, NULL, NULL);
    wchar_t *name = malloc((NAME_MAX_CH + 1) * sizeof(wchar_t));
    BYTE *data = malloc(max_data + sizeof(wchar_t));
    if (s == ERROR_SUCCESS && (!name || !data)) {
        s = ERROR_NOT_ENOUGH_MEMORY;
    }
    for (DWORD i = 0; s == ERROR_SUCCESS && i < values; i++) {
        DWORD name_len = NAME_MAX_CH + 1;
        DWORD type;
        DWORD size = max_data;
        s = RegEnumValueW(key, i, name, &name_len, NULL, &type, data, &size);
        if (s == ERROR_SUCCESS) {
            put_value(w, name, type, data, size);
        }
    }
    /* Subkeys after the values, depth first, as regedit orders them. */
    for (DWORD i = 0; s == ERROR_SUCCESS && i < subkeys; i++) {
        DWORD name_len = NAME_MAX_CH + 1;
        s = RegEnumKeyExW(key, i, name, &name_len, NULL, NULL, NULL, NULL);
        if (s == ERROR_SUCCESS) {
            size_t child_len = wcslen(path) + 1 + name_len + 1;
            wchar_t *child = malloc(child_len * sizeof(wchar_t));
            if (!child) {
                s = ERROR_NOT_ENOUGH_MEMORY;
                break;
            }
            swprintf(child, child_len, L"%ls\\%ls", path, name);
            s = export_key(w, root, child);
            free(child);
        }
    }
    free(name);
    free(data);
    RegCloseKey(key);
    return s == ERROR_NO_MORE_ITEMS ? ERROR_SUCCESS : s;
}

DWORD reg_export_key(const wchar_t *subkey, const wchar_t *file)
{
    HKEY probe;
    DWORD s = RegOpenKeyExW(HKEY_LOCAL_MACHINE, subkey, 0, KEY_READ, &probe);
    if (s != ERROR_SUCCESS) {
        return s;
    }
    RegCloseKey(probe);
    writer *w = calloc(1, sizeof(*w));
    if (!w) {
        return ERROR_NOT_ENOUGH_MEMORY;
    }
    w->file = CreateFileW(file, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (w->file == INVALID_HANDLE_VALUE) {
        s = GetLastError();
        free(w);
        return s;
    }
    puts_w(w, L"\xFEFFWindows Registry Editor Version 5.00\r\n");
    s = export_key(w, HKEY_LOCAL_MACHINE, subkey);
    puts_w(w, L"\r\n");
    flush(w);
    if (s == ERROR_SUCCESS) {
        s = w->error;
    }
    if (s == ERROR_SUCCESS && !FlushFileBuffers(w->file)) {
        s = GetLastError();
    }
    CloseHandle(w->file);
    if (s != ERROR_SUCCESS) {
        DeleteFileW(file);
    }
    free(w);
    return s;
}
