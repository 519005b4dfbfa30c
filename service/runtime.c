#include "runtime.h"

#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eventlog.h"
#include "svc_text.h"

/* Values larger than this are reported unreadable rather than read (a list of a few
 * megabytes is legal; hundreds are an attack or an accident). */
#define VALUE_MAX_BYTES (16u * 1024u * 1024u)
#define VALUES_MAX      256

struct ims_snapshot {
    volatile LONG refs;
    ims_config *config;
    char description[512];
};

struct runtime {
    SRWLOCK lock;
    ims_snapshot *current; /* guarded by lock; never NULL after runtime_start */
    uint64_t current_fingerprint;
    uint64_t refused_fingerprint; /* last refused reading: its errors were reported once */
    HANDLE change;
    HKEY watched[2]; /* Parameters (or its nearest existing ancestor), Tcpip\Parameters */
    bool watching_parameters;
};

/* ---- reading the registry -------------------------------------------------------------- */

typedef struct reading {
    ims_raw_value values[VALUES_MAX];
    size_t count;
    bool key_missing;
    uint64_t fingerprint; /* FNV-1a over names, types and bytes: equal readings, equal rules */
} reading;

static uint64_t fnv1a(uint64_t h, const void *data, size_t size)
{
    const uint8_t *p = data;
    for (size_t i = 0; i < size; i++) {
        h = (h ^ p[i]) * 0x100000001b3ull;
    }
    return h;
}

static void reading_free(reading *r)
{
    for (size_t i = 0; i < r->count; i++) {
        free((void *)r->values[i].name);
        free((void *)r->values[i].data);
    }
    r->count = 0;
}

/* Reads one value by index (name NULL) or by name; false when there is no such value. */
static bool read_value(HKEY key, DWORD index, const wchar_t *name, ims_raw_value *out)
{
    wchar_t name_buf[16384];
    DWORD name_len = sizeof(name_buf) / sizeof(name_buf[0]);
    DWORD type = 0;
    DWORD size = 0;
    LSTATUS s;
    if (name) {
        s = RegQueryValueExW(key, name, NULL, &type, NULL, &size);
        wcsncpy(name_buf, name, sizeof(name_buf) / sizeof(name_buf[0]) - 1);
        name_buf[sizeof(name_buf) / sizeof(name_buf[0]) - 1] = L'\0';
    } else {
        s = RegEnumValueW(key, index, name_buf, &name_len, NULL, &type, NULL, &size);
    }
    if (s != ERROR_SUCCESS && s != ERROR_MORE_DATA) {
        return false;
    }
    memset(out, 0, sizeof(*out));
    out->name = svc_utf8_from_wide(name_buf);
    out->type = type;
    if (!out->name) {
        return false;
    }
    /* The value may grow between the two calls: retry a few times, then give up on it. */
    for (int attempt = 0; attempt < 4; attempt++) {
        if (size > VALUE_MAX_BYTES) {
            out->unreadable = true;
            return true;
        }
        uint8_t *data = malloc(size ? size : 1);
        if (!data) {
            out->unreadable = true;
            return true;
        }
        DWORD got = size;
        s = RegQueryValueExW(key, name_buf, NULL, &type, data, &got);
        if (s == ERROR_SUCCESS) {
            out->type = type;
            out->data = data;
            out->size = got;
            return true;
        }
        free(data);
        if (s != ERROR_MORE_DATA) {
            break;
        }
        size = got;
    }
    out->unreadable = true;
    return true;
}

static bool read_registry(reading *r)
{
    memset(r, 0, sizeof(*r));
    HKEY key;
    LSTATUS s = RegOpenKeyExA(HKEY_LOCAL_MACHINE, IMS_PARAMETERS_KEY, 0, KEY_READ, &key);
    r->key_missing = s == ERROR_FILE_NOT_FOUND;
    if (s == ERROR_SUCCESS) {
        for (DWORD i = 0; r->count < VALUES_MAX - 1; i++) {
            if (!read_value(key, i, NULL, &r->values[r->count])) {
                break;
            }
            r->count++;
        }
        RegCloseKey(key);
    }
    if (RegOpenKeyExA(HKEY_LOCAL_MACHINE, IMS_TCPIP_PARAMETERS_KEY, 0, KEY_READ, &key) ==
        ERROR_SUCCESS) {
        if (read_value(key, 0, L"IPEnableRouter", &r->values[r->count])) {
            r->count++;
        }
        RegCloseKey(key);
    }
    uint64_t h = 0xcbf29ce484222325ull;
    h = fnv1a(h, &r->key_missing, sizeof(r->key_missing));
    for (size_t i = 0; i < r->count; i++) {
        const ims_raw_value *v = &r->values[i];
        h = fnv1a(h, v->name, strlen(v->name) + 1);
        h = fnv1a(h, &v->type, sizeof(v->type));
        h = fnv1a(h, &v->unreadable, sizeof(v->unreadable));
        if (v->data) {
            h = fnv1a(h, v->data, v->size);
        }
    }
    r->fingerprint = h;
    return true;
}

