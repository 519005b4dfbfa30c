/* Rate limit for relay-denied events, per client address, so that a spam run cannot flood
 * the Application Event Log, while no denial goes unaccounted: what is not logged is
 * counted and reported in a summary event (MSG_DENIALS_SUPPRESSED).
 *
 * Each client address gets a window of 60 seconds starting at its first denial; the first
 * `per_minute` denials of a window are logged, the rest are counted. The count is reported
 * when the client's next window starts, when its slot is reused for another client, or by
 * denial_limiter_sweep() once the window has ended, whichever comes first.
 *
 * Portable C with no clock of its own (the caller passes milliseconds from any monotonic
 * clock) and no lock (the caller serializes). Memory is fixed: DENIAL_LIMITER_SLOTS clients
 * are tracked at once; a new client takes the slot of the least recently seen one. */
#ifndef IMSRELAY_DENIAL_LIMITER_H
#define IMSRELAY_DENIAL_LIMITER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DENIAL_LIMITER_SLOTS     1024
#define DENIAL_LIMITER_WINDOW_MS 60000u
#define DENIAL_LIMITER_KEY_MAX   64 /* a textual IPv6 address with zone fits */

/* A summary to report: `suppressed` denials of `client` were not logged during the
 * `seconds` before now. */
typedef struct denial_summary {
    char client[DENIAL_LIMITER_KEY_MAX];
    uint64_t suppressed;
    uint32_t seconds;
} denial_summary;

typedef struct denial_limiter denial_limiter;

/* per_minute 0 logs nothing and counts everything. NULL when out of memory. */
denial_limiter *denial_limiter_create(uint32_t per_minute);
void denial_limiter_destroy(denial_limiter *limiter);
void denial_limiter_set_rate(denial_limiter *limiter, uint32_t per_minute); /* on reload */

/* A limit on the events of all clients together (0: none, the default), so that denials
 * from many addresses cannot flood the log either. What it holds back is reported in
 * summaries whose client is DENIAL_LIMITER_ALL_CLIENTS. */
#define DENIAL_LIMITER_ALL_CLIENTS "all client addresses"
void denial_limiter_set_total_rate(denial_limiter *limiter, uint32_t per_minute);

/* A denial for client at now_ms. Returns true when it should be logged. When a summary of
 * an earlier window is due (this client's or the evicted one's), *summary is filled and
 * *has_summary set: report it before this denial's event. */
bool denial_limiter_on_denial(denial_limiter *limiter, const char *client, uint64_t now_ms,
                              denial_summary *summary, bool *has_summary);

/* Reports the summaries of windows that have ended, one call of report per client, and
 * clears them. Call it about once a minute, and at stop with flush_all set (then every
 * pending count is reported, ended or not). */
void denial_limiter_sweep(denial_limiter *limiter, uint64_t now_ms, bool flush_all,
                          void (*report)(void *ctx, const denial_summary *summary), void *ctx);

#endif
