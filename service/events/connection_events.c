#include "events/connection_events.h"

#include <windows.h>
#include <stdio.h>
#include <stdlib.h>

#include "events/eventlog.h"
#include "events/limited_events.h"

/* The refused-connection events, limited like the denial events (DenialEventsPerMinute
 * per client), with their own summary message. */
struct connection_events {
    limited_events *limited;
};

connection_events *connection_events_create(uint32_t per_minute)
{
    connection_events *events = calloc(1, sizeof(*events));
    if (!events) {
        return NULL;
    }
    events->limited = limited_events_create(per_minute, MSG_REFUSALS_SUPPRESSED);
    if (!events->limited) {
        free(events);
        return NULL;
    }
    return events;
}

void connection_events_refused(connection_events *events, const regio_config *config,
                               const char *client, uint64_t open, const char *setting,
                               uint64_t limit)
{
    if (limited_events_allow(events->limited, client, config->denial_events_per_minute.value, 0,
                             GetTickCount64())) {
        char open_text[24], limit_text[24];
        snprintf(open_text, sizeof(open_text), "%llu", (unsigned long long)open);
        snprintf(limit_text, sizeof(limit_text), "%llu", (unsigned long long)limit);
        eventlog_write(MSG_CONNECTION_REFUSED, client, open_text, setting, limit_text, NULL);
    }
}

void connection_events_sweep(connection_events *events)
{
    limited_events_sweep(events->limited, false);
}

void connection_events_flush(connection_events *events)
{
    limited_events_sweep(events->limited, true);
}

void connection_events_destroy(connection_events *events)
{
    if (!events) {
        return;
    }
    limited_events_destroy(events->limited);
    free(events);
}
