#include "config/runtime.h"

#include <windows.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "events/eventlog.h"
#include "config/live_config.h"
#include "fnv1a.h"
#include "identity.h"
#include "settings.h"
#include "tls/tls_credentials.h"

struct runtime_snapshot {
    volatile LONG refs;
    regio_config *config;
    relay_policy *policy;
    uint64_t fingerprint;
    char description[512];
    struct tls_credentials *tls; /* NULL: no STARTTLS, tls_why says why */
    char tls_why[320];
};

#define WATCH_CHAINS 3 /* Parameters, the policy key, Tcpip\\Parameters */

struct runtime {
    SRWLOCK lock;
    runtime_snapshot *current;    /* guarded by lock; never NULL after runtime_start */
    uint64_t refused_fingerprint; /* last refused reading: its errors were reported once */
    HANDLE change;
    HKEY watched[WATCH_CHAINS];       /* Parameters, the policy key, Tcpip\Parameters, or their
                                       * nearest ancestors */
    size_t watch_level[WATCH_CHAINS]; /* 0: the key itself; n: its n-th ancestor */
    /* What the listeners were opened with: changes apply only at the next start. */
    uint32_t listen_port;
    uint64_t listen_addresses;
};

/* ---- snapshots ------------------------------------------------------------------------- */

/* "RelayFlags 3: deny list, allow list (RelayDenyList 2 rules, RelayAllowList 1 rule,
 * RelayLocalIPList 0 rules)": the flags as read, the rules in effect in the relay engine's
 * words, and how many valid rules each list holds. */
static void describe(runtime_snapshot *s)
{
    char rules[384];
    relay_policy_describe(s->policy, rules, sizeof(rules));
    const regio_dword *flags = &s->config->relay_flags;
    char flags_text[32];
    if (flags->state == REGIO_VALUE_ABSENT) {
        snprintf(flags_text, sizeof(flags_text), "absent");
    } else {
        snprintf(flags_text, sizeof(flags_text), "%lu", (unsigned long)flags->value);
    }
    size_t counts[3];
    for (int id = RELAY_DENY_LIST; id <= RELAY_LOCAL_IP_LIST; id++) {
        const relay_list *list = relay_policy_list(s->policy, (relay_list_id)id);
        counts[id] = list ? relay_list_count(list) : 0;
    }
    snprintf(s->description, sizeof(s->description),
             "RelayFlags %s: %s (RelayDenyList %zu rule%s, RelayAllowList %zu rule%s, "
             "RelayLocalIPList %zu rule%s)",
             flags_text, rules, counts[0], counts[0] == 1 ? "" : "s", counts[1],
             counts[1] == 1 ? "" : "s", counts[2], counts[2] == 1 ? "" : "s");
}

/* The certificate is looked up at every reading, so a reload also picks up a certificate
 * that was renewed or imported since (same TlsCertificate, new thumbprint). A certificate that
 * cannot be used costs STARTTLS, never the service. */
static void load_tls(runtime_snapshot *s)
{
    const regio_config *c = s->config;
    if (c->tls_certificate_state == REGIO_VALUE_UNREADABLE) {
        snprintf(s->tls_why, sizeof(s->tls_why), "TlsCertificate is not valid");
        return;
    }
    const char *selector = c->tls_certificate[0] ? c->tls_certificate : c->host_name;
    char why[256] = "";
    s->tls = tls_credentials_from_store(selector, why, sizeof(why));
    if (!s->tls) {
        snprintf(s->tls_why, sizeof(s->tls_why), "%s", why[0] ? why : "no usable certificate");
    }
}

/* Reads the registry and compiles the rules. NULL only when out of memory. diags must be
 * empty: it receives the diagnostics of the reading. */
static runtime_snapshot *snapshot_build(regio_diag_list *diags)
{
    runtime_snapshot *s = calloc(1, sizeof(*s));
    live_config live;
    if (!s || !live_config_read(&live)) {
        free(s);
        return NULL;
    }
    s->refs = 1;
    s->config = live.config;
    s->policy = live.policy;
    *diags = live.diags;
    describe(s);
    s->fingerprint = regio_config_fingerprint(s->config, diags);
    load_tls(s);
    return s;
}

void runtime_snapshot_release(runtime_snapshot *snapshot)
{
    if (snapshot && InterlockedDecrement(&snapshot->refs) == 0) {
        relay_policy_free(snapshot->policy);
        regio_config_free(snapshot->config);
        tls_credentials_free(snapshot->tls);
        free(snapshot);
    }
}

const regio_config *runtime_snapshot_config(const runtime_snapshot *snapshot)
{
    return snapshot->config;
}

const relay_policy *runtime_snapshot_policy(const runtime_snapshot *snapshot)
{
    return snapshot->policy;
}

const char *runtime_snapshot_description(const runtime_snapshot *snapshot)
{
    return snapshot->description;
}

