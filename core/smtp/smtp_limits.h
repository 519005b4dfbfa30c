/* The engine's limits: defaults and hard bounds. A header of its own, with no other include
 * than <stdint.h>, because the registry layer (core/regio/settings.c) takes its bounds from
 * here: the engine is the one that must hold them (memory per session, protocol minimums),
 * so it owns them, and it stays usable without any registry. regio then cannot offer a value
 * the engine would silently change. */
#ifndef IMSRELAY_SMTP_LIMITS_H
#define IMSRELAY_SMTP_LIMITS_H

#include <stdint.h>

/* Limits from configuration. A zero field takes its default; values outside the bounds are
 * clamped to them. */
typedef struct smtp_limits {
    uint64_t max_message_bytes;     /* counted after dot-unstuffing */
    uint32_t max_recipients;        /* per transaction */
    uint32_t max_line_length;       /* command line incl. CRLF */
    uint32_t max_auth_failures;     /* the failure that reaches it closes */
    uint32_t auth_failure_delay_ms; /* delay after the 1st failure, doubling */
} smtp_limits;

#define SMTP_DEFAULT_MAX_MESSAGE_BYTES 10485760u
#define SMTP_MAX_MESSAGE_BYTES_MIN     1u
#define SMTP_MAX_MESSAGE_BYTES_MAX     UINT64_MAX

/* Recipient storage grows with the recipients given, so the upper bound costs memory only
 * when a client uses it (about 270 bytes per recipient at worst). */
#define SMTP_DEFAULT_MAX_RECIPIENTS 100u
#define SMTP_MAX_RECIPIENTS_MIN     1u
#define SMTP_MAX_RECIPIENTS_MAX     100000u

#define SMTP_DEFAULT_MAX_LINE_LENGTH 2048u
#define SMTP_MAX_LINE_LENGTH_MIN     512u /* RFC 5321 4.5.3.1.4: 512 octets */
#define SMTP_MAX_LINE_LENGTH_MAX     65536u

#define SMTP_DEFAULT_MAX_AUTH_FAILURES 3u
#define SMTP_MAX_AUTH_FAILURES_MIN     1u
#define SMTP_MAX_AUTH_FAILURES_MAX     10u

#define SMTP_DEFAULT_AUTH_FAILURE_DELAY_MS 1000u
#define SMTP_AUTH_DELAY_MIN_MS             1u
#define SMTP_AUTH_DELAY_MAX_MS             30000u

/* Fills in defaults and clamps, as smtp_session_create does. */
smtp_limits smtp_limits_effective(const smtp_limits *requested);

#endif
