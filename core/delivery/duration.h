/* Durations as an administrator writes them in the registry: "30s", "15m", "1h", "2d", and
 * "0" for off; lists of them for retry schedules: "15m, 30m, 1h, 4h".
 *
 * A duration is a decimal count followed by one unit letter (s, m, h, d; either case), with
 * spaces allowed around it. Every non-zero duration lies between DURATION_MIN_SECONDS and
 * DURATION_MAX_SECONDS, so a typo cannot schedule a retry in a century or every
 * millisecond. Errors are sentences that follow the value's name in an event, e.g.
 * SmtpRetryIntervals "15m,,1h": "entry 2 is empty". */
#ifndef IMSRELAY_DELIVERY_DURATION_H
#define IMSRELAY_DELIVERY_DURATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DURATION_MIN_SECONDS 1u
#define DURATION_MAX_SECONDS (30u * 24u * 3600u) /* 30d */
#define DURATION_LIST_MAX    32                  /* entries in a list */
#define DURATION_TEXT_MAX    1024                /* longest value read, in bytes */
#define DURATION_ERROR_MAX   160                 /* room for any error sentence */

typedef struct duration_list {
    size_t count; /* 1..DURATION_LIST_MAX after a successful parse */
    uint32_t seconds[DURATION_LIST_MAX];
} duration_list;

/* One duration; "0" (or "0s", "0m"...) gives 0, meaning off. On failure returns false and
 * writes the reason into error (if error_size > 0). */
bool duration_parse(const char *text, uint32_t *seconds, char *error, size_t error_size);

/* A comma-separated list of non-zero durations. On failure returns false, leaves *out
 * unspecified and writes the reason into error. */
bool duration_list_parse(const char *text, duration_list *out, char *error, size_t error_size);

/* Shortest text that parses back to the same value ("90m" -> "1h30m" is not a form we
 * read, so the largest whole unit is used: 5400 -> "90m"). Returns the length written. */
size_t duration_format(uint32_t seconds, char *out, size_t out_size);

#endif
