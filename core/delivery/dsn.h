/* Delivery status notifications (RFC 3464) for mail the queue could not deliver, or is
 * still trying to deliver, written into a caller's buffer of bounded size.
 *
 * The DSN is a multipart/report; report-type=delivery-status with three parts: a text a
 * person reads, the machine-readable message/delivery-status, and the original message
 * (message/rfc822) when it is at most return_full_max bytes, else its header
 * (text/rfc822-headers). Whatever a remote server said is folded into one bounded
 * Diagnostic-Code field: its CR and LF can never start a header or a MIME part. The caller
 * sends it with the null reverse-path (MAIL FROM:<>), so a DSN never causes another. */
#ifndef IMSRELAY_DELIVERY_DSN_H
#define IMSRELAY_DELIVERY_DSN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "queue_state.h"

#define DSN_DIAGNOSTIC_MAX 900         /* bytes of reply text kept per recipient */
#define DSN_HEADERS_MAX    (64 * 1024) /* bytes of the original header returned */
#define DSN_RECIPIENTS_MAX 1000        /* recipients named in one DSN */
#define DSN_DATE_MAX       40

typedef enum dsn_action {
    DSN_ACTION_FAILED,  /* given up: the message is not delivered to this recipient */
    DSN_ACTION_DELAYED, /* still being retried */
} dsn_action;

typedef struct dsn_recipient {
    const char *address; /* the recipient, without angle brackets */
    dsn_action action;
    const char *status;            /* enhanced status code, e.g. "5.1.1", "4.4.1" */
    const char *remote_mta;        /* host that gave the reply; NULL or "" when none */
    const char *diagnostic;        /* its reply (any bytes), or a local reason; NULL: none */
    const char *last_attempt_date; /* RFC 5322 date; NULL when never tried */
    const char *will_retry_until;  /* delayed: RFC 5322 date of expiry; NULL: omitted */
} dsn_recipient;

typedef uint32_t (*dsn_random)(void *context); /* 32 uniformly random bits */

typedef struct dsn_report {
    const char *reporting_host;  /* our host name: Reporting-MTA and MAILER-DAEMON@host */
    const char *original_sender; /* envelope sender of the original: the DSN goes to it */
    const char *date;            /* Date: header, RFC 5322 text (see dsn_format_date) */
    const char *message_id;      /* "left@right", written as Message-ID: <left@right> */
    const char *arrival_date;    /* when the original was received; NULL: omitted */
    const dsn_recipient *recipients;
    size_t recipient_count; /* 1..DSN_RECIPIENTS_MAX */
    const char *original;   /* the message as queued (from its first header on) */
    size_t original_size;
    size_t return_full_max; /* return the whole message up to this size; 0: header only */
    dsn_random random;      /* for the MIME boundary */
    void *random_context;
} dsn_report;

/* Writes the DSN (CRLF lines, NUL-terminated) into out and returns its length, or 0 when
 * the report is invalid or does not fit even with the original's header alone. When the
 * whole original does not fit, its header is returned instead. */
size_t dsn_build(const dsn_report *report, char *out, size_t out_size);

/* Whether a DSN of this kind is due for this recipient now: never for the null sender
 * ("" or NULL), never twice (the queue_state DSN-sent marks), a failure DSN once the
 * recipient has failed, a delay DSN once it has been deferred for delay_warning seconds
 * (0: no delay DSNs). */
bool dsn_due(const char *envelope_sender, dsn_action action, const queue_state_recipient *r,
             uint64_t now, uint32_t delay_warning);

/* "Tue, 05 Mar 2024 10:11:12 +0000" for seconds since 1970 UTC; returns the length. */
size_t dsn_format_date(uint64_t unix_seconds, char *out, size_t out_size);

#endif
