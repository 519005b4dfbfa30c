/* Deadlines that cut slow senders, as Postfix's per-record deadline and smtpd_min_data_rate
 * do: silence is not the only way to hold a connection slot, a client sending one byte every
 * few seconds never falls silent. Three limits:
 *
 *   - a command line (from the moment the server waits for it to its CRLF) must arrive
 *     within command_ms;
 *   - message data must keep a minimum rate: after a grace period of command_ms, the time
 *     allowed grows by one second for every data_min_rate bytes received, but never reaches
 *     more than command_ms past the last bytes (Postfix's smtpd_min_data_rate, capped at
 *     smtpd_timeout): data sent fast earns no stock of time to trickle on afterwards;
 *   - a whole session lasts at most session_ms.
 *
 * Under stress (the share of MaxConnections in use has reached stress_percent), the idle and
 * command timeouts and the DATA grace become stress_ms when that is shorter, as Postfix's
 * smtpd_timeout does under stress: slots are then scarce and a honest client that is merely
 * slow still gets stress_ms per line.
 *
 * Pure functions: times in milliseconds from any monotonic clock, passed in. */
#ifndef IMSRELAY_SESSION_DEADLINE_H
#define IMSRELAY_SESSION_DEADLINE_H

#include <stdbool.h>
#include <stdint.h>

typedef struct session_deadline_limits {
    uint64_t idle_ms;        /* silence (IdleTimeoutSeconds) */
    uint64_t command_ms;     /* one command line, and the DATA grace (CommandTimeoutSeconds) */
    uint32_t data_min_rate;  /* bytes per second after the grace; 0: no rate (DataMinBytesPerSecond)
                              */
    uint64_t session_ms;     /* the whole session; 0: no limit (SessionTimeoutSeconds) */
    uint32_t stress_percent; /* of MaxConnections; 0: never under stress */
    uint64_t stress_ms;      /* idle, command and grace under stress (StressTimeoutSeconds) */
} session_deadline_limits;

/* Where a session stands, as the transport tracks it. */
typedef struct session_deadline_state {
    uint64_t session_start_ms; /* accepted */
    uint64_t phase_start_ms;   /* the last reply was sent: a command line or data is awaited */
    /* Message data must have moved on by then (session_deadline_received); 0: by
     * phase_start_ms + command_ms, nothing counted yet. */
    uint64_t data_deadline_ms;
    uint64_t last_activity_ms; /* the last byte received or sent */
    bool in_data;              /* between 354 and the final dot */
} session_deadline_state;

typedef enum session_deadline_verdict {
    SESSION_DEADLINE_OK = 0,
    SESSION_DEADLINE_IDLE,      /* silent for longer than idle_ms */
    SESSION_DEADLINE_COMMAND,   /* a command line took longer than command_ms */
    SESSION_DEADLINE_DATA_RATE, /* message data slower than data_min_rate after the grace */
    SESSION_DEADLINE_SESSION,   /* the session is older than session_ms */
} session_deadline_verdict;

/* The few words a client reads in its 421 4.4.2 for that verdict ("Idle timeout", "Message
 * data too slow", ...). */
const char *session_deadline_reply(session_deadline_verdict verdict);

/* True when `active` sessions of `max_connections` put the server under stress. */
bool session_deadline_stressed(const session_deadline_limits *limits, uint64_t active,
                               uint64_t max_connections);

/* The limits in force: the stress ones when stressed. */
session_deadline_limits session_deadline_effective(const session_deadline_limits *limits,
                                                   bool stressed);

/* A reply went out at now_ms: a command line, or message data after 354, is awaited. */
void session_deadline_phase_start(session_deadline_state *state, uint64_t now_ms);

/* bytes arrived at now_ms, with the limits in force then. */
void session_deadline_received(const session_deadline_limits *limits, session_deadline_state *state,
                               uint64_t bytes, uint64_t now_ms);

/* Which limit, if any, the session waiting for its client has passed at now_ms. */
session_deadline_verdict session_deadline_check(const session_deadline_limits *limits,
                                                const session_deadline_state *state,
                                                uint64_t now_ms);

/* A short English phrase for the protocol log ("command line too slow"...). */
const char *session_deadline_describe(session_deadline_verdict verdict);

#endif
