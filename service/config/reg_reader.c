#include "common/win_text.h"
#include "identity.h"
#include "config/reg_reader.h"

#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "settings.h"
#include "utf16.h"
#include "value_decode.h"

/* The longest value name the registry allows, plus its NUL. */
#define VALUE_NAME_UNITS 16384
/* Sizes can change between the call that asks for a size and the one that reads: retry a few
 * times, then call the value unreadable rather than loop forever. */
#define READ_ATTEMPTS 8
/* Nothing imsrelay reads is larger than a list; a larger value is not read at all. */
#define VALUE_MAX_BYTES REGIO_LIST_MAX_BYTES

typedef struct raw_set {
    regio_raw_value *values;
    size_t count;
    size_t capacity;
} raw_set;

static void raw_set_free(raw_set *set)
{
    for (size_t i = 0; i < set->count; i++) {
        free((void *)set->values[i].name);
        free((void *)set->values[i].data);
    }
    free(set->values);
    memset(set, 0, sizeof(*set));
}

/* Takes ownership of name and data (freed even on failure). */
static bool raw_set_add(raw_set *set, char *name, uint32_t type, uint8_t *data, size_t size,
                        bool unreadable)
{
    if (set->count == set->capacity) {
        size_t capacity = set->capacity ? 2 * set->capacity : 32;
        regio_raw_value *values = realloc(set->values, capacity * sizeof(*values));
        if (!values) {
            free(name);
            free(data);
            return false;
        }
        set->values = values;
        set->capacity = capacity;
    }
    set->values[set->count++] = (regio_raw_value){
            .name = name, .type = type, .data = data, .size = size, .unreadable = unreadable};
    return true;
}

static char *utf8_from_wide(const wchar_t *text)
{
    size_t units = wcslen(text);
    char *out = malloc(REGIO_UTF8_MAX_PER_UNIT * units + 1);
    if (out) {
        out[regio_utf16le_to_utf8((const uint8_t *)text, units, out, NULL, NULL)] = '\0';
    }
    return out;
}

typedef enum read_result { READ_OK, READ_GONE, READ_UNREADABLE, READ_NO_MEMORY } read_result;

/* Reads one value whole. On READ_UNREADABLE, *size is the size last reported (0 if none). */
static read_result read_value(HKEY key, const wchar_t *name, DWORD *type, uint8_t **data,
                              size_t *size)
{
    *data = NULL;
    *size = 0;
    DWORD want = 0;
    LSTATUS rc = RegQueryValueExW(key, name, NULL, type, NULL, &want);
    for (int attempt = 0; attempt < READ_ATTEMPTS; attempt++) {
        if (rc == ERROR_FILE_NOT_FOUND) {
            return READ_GONE;
        }
        if (rc != ERROR_SUCCESS && rc != ERROR_MORE_DATA) {
            return READ_UNREADABLE;
        }
        *size = want;
        if (want > VALUE_MAX_BYTES) {
            return READ_UNREADABLE;
        }
        uint8_t *buf = malloc(want ? want : 1);
        if (!buf) {
            return READ_NO_MEMORY;
        }
        DWORD got = want;
        rc = RegQueryValueExW(key, name, NULL, type, buf, &got);
        if (rc == ERROR_SUCCESS && got <= want) {
            *data = buf;
            *size = got;
            return READ_OK;
        }
        free(buf);
        want = got; /* ERROR_MORE_DATA: it grew in between; try again with the new size */
    }
    return READ_UNREADABLE;
}

/* MailRoot as REG_EXPAND_SZ: expanded here, as the service sees it; the builder never
 * expands. Text it would reject anyway (interior NUL, too long) is passed as read so that
 * the builder reports it. */
static bool expand_in_place(uint8_t **data, size_t *size)
{
    size_t units = *size / 2;
    const wchar_t *src = (const wchar_t *)*data;
    while (units > 0 && src[units - 1] == L'\0') {
        units--;
    }
    if (units == 0 || units > REGIO_STRING_MAX_UNITS || wmemchr(src, L'\0', units)) {
        return true;
    }
    wchar_t *text = malloc((units + 1) * sizeof(wchar_t));
    if (!text) {
        return false;
    }
    memcpy(text, src, units * sizeof(wchar_t));
    text[units] = L'\0';
    DWORD need = ExpandEnvironmentStringsW(text, NULL, 0);
    for (int attempt = 0; need > 0 && attempt < READ_ATTEMPTS; attempt++) {
        wchar_t *expanded = malloc(need * sizeof(wchar_t));
        if (!expanded) {
            free(text);
            return false;
        }
        DWORD got = ExpandEnvironmentStringsW(text, expanded, need);
        if (got > 0 && got <= need) {
            free(*data);
            *data = (uint8_t *)expanded;
            *size = (got - 1) * sizeof(wchar_t);
            break;
        }
        free(expanded);
        need = got; /* the environment changed in between: again with the new size */
    }
    free(text);
    return true; /* when expansion failed, the builder sees the text unexpanded */
}

