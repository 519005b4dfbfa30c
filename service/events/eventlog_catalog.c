#include "events/eventlog_catalog.h"

#include <windows.h>

#include "messages.h"

#define ENTRY(symbol, count)                                                                       \
    {                                                                                              \
        symbol, count, #symbol                                                                     \
    }

const eventlog_entry eventlog_catalog[] = {
        ENTRY(MSG_STARTED, 2),
        ENTRY(MSG_STOPPED, 1),
        ENTRY(MSG_CONFIG_ERROR, 4),
        ENTRY(MSG_CONFIG_WARNING, 4),
        ENTRY(MSG_RELAY_DISABLED, 1),
        ENTRY(MSG_LOCAL_IP_IGNORED, 1),
        ENTRY(MSG_CONFIG_RELOADED, 2),
        ENTRY(MSG_RELOAD_REFUSED, 2),
        ENTRY(MSG_RELAY_DENIED, 7),
        ENTRY(MSG_DENIALS_SUPPRESSED, 4),
        ENTRY(MSG_LISTENER_FAILED, 4),
        ENTRY(MSG_SERVICE_FAILED, 2),
        ENTRY(MSG_FAIL_CLOSED, 1),
        ENTRY(MSG_CONNECTION_REFUSED, 4),
        ENTRY(MSG_REFUSALS_SUPPRESSED, 4),
        ENTRY(MSG_QUEUE_STARTED, 3),
        ENTRY(MSG_DELIVERY_FAILED, 5),
        ENTRY(MSG_DSN_SENT, 5),
        ENTRY(MSG_MESSAGE_EXPIRED, 5),
        ENTRY(MSG_DESTINATION_UNREACHABLE, 4),
        ENTRY(MSG_BADMAIL, 3),
        ENTRY(MSG_QUEUE_DELETED, 4),
        ENTRY(MSG_TLS_UNAVAILABLE, 1),
        ENTRY(MSG_TLS_READY, 1),
};

const size_t eventlog_catalog_count = sizeof(eventlog_catalog) / sizeof(eventlog_catalog[0]);

const eventlog_entry *eventlog_catalog_find(uint32_t id)
{
    for (size_t i = 0; i < eventlog_catalog_count; i++) {
        if (eventlog_catalog[i].id == id) {
            return &eventlog_catalog[i];
        }
    }
    return NULL;
}
