#include "events/denial_events.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#include "rate_table.h"
#include "events/eventlog.h"
#include "events/limited_events.h"

#define PENDING_WAIT_STEP_MS 100
#define PENDING_WAIT_STEPS   50

struct denial_events {
    limited_events *limited; /* per client and in all, with summaries */
    CRITICAL_SECTION lookup_lock;
    rate_window lookups;   /* reverse lookups this minute (DenialLookupsPerMinute) */
    volatile LONG pending; /* events still looking up a host name */
};

typedef struct pending_event {
    denial_events *owner;
    struct sockaddr_storage peer;
    char strings[7][512]; /* the insertion strings of MSG_RELAY_DENIED */
} pending_event;

static void copy_text(char *dst, size_t size, const char *src)
{
    snprintf(dst, size, "%s", src && *src ? src : "-");
}

/* Runs on a pool thread: the PTR lookup can take seconds. */
static DWORD WINAPI write_event(void *param)
{
    pending_event *e = param;
    if (e->peer.ss_family == AF_INET || e->peer.ss_family == AF_INET6) {
        char host[NI_MAXHOST];
        int len = e->peer.ss_family == AF_INET6 ? (int)sizeof(struct sockaddr_in6)
                                                : (int)sizeof(struct sockaddr_in);
        if (getnameinfo((const struct sockaddr *)&e->peer, len, host, sizeof(host), NULL, 0,
                        NI_NAMEREQD) == 0) {
            copy_text(e->strings[1], sizeof(e->strings[1]), host);
        }
    }
    const char *strings[7];
    for (int i = 0; i < 7; i++) {
        strings[i] = e->strings[i];
    }
    eventlog_report(MSG_RELAY_DENIED, 7, strings);
    InterlockedDecrement(&e->owner->pending);
    free(e);
    return 0;
}

denial_events *denial_events_create(uint32_t per_minute)
{
    denial_events *events = calloc(1, sizeof(*events));
    if (!events) {
        return NULL;
    }
    events->limited = limited_events_create(per_minute, MSG_DENIALS_SUPPRESSED);
    if (!events->limited) {
        free(events);
        return NULL;
    }
    InitializeCriticalSection(&events->lookup_lock);
    return events;
}

void denial_events_report(denial_events *events, const regio_config *config,
                          const denial_report *report, const relay_verdict *verdict)
{
    uint64_t now = GetTickCount64();
    if (!limited_events_allow(events->limited, report->client,
                              config->denial_events_per_minute.value,
                              config->denial_events_per_minute_total.value, now)) {
        return;
    }
    /* Each event's lookup is a DNS query an attacker can trigger: bounded per minute too. A
     * lookup of 0 per minute means none. */
    bool lookup = false;
    if (config->denial_lookups_per_minute.value > 0) {
        EnterCriticalSection(&events->lookup_lock);
        lookup = rate_window_allow(&events->lookups, now, config->denial_lookups_per_minute.value);
        LeaveCriticalSection(&events->lookup_lock);
    }
    pending_event *e = calloc(1, sizeof(*e));
    if (!e) {
        return;
    }
    e->owner = events;
    if (report->peer) {
        e->peer = *report->peer;
    }
    copy_text(e->strings[0], sizeof(e->strings[0]), report->client);
    copy_text(e->strings[1], sizeof(e->strings[1]),
              lookup ? NULL : "- (not looked up: DenialLookupsPerMinute reached)");
    if (!lookup) {
        e->peer.ss_family = AF_UNSPEC;
    }
    copy_text(e->strings[2], sizeof(e->strings[2]), report->helo);
    copy_text(e->strings[3], sizeof(e->strings[3]), report->auth_account);
    copy_text(e->strings[4], sizeof(e->strings[4]), report->recipient);
    copy_text(e->strings[5], sizeof(e->strings[5]), report->local);
    relay_verdict_describe(verdict, e->strings[6], sizeof(e->strings[6]));
    InterlockedIncrement(&events->pending);
    if (!QueueUserWorkItem(write_event, e, WT_EXECUTEDEFAULT)) {
        /* No pool thread: write it here, without the host name, rather than lose it. */
        e->peer.ss_family = AF_UNSPEC;
        write_event(e);
    }
}

void denial_events_sweep(denial_events *events)
{
    limited_events_sweep(events->limited, false);
}

void denial_events_flush(denial_events *events)
{
    limited_events_sweep(events->limited, true);
    for (int i = 0; i < PENDING_WAIT_STEPS && events->pending > 0; i++) {
        Sleep(PENDING_WAIT_STEP_MS);
    }
}

void denial_events_destroy(denial_events *events)
{
    if (!events) {
        return;
    }
    limited_events_destroy(events->limited);
    DeleteCriticalSection(&events->lookup_lock);
    free(events);
}
