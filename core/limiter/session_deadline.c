#include "session_deadline.h"

bool session_deadline_stressed(const session_deadline_limits *limits, uint64_t active,
                               uint64_t max_connections)
{
    if (limits->stress_percent == 0 || max_connections == 0) {
        return false;
    }
    /* active / max >= percent / 100, without division. */
    return active * 100u >= max_connections * (uint64_t)limits->stress_percent;
}

static uint64_t shorter(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

session_deadline_limits session_deadline_effective(const session_deadline_limits *limits,
                                                   bool stressed)
{
    session_deadline_limits l = *limits;
    if (stressed && l.stress_ms > 0) {
        l.idle_ms = shorter(l.idle_ms, l.stress_ms);
        l.command_ms = shorter(l.command_ms, l.stress_ms);
    }
    return l;
}

void session_deadline_phase_start(session_deadline_state *state, uint64_t now_ms)
{
    state->phase_start_ms = now_ms;
    state->data_deadline_ms = 0;
}

static uint64_t add_saturated(uint64_t a, uint64_t b)
{
    return a + b < a ? UINT64_MAX : a + b;
}

static uint64_t data_deadline(const session_deadline_limits *limits,
                              const session_deadline_state *state)
{
    return state->data_deadline_ms ? state->data_deadline_ms
                                   : add_saturated(state->phase_start_ms, limits->command_ms);
}

void session_deadline_received(const session_deadline_limits *limits, session_deadline_state *state,
                               uint64_t bytes, uint64_t now_ms)
{
    if (limits->data_min_rate == 0) {
        return;
    }
    uint64_t earned =
            bytes > UINT64_MAX / 1000u ? UINT64_MAX : bytes * 1000u / limits->data_min_rate;
    uint64_t deadline = add_saturated(data_deadline(limits, state), earned);
    uint64_t cap = add_saturated(now_ms, limits->command_ms);
    state->data_deadline_ms = deadline < cap ? deadline : cap;
}

session_deadline_verdict session_deadline_check(const session_deadline_limits *limits,
                                                const session_deadline_state *state,
                                                uint64_t now_ms)
{
    /* A clock that went backwards (it should not) never cuts anyone. */
    uint64_t age = now_ms > state->session_start_ms ? now_ms - state->session_start_ms : 0;
    uint64_t phase = now_ms > state->phase_start_ms ? now_ms - state->phase_start_ms : 0;
    uint64_t silent = now_ms > state->last_activity_ms ? now_ms - state->last_activity_ms : 0;
    if (limits->session_ms > 0 && age > limits->session_ms) {
        return SESSION_DEADLINE_SESSION;
    }
    if (limits->idle_ms > 0 && silent >= limits->idle_ms) {
        return SESSION_DEADLINE_IDLE;
    }
    if (!state->in_data) {
        return limits->command_ms > 0 && phase > limits->command_ms ? SESSION_DEADLINE_COMMAND
                                                                    : SESSION_DEADLINE_OK;
    }
    if (limits->data_min_rate == 0) {
        return SESSION_DEADLINE_OK;
    }
    /* The deadline the data has earned (session_deadline_received caps it with the limits in
     * force as the bytes came, so under stress the next bytes bring it within stress_ms). */
    return now_ms > data_deadline(limits, state) ? SESSION_DEADLINE_DATA_RATE : SESSION_DEADLINE_OK;
}

const char *session_deadline_describe(session_deadline_verdict verdict)
{
    switch (verdict) {
    case SESSION_DEADLINE_OK:
        return "within limits";
    case SESSION_DEADLINE_IDLE:
        return "idle timeout";
    case SESSION_DEADLINE_COMMAND:
        return "command line deadline passed (CommandTimeoutSeconds)";
    case SESSION_DEADLINE_DATA_RATE:
        return "message data below DataMinBytesPerSecond";
    case SESSION_DEADLINE_SESSION:
        return "session older than SessionTimeoutSeconds";
    }
    return "unknown";
}

const char *session_deadline_reply(session_deadline_verdict verdict)
{
    switch (verdict) {
    case SESSION_DEADLINE_COMMAND:
        return "Command line took too long";
    case SESSION_DEADLINE_DATA_RATE:
        return "Message data too slow";
    case SESSION_DEADLINE_SESSION:
        return "Session too long";
    case SESSION_DEADLINE_OK:
    case SESSION_DEADLINE_IDLE:
        break;
    }
    return "Idle timeout";
}