static bool names_equal(const wchar_t *a, const wchar_t *b)
{
    return CompareStringOrdinal(a, -1, b, -1, TRUE) == CSTR_EQUAL;
}

/* Every value of the Parameters key. Returns false only when out of memory. */
static bool read_parameters(HKEY key, raw_set *set, regio_diag_list *diags)
{
    wchar_t *name = malloc(VALUE_NAME_UNITS * sizeof(wchar_t));
    if (!name) {
        return false;
    }
    bool ok = true;
    for (DWORD index = 0; ok; index++) {
        DWORD name_units = VALUE_NAME_UNITS;
        LSTATUS rc = RegEnumValueW(key, index, name, &name_units, NULL, NULL, NULL, NULL);
        if (rc == ERROR_NO_MORE_ITEMS) {
            break;
        }
        if (rc != ERROR_SUCCESS) {
            regio_diag_add(diags, REGIO_SEV_ERROR, "", 0, NULL,
                           "listing the values of the key failed (error %lu): values after the "
                           "%lu-th are not read",
                           (unsigned long)rc, (unsigned long)index);
            break;
        }
        if (names_equal(name, L"IPEnableRouter")) {
            regio_diag_add(diags, REGIO_SEV_WARNING, "IPEnableRouter", 0, NULL,
                           "is read from HKLM\\" IDENTITY_TCPIP_PARAMETERS_KEY
                           ", not from this key: ignored here");
            continue;
        }
        char *utf8_name = utf8_from_wide(name);
        if (!utf8_name) {
            ok = false;
            break;
        }
        if (!regio_setting_find(utf8_name)) {
            /* Only its name is reported: its data is never read, so stray values cost no
             * memory however large they are. */
            ok = raw_set_add(set, utf8_name, REG_NONE, NULL, 0, false);
            continue;
        }
        DWORD type = REG_NONE;
        uint8_t *data;
        size_t size;
        read_result r = read_value(key, name, &type, &data, &size);
        if (r == READ_GONE) {
            free(utf8_name);
            continue; /* deleted while we read: as if it had never been there */
        }
        if (r == READ_NO_MEMORY) {
            free(utf8_name);
            ok = false;
            break;
        }
        if (r == READ_OK && type == REG_EXPAND_SZ && names_equal(name, L"MailRoot")) {
            if (!expand_in_place(&data, &size)) {
                free(data);
                free(utf8_name);
                ok = false;
                break;
            }
        }
        ok = raw_set_add(set, utf8_name, type, data, size, r == READ_UNREADABLE);
    }
    free(name);
    return ok;
}

/* The key exists but cannot be opened (access denied...): the relay values count as
 * unreadable, so the relay engine fails closed instead of reading "absent". */
static bool mark_relay_values_unreadable(raw_set *set)
{
    static const char *const relay_values[] = {"RelayFlags", "RelayDenyList", "RelayAllowList",
                                               "RelayLocalIPList"};
    for (size_t i = 0; i < sizeof(relay_values) / sizeof(relay_values[0]); i++) {
        char *name = win_text_copy(relay_values[i]);
        if (!name || !raw_set_add(set, name, REG_NONE, NULL, 0, true)) {
            return false;
        }
    }
    return true;
}

static bool read_ip_enable_router(HKEY root, const wchar_t *path, raw_set *set)
{
    HKEY key;
    LSTATUS rc = RegOpenKeyExW(root, path, 0, KEY_QUERY_VALUE, &key);
    if (rc == ERROR_FILE_NOT_FOUND) {
        return true; /* no TCP/IP parameters: forwarding off, the Windows default */
    }
    DWORD type = REG_NONE;
    uint8_t *data = NULL;
    size_t size = 0;
    read_result r = READ_UNREADABLE;
    if (rc == ERROR_SUCCESS) {
        r = read_value(key, L"IPEnableRouter", &type, &data, &size);
        RegCloseKey(key);
    }
    if (r == READ_GONE) {
        return true;
    }
    if (r == READ_NO_MEMORY) {
        return false;
    }
    char *name = win_text_copy("IPEnableRouter");
    if (!name) {
        free(data);
        return false;
    }
    return raw_set_add(set, name, type, data, size, r == READ_UNREADABLE);
}

