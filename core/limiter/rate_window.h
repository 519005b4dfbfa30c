/* Counting events per minute in one window (rate_table.h keeps one per key). What a limit
 * refuses is counted, so a summary can say how much was not done.
 *
 * A window starts at the first event after the previous one ended and lasts
 * RATE_WINDOW_MS; its first `per_minute` events are allowed. Portable: no clock (now_ms from
 * any monotonic clock is passed in), no lock (the caller serializes). */
#ifndef IMSRELAY_RATE_WINDOW_H
#define IMSRELAY_RATE_WINDOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RATE_WINDOW_MS 60000u

typedef struct rate_window {
    uint64_t start_ms;
    uint32_t count;   /* events allowed in the current window */
    uint64_t refused; /* refused since the last rate_window_take_refused */
    bool started;
} rate_window;

/* One event at now_ms under a limit of per_minute (0: no limit, always allowed). */
bool rate_window_allow(rate_window *w, uint64_t now_ms, uint32_t per_minute);

/* The count of refused events since the last call, and resets it. */
uint64_t rate_window_take_refused(rate_window *w);

#endif
