#include "rate_window.h"

bool rate_window_allow(rate_window *w, uint64_t now_ms, uint32_t per_minute)
{
    if (per_minute == 0) {
        return true;
    }
    if (!w->started || now_ms < w->start_ms || now_ms - w->start_ms >= RATE_WINDOW_MS) {
        w->started = true;
        w->start_ms = now_ms;
        w->count = 0;
    }
    if (w->count >= per_minute) {
        w->refused++;
        return false;
    }
    w->count++;
    return true;
}

uint64_t rate_window_take_refused(rate_window *w)
{
    uint64_t n = w->refused;
    w->refused = 0;
    return n;
}