/* What only this machine knows: %ProgramData%\imsrelay expanded, and its DNS name. */
static void host_defaults(char *mail_root, size_t mail_root_size, char *host, size_t host_size)
{
    wchar_t wide[MAX_PATH];
    mail_root[0] = '\0';
    host[0] = '\0';
    DWORD n = ExpandEnvironmentStringsW(L"%ProgramData%\\imsrelay", wide, MAX_PATH);
    if (n > 0 && n <= MAX_PATH && wide[0] != L'%') {
        WideCharToMultiByte(CP_UTF8, 0, wide, -1, mail_root, (int)mail_root_size, NULL, NULL);
    }
    DWORD len = MAX_PATH;
    if (GetComputerNameExW(ComputerNameDnsFullyQualified, wide, &len) && len > 0) {
        WideCharToMultiByte(CP_UTF8, 0, wide, -1, host, (int)host_size, NULL, NULL);
    }
}

/* ---- snapshots ------------------------------------------------------------------------- */

static void describe(ims_snapshot *s)
{
    const ims_config *c = s->config;
    uint32_t flags = c->relay_flags.value;
    snprintf(s->description, sizeof(s->description),
             "RelayFlags %lu%s; RelayDenyList %zu line(s), RelayAllowList %zu line(s), "
             "RelayLocalIPList %zu line(s); LocalDomains %zu line(s)",
             (unsigned long)flags, c->relay_flags.state == IMS_VALUE_ABSENT ? " (absent)" : "",
             c->relay_deny_list.count, c->relay_allow_list.count, c->relay_local_ip_list.count,
             c->local_domains.count);
}

static ims_snapshot *snapshot_build(const reading *r, ims_diag_list *diags)
{
    char mail_root[MAX_PATH * 3];
    char host[MAX_PATH * 3];
    host_defaults(mail_root, sizeof(mail_root), host, sizeof(host));
    ims_host_defaults defaults = {mail_root[0] ? mail_root : NULL, host[0] ? host : NULL};
    ims_snapshot *s = calloc(1, sizeof(*s));
    if (!s) {
        return NULL;
    }
    s->refs = 1;
    s->config =
            ims_config_build_with_defaults(r->values, r->count, r->key_missing, &defaults, diags);
    if (!s->config) {
        free(s);
        return NULL;
    }
    describe(s);
    return s;
}

void ims_snapshot_release(ims_snapshot *snapshot)
{
    if (snapshot && InterlockedDecrement(&snapshot->refs) == 0) {
        ims_config_free(snapshot->config);
        free(snapshot);
    }
}

const ims_config *ims_snapshot_config(const ims_snapshot *snapshot)
{
    return snapshot->config;
}

const char *ims_snapshot_description(const ims_snapshot *snapshot)
{
    return snapshot->description;
}

ims_snapshot *runtime_acquire(runtime *rt)
{
    AcquireSRWLockShared(&rt->lock);
    ims_snapshot *s = rt->current;
    if (s) {
        InterlockedIncrement(&s->refs);
    }
    ReleaseSRWLockShared(&rt->lock);
    return s;
}

/* Puts `next` in force; the old snapshot lives on while sessions hold it. */
static void swap_in(runtime *rt, ims_snapshot *next, uint64_t fingerprint)
{
    AcquireSRWLockExclusive(&rt->lock);
    ims_snapshot *old = rt->current;
    rt->current = next;
    rt->current_fingerprint = fingerprint;
    ReleaseSRWLockExclusive(&rt->lock);
    ims_snapshot_release(old);
}

/* Warnings that hold as long as the configuration says so: repeated at every start and
 * every reload, so an administrator reading the latest events sees them. */
static void standing_warnings(const ims_snapshot *s)
{
    const ims_config *c = s->config;
    if ((c->relay_flags.value & 0xF) == 0) {
        char words[64];
        snprintf(words, sizeof(words), "%s",
                 c->relay_flags.state == IMS_VALUE_ABSENT ? "absent" : "0");
        if (c->relay_flags.state == IMS_VALUE_OK && c->relay_flags.value != 0) {
            snprintf(words, sizeof(words), "%lu, which sets none of the bits 1, 2, 4 and 8",
                     (unsigned long)c->relay_flags.value);
        } else if (c->relay_flags.state == IMS_VALUE_UNREADABLE) {
            snprintf(words, sizeof(words), "unusable (see the error before)");
        }
        eventlog_write(IMS_EVENT_RELAY_DISABLED, words, NULL);
    }
    if ((c->relay_flags.value & 4) && c->ip_enable_router.value == 1) {
        eventlog_write(IMS_EVENT_LOCAL_IP_IGNORED, "1", NULL);
    }
}