/* %ProgramData%\imsrelay expanded, or NULL to leave the builder's unexpanded default. */
static char *default_mail_root(void)
{
    wchar_t path[MAX_PATH];
    DWORD n = ExpandEnvironmentStringsW(IDENTITY_WIDE(IDENTITY_DEFAULT_MAIL_ROOT), path, MAX_PATH);
    if (n == 0 || n > MAX_PATH || path[0] == L'%') {
        return NULL;
    }
    return utf8_from_wide(path);
}

static char *computer_dns_name(void)
{
    static const COMPUTER_NAME_FORMAT formats[] = {ComputerNameDnsFullyQualified,
                                                   ComputerNameDnsHostname};
    for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
        wchar_t name[256];
        DWORD units = sizeof(name) / sizeof(name[0]);
        if (GetComputerNameExW(formats[i], name, &units) && units > 0) {
            return utf8_from_wide(name);
        }
    }
    return NULL;
}

/* The policy key, when Group Policy (or an administrator) made it: its values are marked so
 * that they win over Parameters. A policy key that exists but cannot be read makes the
 * relay values unreadable, so the service fails closed rather than ignore a policy. */
static bool read_policy(HKEY root, const wchar_t *policy_key, raw_set *set, regio_diag_list *diags)
{
    if (!policy_key) {
        return true;
    }
    size_t first = set->count;
    HKEY key;
    LSTATUS rc = RegOpenKeyExW(root, policy_key, 0, KEY_READ, &key);
    bool ok = true;
    if (rc == ERROR_SUCCESS) {
        ok = read_parameters(key, set, diags);
        RegCloseKey(key);
    } else if (rc != ERROR_FILE_NOT_FOUND) {
        regio_diag_add(diags, REGIO_SEV_ERROR, "", 0, NULL,
                       "the policy key HKLM\\" IDENTITY_POLICY_KEY
                       " cannot be opened (error %lu): no client may relay until it can",
                       (unsigned long)rc);
        ok = mark_relay_values_unreadable(set);
    }
    for (size_t i = first; i < set->count; i++) {
        set->values[i].from_policy = true;
    }
    return ok;
}

regio_config *reg_reader_read_config_from(HKEY root, const wchar_t *parameters_key,
                                          const wchar_t *policy_key,
                                          const wchar_t *tcpip_parameters_key,
                                          regio_diag_list *diags)
{
    raw_set set = {0};
    bool key_missing = false;
    bool ok = true;
    HKEY key;
    LSTATUS rc = RegOpenKeyExW(root, parameters_key, 0, KEY_READ, &key);
    if (rc == ERROR_SUCCESS) {
        ok = read_parameters(key, &set, diags);
        RegCloseKey(key);
    } else if (rc == ERROR_FILE_NOT_FOUND) {
        key_missing = true;
    } else {
        regio_diag_add(diags, REGIO_SEV_ERROR, "", 0, NULL,
                       "the key HKLM\\" IDENTITY_PARAMETERS_KEY
                       " cannot be opened (error %lu): no client may relay until it can",
                       (unsigned long)rc);
        ok = mark_relay_values_unreadable(&set);
    }
    ok = ok && read_policy(root, policy_key, &set, diags);
    ok = ok && read_ip_enable_router(root, tcpip_parameters_key, &set);

    regio_config *config = NULL;
    if (ok) {
        char *mail_root = default_mail_root();
        char *host_name = computer_dns_name();
        regio_host_defaults defaults = {.mail_root = mail_root, .host_name = host_name};
        config = regio_config_build_with_defaults(set.values, set.count, key_missing, &defaults,
                                                  diags);
        free(mail_root);
        free(host_name);
    }
    raw_set_free(&set);
    return config;
}

regio_config *reg_reader_read_config(regio_diag_list *diags)
{
    return reg_reader_read_config_from(HKEY_LOCAL_MACHINE, L"" IDENTITY_PARAMETERS_KEY,
                                       L"" IDENTITY_POLICY_KEY, L"" IDENTITY_TCPIP_PARAMETERS_KEY,
                                       diags);
}
