/* The durable delivery state of one queue file: an append-only journal beside it
 * (Queue\ID.state), one self-checking line per record, so that what the service learned
 * before a crash is what it knows after it.
 *
 * Records (CRLF lines, fields separated by one space, text %XX-escaped so a record is
 * always one line of printable ASCII; the CRC-32 covers every byte before " crc="):
 *
 *   Q t=<queued> n=<recipients> crc=<8 hex>                         taken into the queue
 *   R <set> deferred|done|failed t=<time> [next=<time>] [host=<name>] [reply=<text>]
 *     [tls=<text>] crc=..                                           an attempt's outcome
 *                                       (tls: "none" or "TLSv1.2 <cipher> verified|not-verified")
 *   N t=<time> crc=..                                               "retry now" request
 *   S <set> failed|delayed t=<time> crc=..                          a DSN was sent
 *
 * <set> names recipient indexes (their order in the queue file): "0-4,7,9-10". One R
 * record covers every recipient of one SMTP transaction, so the remote 250 is recorded
 * for all of them by a single append, before anything else happens; a crash tears at most
 * that line, and a torn line is not believed (the message is then sent again: a duplicate,
 * never a loss). Once done or failed, a recipient stays so whatever follows.
 *
 * Only encoding and replay live here; the Win32 layer appends each record and flushes it.
 * Before its first append it truncates the file to queue_state.complete_size, so a torn
 * last line is never glued to the next record. To keep memory and disk in step, it feeds
 * every record it appended to queue_state_replay as well. */
#ifndef IMSRELAY_DELIVERY_QUEUE_STATE_H
#define IMSRELAY_DELIVERY_QUEUE_STATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define QUEUE_STATE_RECIPIENTS_MAX 100000
#define QUEUE_STATE_REPLY_MAX      512 /* bytes of reply text kept; longer replies are cut */
#define QUEUE_STATE_HOST_MAX       255
#define QUEUE_STATE_TLS_MAX        120
/* A buffer of this size holds any record, even one naming 100000 scattered recipients. */
#define QUEUE_STATE_RECORD_MAX (1024 * 1024)

typedef enum queue_state_status {
    QUEUE_STATE_PENDING,  /* not tried yet */
    QUEUE_STATE_DEFERRED, /* tried, temporary failure: try again at next_attempt */
    QUEUE_STATE_DONE,     /* the remote server took it (final) */
    QUEUE_STATE_FAILED,   /* permanent failure or expired (final) */
} queue_state_status;

typedef enum queue_state_dsn {
    QUEUE_STATE_DSN_FAILED,
    QUEUE_STATE_DSN_DELAYED,
} queue_state_dsn;

typedef struct queue_state_recipient {
    queue_state_status status;
    uint32_t attempts;       /* outcomes recorded */
    uint64_t first_queued;   /* from the Q record; 0 until one is seen */
    uint64_t last_attempt;   /* time of the last outcome; 0 if none */
    uint64_t next_attempt;   /* deferred: when to try again; 0 otherwise */
    const char *remote_host; /* "" when none; owned by the queue_state */
    const char *last_reply;  /* "" when none; may hold CRLF (multi-line reply) */
    const char *last_tls;    /* the last attempt's TLS ("none", "TLSv1.2 ..."); "" unknown */
    bool failure_dsn_sent;
    bool delay_dsn_sent;
} queue_state_recipient;

typedef struct queue_state_text_block queue_state_text_block;

typedef struct queue_state {
    size_t recipient_count;
    queue_state_recipient *recipients;
    uint64_t queued_at;             /* 0 until a Q record */
    uint64_t retry_requested;       /* time of the last N record; 0 if none */
    size_t records_applied;         /* good records */
    size_t records_skipped;         /* lines with a bad checksum or syntax, or foreign indexes */
    size_t first_skipped_line;      /* 1-based line number of the first skipped line; 0 if none */
    size_t lines;                   /* whole lines read */
    size_t complete_size;           /* bytes read up to the end of the last whole line */
    bool torn_tail;                 /* the journal ended inside a line (ignored) */
    queue_state_text_block *texts_; /* owns the reply and host texts */
} queue_state;

/* An empty state for a queue file with recipient_count (1..QUEUE_STATE_RECIPIENTS_MAX)
 * recipients, all pending. false on bad count or out of memory. */
bool queue_state_init(queue_state *state, size_t recipient_count);
void queue_state_free(queue_state *state);

/* Applies the journal bytes data[0..size) in order. Whole lines only: bytes after the last
 * LF are a torn record, reported in torn_tail and not counted in complete_size. Calls may
 * follow one another (the whole file at start, then each appended record). false only on
 * out of memory, with the records before the failing one applied. */
bool queue_state_replay(queue_state *state, const char *data, size_t size);

typedef struct queue_state_outcome {
    queue_state_status status; /* DEFERRED, DONE or FAILED */
    uint64_t time;             /* when the attempt ended */
    uint64_t next_attempt;     /* DEFERRED: when to try again */
    const char *remote_host;   /* NULL or "" when no host was reached */
    const char *reply;         /* the reply or local reason; NULL or "" for none */
    const char *tls;           /* the connection's TLS (tls_policy_describe); NULL or "" */
} queue_state_outcome;

/* Each encoder writes one record (with its CRLF and NUL) into out and returns its length
 * without the NUL, or 0 when it does not fit or the arguments are invalid (indexes empty or
 * one >= QUEUE_STATE_RECIPIENTS_MAX, a PENDING outcome). A buffer of QUEUE_STATE_RECORD_MAX
 * bytes always fits. Indexes may come in any order; ascending runs are written as ranges.
 * Reply and host texts longer than their maximum are cut. */
size_t queue_state_encode_queued(char *out, size_t out_size, uint64_t time, size_t recipient_count);
size_t queue_state_encode_outcome(char *out, size_t out_size, const size_t *indexes,
                                  size_t index_count, const queue_state_outcome *outcome);
size_t queue_state_encode_retry_now(char *out, size_t out_size, uint64_t time);
size_t queue_state_encode_dsn_sent(char *out, size_t out_size, const size_t *indexes,
                                   size_t index_count, queue_state_dsn kind, uint64_t time);

/* "pending", "deferred", "done", "failed" (for `imsrelay queue` listings). */
const char *queue_state_status_name(queue_state_status status);

#endif