/* ---- watching -------------------------------------------------------------------------- */

static void close_watches(runtime *rt)
{
    for (size_t i = 0; i < 2; i++) {
        if (rt->watched[i]) {
            RegCloseKey(rt->watched[i]);
            rt->watched[i] = NULL;
        }
    }
}

/* Arms the notifications, before each reading so that no change slips between reading and
 * arming. Until the Parameters key exists the nearest existing ancestor is watched with its
 * subtree, so creating the key is noticed too. */
static void arm_watches(runtime *rt)
{
    static const wchar_t *const candidates[] = {
            L"SYSTEM\\CurrentControlSet\\Services\\MSExchangeIMC\\Parameters",
            L"SYSTEM\\CurrentControlSet\\Services\\MSExchangeIMC",
            L"SYSTEM\\CurrentControlSet\\Services",
    };
    const DWORD filter = REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET;
    if (!rt->watched[0] || !rt->watching_parameters) {
        if (rt->watched[0]) {
            RegCloseKey(rt->watched[0]);
            rt->watched[0] = NULL;
        }
        for (size_t i = 0; i < sizeof(candidates) / sizeof(candidates[0]); i++) {
            if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, candidates[i], 0, KEY_NOTIFY | KEY_READ,
                              &rt->watched[0]) == ERROR_SUCCESS) {
                rt->watching_parameters = i == 0;
                break;
            }
        }
    }
    if (!rt->watched[1]) {
        RegOpenKeyExW(HKEY_LOCAL_MACHINE, L"SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters",
                      0, KEY_NOTIFY, &rt->watched[1]);
    }
    for (size_t i = 0; i < 2; i++) {
        if (rt->watched[i]) {
            BOOL subtree = i == 0 && !rt->watching_parameters;
            if (RegNotifyChangeKeyValue(rt->watched[i], subtree, filter, rt->change, TRUE) !=
                ERROR_SUCCESS) {
                RegCloseKey(rt->watched[i]);
                rt->watched[i] = NULL;
            }
        }
    }
}

HANDLE runtime_change_event(runtime *rt)
{
    return rt->change;
}

/* ---- life ------------------------------------------------------------------------------ */

runtime *runtime_create(void)
{
    runtime *rt = calloc(1, sizeof(*rt));
    if (!rt) {
        return NULL;
    }
    InitializeSRWLock(&rt->lock);
    rt->change = CreateEventW(NULL, FALSE, FALSE, NULL);
    if (!rt->change) {
        free(rt);
        return NULL;
    }
    return rt;
}

void runtime_destroy(runtime *rt)
{
    if (!rt) {
        return;
    }
    close_watches(rt);
    ims_snapshot_release(rt->current);
    CloseHandle(rt->change);
    free(rt);
}

enum svc_exit runtime_start(runtime *rt)
{
    arm_watches(rt);
    reading r;
    read_registry(&r);
    ims_diag_list diags;
    ims_diag_list_init(&diags);
    ims_snapshot *s = snapshot_build(&r, &diags);
    reading_free(&r);
    if (!s) {
        ims_diag_list_free(&diags);
        return SVC_EXIT_OUT_OF_MEMORY;
    }
    eventlog_config_diags(&diags);
    ims_diag_list_free(&diags);
    standing_warnings(s);
    swap_in(rt, s, r.fingerprint);
    return SVC_EXIT_OK;
}

runtime_reload_result runtime_reload(runtime *rt, const char *trigger, bool force)
{
    arm_watches(rt);
    reading r;
    read_registry(&r);
    if (!force &&
        (r.fingerprint == rt->current_fingerprint || r.fingerprint == rt->refused_fingerprint)) {
        reading_free(&r);
        return RUNTIME_UNCHANGED;
    }
    ims_diag_list diags;
    ims_diag_list_init(&diags);
    ims_snapshot *s = snapshot_build(&r, &diags);
    reading_free(&r);
    if (!s) {
        ims_diag_list_free(&diags);
        eventlog_write(IMS_EVENT_RELOAD_REFUSED, trigger, "out of memory", NULL);
        return RUNTIME_FAILED;
    }
    size_t errors = eventlog_config_diags(&diags);
    ims_diag_list_free(&diags);
    if (errors > 0) {
        char why[64];
        snprintf(why, sizeof(why), "%zu configuration error(s)", errors);
        eventlog_write(IMS_EVENT_RELOAD_REFUSED, trigger, why, NULL);
        rt->refused_fingerprint = r.fingerprint;
        ims_snapshot_release(s);
        return RUNTIME_REFUSED;
    }
    rt->refused_fingerprint = 0;
    standing_warnings(s);
    eventlog_write(IMS_EVENT_CONFIG_RELOADED, trigger, s->description, NULL);
    swap_in(rt, s, r.fingerprint);
    return RUNTIME_RELOADED;
}