struct tls_credentials *runtime_snapshot_tls(const runtime_snapshot *snapshot)
{
    return snapshot->tls;
}

const char *runtime_snapshot_tls_why(const runtime_snapshot *snapshot)
{
    return snapshot->tls_why;
}

runtime_snapshot *runtime_acquire(runtime *rt)
{
    AcquireSRWLockShared(&rt->lock);
    runtime_snapshot *s = rt->current;
    if (s) {
        InterlockedIncrement(&s->refs);
    }
    ReleaseSRWLockShared(&rt->lock);
    return s;
}

/* Puts `next` in force; the old snapshot lives on while sessions hold it. */
static void swap_in(runtime *rt, runtime_snapshot *next)
{
    AcquireSRWLockExclusive(&rt->lock);
    runtime_snapshot *old = rt->current;
    rt->current = next;
    ReleaseSRWLockExclusive(&rt->lock);
    runtime_snapshot_release(old);
}

/* Reports the diagnostics as events, thousands of one kind as the first hundred and a count;
 * returns the number of errors. */
static size_t report_diags(const runtime_snapshot *s, const regio_diag_list *diags)
{
    regio_diag_list summarized;
    regio_diag_list_init(&summarized);
    regio_diag_list_summarize(diags, REGIO_DIAG_SUMMARY_KEEP, &summarized);
    regio_diag_list shown;
    regio_diag_list_init(&shown);
    for (size_t i = 0; i < summarized.count; i++) {
        const regio_diag *d = &summarized.items[i];
        /* The conditions with an event of their own (relaying disabled, local-IP list
         * ignored) are not repeated as generic configuration warnings. */
        if (!relay_policy_diag_covered(s->policy, d)) {
            regio_diag_add_code(&shown, d->code, d->severity, d->value, d->line, d->text, "%s",
                                d->message);
        }
    }
    shown.truncated |= summarized.truncated;
    eventlog_config_diags(&shown);
    regio_diag_list_free(&shown);
    regio_diag_list_free(&summarized);
    return regio_diag_count(diags, REGIO_SEV_ERROR);
}

static uint64_t list_hash(const regio_list *list)
{
    uint64_t h = FNV1A_INIT;
    for (size_t i = 0; i < list->count; i++) {
        h = fnv1a_string(h, list->lines[i]);
    }
    return h;
}

/* The listeners stay as they were opened: say so when the registry now says otherwise. */
static void listen_warnings(const runtime *rt, const runtime_snapshot *s)
{
    const regio_config *c = s->config;
    if (c->listen_port.value != rt->listen_port) {
        char reason[160];
        snprintf(reason, sizeof(reason),
                 "changed from %lu to %lu: the service listens on %lu until it is restarted",
                 (unsigned long)rt->listen_port, (unsigned long)c->listen_port.value,
                 (unsigned long)rt->listen_port);
        eventlog_write(MSG_CONFIG_WARNING, "ListenPort", "0", "", reason, NULL);
    }
    if (list_hash(&c->listen_addresses) != rt->listen_addresses) {
        eventlog_write(MSG_CONFIG_WARNING, "ListenAddresses", "0", "",
                       "changed: the service listens on the addresses it started with until "
                       "it is restarted",
                       NULL);
    }
}

/* Conditions that hold as long as the configuration says so: repeated at every start and
 * every reload, so an administrator reading the latest events sees them. */
static void standing_warnings(const runtime_snapshot *s)
{
    const regio_config *c = s->config;
    if (relay_policy_fail_closed(s->policy)) {
        const char *why = relay_policy_fail_reason(s->policy);
        eventlog_write(MSG_FAIL_CLOSED, why ? why : "the configuration has errors", NULL);
    } else if (relay_policy_relay_disabled(s->policy)) {
        char words[96];
        if (c->relay_flags.state == REGIO_VALUE_ABSENT) {
            snprintf(words, sizeof(words), "absent");
        } else if (c->relay_flags.value == 0) {
            snprintf(words, sizeof(words), "0");
        } else {
            snprintf(words, sizeof(words), "0x%lx, which sets none of the bits 1, 2, 4 and 8",
                     (unsigned long)c->relay_flags.value);
        }
        eventlog_write(MSG_RELAY_DISABLED, words, NULL);
    }
    if (relay_policy_local_ip_ignored(s->policy)) {
        char router[16];
        snprintf(router, sizeof(router), "%lu", (unsigned long)c->ip_enable_router.value);
        eventlog_write(MSG_LOCAL_IP_IGNORED, router, NULL);
    }
    if (s->tls) {
        eventlog_write(MSG_TLS_READY, tls_credentials_describe(s->tls), NULL);
    } else {
        eventlog_write(MSG_TLS_UNAVAILABLE, s->tls_why, NULL);
    }
}

/* ---- watching -------------------------------------------------------------------------- */

