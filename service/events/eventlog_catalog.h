/* Every event imsrelay writes, with the number of insertion strings its message expects.
 * One table for the service (which pads or trims what callers pass, so Event Viewer never
 * shows a bare "%3") and for the test that renders each message from the built exe. */
#ifndef IMSRELAY_EVENTLOG_CATALOG_H
#define IMSRELAY_EVENTLOG_CATALOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct eventlog_entry {
    uint32_t id;      /* full message ID from messages.h (severity bits included) */
    unsigned strings; /* insertion strings %1..%n the message uses */
    const char *name; /* symbolic name, for diagnostics and tests */
} eventlog_entry;

extern const eventlog_entry eventlog_catalog[];
extern const size_t eventlog_catalog_count;

/* The entry for an ID, or NULL for an ID the message table does not have. */
const eventlog_entry *eventlog_catalog_find(uint32_t id);

#endif
