#include "retry_schedule.h"

static uint64_t add_saturated(uint64_t a, uint64_t b)
{
    return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

uint64_t retry_schedule_deadline(const retry_schedule *schedule, uint64_t first_queued)
{
    if (schedule->expiration == 0) {
        return UINT64_MAX;
    }
    return add_saturated(first_queued, schedule->expiration);
}

uint64_t retry_schedule_next(const retry_schedule *schedule, uint32_t attempts,
                             uint64_t last_attempt, uint64_t first_queued)
{
    if (attempts == 0 || schedule->intervals.count == 0) {
        return last_attempt;
    }
    size_t index = attempts - 1;
    if (index >= schedule->intervals.count) {
        index = schedule->intervals.count - 1;
    }
    uint64_t next = add_saturated(last_attempt, schedule->intervals.seconds[index]);
    uint64_t deadline = retry_schedule_deadline(schedule, first_queued);
    return next < deadline ? next : deadline;
}

bool retry_schedule_expired(const retry_schedule *schedule, uint64_t first_queued, uint64_t now)
{
    return schedule->expiration != 0 && now >= first_queued &&
           now >= retry_schedule_deadline(schedule, first_queued);
}