static void close_watches(runtime *rt)
{
    for (size_t i = 0; i < WATCH_CHAINS; i++) {
        if (rt->watched[i]) {
            RegCloseKey(rt->watched[i]);
            rt->watched[i] = NULL;
        }
    }
}

/* The keys whose changes mean a new configuration, each followed by its ancestors: until a
 * key exists its nearest existing ancestor is watched with its subtree, so that creating
 * the key is noticed too. */
static const wchar_t *const watch_chains[WATCH_CHAINS][3] = {
        {IDENTITY_WIDE(IDENTITY_PARAMETERS_KEY), IDENTITY_WIDE(IDENTITY_SERVICE_KEY),
         IDENTITY_WIDE(IDENTITY_SERVICES_KEY)},
        {IDENTITY_WIDE(IDENTITY_POLICY_KEY), IDENTITY_WIDE(IDENTITY_POLICY_PARENT_KEY),
         L"SOFTWARE"},
        {IDENTITY_WIDE(IDENTITY_TCPIP_PARAMETERS_KEY), IDENTITY_WIDE(IDENTITY_TCPIP_KEY),
         IDENTITY_WIDE(IDENTITY_SERVICES_KEY)},
};

static void arm_watch(runtime *rt, size_t i)
{
    const DWORD filter = REG_NOTIFY_CHANGE_NAME | REG_NOTIFY_CHANGE_LAST_SET;
    /* Twice: a watched key that was deleted refuses the notification once. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (rt->watched[i] && rt->watch_level[i] != 0) {
            RegCloseKey(rt->watched[i]); /* an ancestor: look for the key itself again */
            rt->watched[i] = NULL;
        }
        for (size_t level = 0; !rt->watched[i] && level < 3; level++) {
            if (RegOpenKeyExW(HKEY_LOCAL_MACHINE, watch_chains[i][level], 0, KEY_NOTIFY,
                              &rt->watched[i]) == ERROR_SUCCESS) {
                rt->watch_level[i] = level;
            } else {
                rt->watched[i] = NULL;
            }
        }
        if (!rt->watched[i]) {
            return;
        }
        if (RegNotifyChangeKeyValue(rt->watched[i], rt->watch_level[i] != 0, filter, rt->change,
                                    TRUE) == ERROR_SUCCESS) {
            return;
        }
        RegCloseKey(rt->watched[i]);
        rt->watched[i] = NULL;
    }
}

/* Arms the notifications, before each reading so that no change slips between reading and
 * arming. */
static void arm_watches(runtime *rt)
{
    for (size_t i = 0; i < WATCH_CHAINS; i++) {
        arm_watch(rt, i);
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
    runtime_snapshot_release(rt->current);
    CloseHandle(rt->change);
    free(rt);
}

enum svc_exit runtime_start(runtime *rt)
{
    arm_watches(rt);
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    runtime_snapshot *s = snapshot_build(&diags);
    if (!s) {
        regio_diag_list_free(&diags);
        return SVC_EXIT_OUT_OF_MEMORY;
    }
    report_diags(s, &diags);
    regio_diag_list_free(&diags);
    standing_warnings(s);
    rt->listen_port = s->config->listen_port.value;
    rt->listen_addresses = list_hash(&s->config->listen_addresses);
    swap_in(rt, s);
    return SVC_EXIT_OK;
}

runtime_reload_result runtime_reload(runtime *rt, const char *trigger, bool force)
{
    arm_watches(rt);
    regio_diag_list diags;
    regio_diag_list_init(&diags);
    runtime_snapshot *s = snapshot_build(&diags);
    if (!s) {
        regio_diag_list_free(&diags);
        eventlog_write(MSG_RELOAD_REFUSED, trigger, "out of memory", NULL);
        return RUNTIME_FAILED;
    }
    uint64_t current = rt->current ? rt->current->fingerprint : 0;
    if (!force && (s->fingerprint == current || s->fingerprint == rt->refused_fingerprint)) {
        regio_diag_list_free(&diags);
        runtime_snapshot_release(s);
        return RUNTIME_UNCHANGED;
    }
    size_t errors = report_diags(s, &diags);
    regio_diag_list_free(&diags);
    if (errors > 0) {
        char why[80];
        snprintf(why, sizeof(why), "the new configuration has %zu error%s", errors,
                 errors == 1 ? "" : "s");
        eventlog_write(MSG_RELOAD_REFUSED, trigger, why, NULL);
        rt->refused_fingerprint = s->fingerprint;
        runtime_snapshot_release(s);
        return RUNTIME_REFUSED;
    }
    rt->refused_fingerprint = 0;
    standing_warnings(s);
    listen_warnings(rt, s);
    /* In force first, then said: the event tells whoever reads it that every decision from
     * now on uses the new rules, so it must not be visible before that is true. s stays
     * alive: rt holds it, and only this thread replaces it. */
    swap_in(rt, s);
    eventlog_write(MSG_CONFIG_RELOADED, trigger, s->description, NULL);
    return RUNTIME_RELOADED;
}
