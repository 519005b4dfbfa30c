#include "events/denial_events.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#include "denial_limiter.h"
#include "rate_window.h"
#include "events/eventlog.h"

#define PENDING_WAIT_STEP_MS 100
#define PENDING_WAIT_STEPS   50

struct denial_events {
    CRITICAL_SECTION lock; /* the limiter is not thread-safe by design */
    denial_limiter *limiter;
    uint32_t per_minute;   /* the limit last applied, for summaries */
    volatile LONG pending; /* events still looking up a host name */
    rate_window lookups;   /* reverse lookups this minute (DenialLookupsPerMinute) */
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

static void report_suppressed(void *ctx, const denial_summary *summary)
{
    const denial_events *events = ctx;
    char count[24], seconds[16], limit[16];
    snprintf(count, sizeof(count), "%llu", (unsigned long long)summary->suppressed);
    snprintf(seconds, sizeof(seconds), "%u", summary->seconds);
    snprintf(limit, sizeof(limit), "%u", events->per_minute);
    eventlog_write(MSG_DENIALS_SUPPRESSED, count, summary->client, seconds, limit, NULL);
}

denial_events *denial_events_create(uint32_t per_minute)
{
    denial_events *events = calloc(1, sizeof(*events));
    if (!events) {
        return NULL;
    }
    events->limiter = denial_limiter_create(per_minute);
    if (!events->limiter) {
        free(events);
        return NULL;
    }
    events->per_minute = per_minute;
    InitializeCriticalSection(&events->lock);
    return events;
}

void denial_events_report(denial_events *events, const regio_config *config,
                          const denial_report *report, const relay_verdict *verdict)
{
    denial_summary summary;
    bool has_summary = false;
    EnterCriticalSection(&events->lock);
    events->per_minute = config->denial_events_per_minute.value;
    denial_limiter_set_rate(events->limiter, events->per_minute);
    denial_limiter_set_total_rate(events->limiter, config->denial_events_per_minute_total.value);
    uint64_t now = GetTickCount64();
    bool log =
            denial_limiter_on_denial(events->limiter, report->client, now, &summary, &has_summary);
    /* Each event's lookup is a DNS query an attacker can trigger: bounded per minute too. A
     * lookup of 0 per minute means none. */
    bool lookup = log && config->denial_lookups_per_minute.value > 0 &&
                  rate_window_allow(&events->lookups, now, config->denial_lookups_per_minute.value);
    LeaveCriticalSection(&events->lock);
    if (has_summary) {
        report_suppressed(events, &summary);
    }
    if (!log) {
        return;
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

static void sweep(denial_events *events, bool flush_all)
{
    EnterCriticalSection(&events->lock);
    denial_limiter_sweep(events->limiter, GetTickCount64(), flush_all, report_suppressed, events);
    LeaveCriticalSection(&events->lock);
}

void denial_events_sweep(denial_events *events)
{
    sweep(events, false);
}

void denial_events_flush(denial_events *events)
{
    sweep(events, true);
    for (int i = 0; i < PENDING_WAIT_STEPS && events->pending > 0; i++) {
        Sleep(PENDING_WAIT_STEP_MS);
    }
}

void denial_events_destroy(denial_events *events)
{
    if (!events) {
        return;
    }
    denial_limiter_destroy(events->limiter);
    DeleteCriticalSection(&events->lock);
    free(events);
}
