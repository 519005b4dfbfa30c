#include "events/limited_events.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#include "denial_limiter.h"
#include "events/eventlog.h"

struct limited_events {
    CRITICAL_SECTION lock; /* the limiter is not thread-safe by design */
    denial_limiter *limiter;
    uint32_t per_minute; /* the limit last applied, for summaries */
    uint32_t summary_message;
};

static void write_summary(void *ctx, const denial_summary *summary)
{
    const limited_events *events = ctx;
    char count[24], seconds[16], limit[16];
    snprintf(count, sizeof(count), "%llu", (unsigned long long)summary->suppressed);
    snprintf(seconds, sizeof(seconds), "%u", summary->seconds);
    snprintf(limit, sizeof(limit), "%u", events->per_minute);
    eventlog_write(events->summary_message, count, summary->client, seconds, limit, NULL);
}

limited_events *limited_events_create(uint32_t per_minute, uint32_t summary_message)
{
    limited_events *events = calloc(1, sizeof(*events));
    if (!events) {
        return NULL;
    }
    events->limiter = denial_limiter_create(per_minute);
    if (!events->limiter) {
        free(events);
        return NULL;
    }
    events->per_minute = per_minute;
    events->summary_message = summary_message;
    InitializeCriticalSection(&events->lock);
    return events;
}

bool limited_events_allow(limited_events *events, const char *client, uint32_t per_minute,
                          uint32_t total_per_minute, uint64_t now_ms)
{
    denial_summary summary;
    bool has_summary = false;
    EnterCriticalSection(&events->lock);
    events->per_minute = per_minute;
    denial_limiter_set_rate(events->limiter, per_minute);
    denial_limiter_set_total_rate(events->limiter, total_per_minute);
    bool allowed =
            denial_limiter_on_denial(events->limiter, client, now_ms, &summary, &has_summary);
    LeaveCriticalSection(&events->lock);
    if (has_summary) {
        write_summary(events, &summary);
    }
    return allowed;
}

void limited_events_sweep(limited_events *events, bool flush_all)
{
    EnterCriticalSection(&events->lock);
    denial_limiter_sweep(events->limiter, GetTickCount64(), flush_all, write_summary, events);
    LeaveCriticalSection(&events->lock);
}

void limited_events_destroy(limited_events *events)
{
    if (!events) {
        return;
    }
    denial_limiter_destroy(events->limiter);
    DeleteCriticalSection(&events->lock);
    free(events);
}
