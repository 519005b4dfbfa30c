#include "events/connection_events.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#include "denial_limiter.h"
#include "events/eventlog.h"

struct connection_events {
    CRITICAL_SECTION lock; /* the limiter is not thread-safe by design */
    denial_limiter *limiter;
    uint32_t per_minute; /* the limit last applied, for summaries */
};

static void report_suppressed(void *ctx, const denial_summary *summary)
{
    const connection_events *events = ctx;
    char count[24], seconds[16], limit[16];
    snprintf(count, sizeof(count), "%llu", (unsigned long long)summary->suppressed);
    snprintf(seconds, sizeof(seconds), "%u", summary->seconds);
    snprintf(limit, sizeof(limit), "%u", events->per_minute);
    eventlog_write(MSG_REFUSALS_SUPPRESSED, count, summary->client, seconds, limit, NULL);
}

connection_events *connection_events_create(uint32_t per_minute)
{
    connection_events *events = calloc(1, sizeof(*events));
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

void connection_events_refused(connection_events *events, const regio_config *config,
                               const char *client, uint64_t open, const char *setting,
                               uint64_t limit)
{
    denial_summary summary;
    bool has_summary = false;
    EnterCriticalSection(&events->lock);
    events->per_minute = config->denial_events_per_minute.value;
    denial_limiter_set_rate(events->limiter, events->per_minute);
    bool log = denial_limiter_on_denial(events->limiter, client, GetTickCount64(), &summary,
                                        &has_summary);
    LeaveCriticalSection(&events->lock);
    if (has_summary) {
        report_suppressed(events, &summary);
    }
    if (log) {
        char open_text[24], limit_text[24];
        snprintf(open_text, sizeof(open_text), "%llu", (unsigned long long)open);
        snprintf(limit_text, sizeof(limit_text), "%llu", (unsigned long long)limit);
        eventlog_write(MSG_CONNECTION_REFUSED, client, open_text, setting, limit_text, NULL);
    }
}

static void sweep(connection_events *events, bool flush_all)
{
    EnterCriticalSection(&events->lock);
    denial_limiter_sweep(events->limiter, GetTickCount64(), flush_all, report_suppressed, events);
    LeaveCriticalSection(&events->lock);
}

void connection_events_sweep(connection_events *events)
{
    sweep(events, false);
}

void connection_events_flush(connection_events *events)
{
    sweep(events, true);
}

void connection_events_destroy(connection_events *events)
{
    if (!events) {
        return;
    }
    denial_limiter_destroy(events->limiter);
    DeleteCriticalSection(&events->lock);
    free(events);
}
