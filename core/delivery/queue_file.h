/* The envelope of a file in MailRoot\Queue, as service/spool.c writes it (CRLF lines):
 *
 *   X-Sender: <sender>            "<>" for the null sender
 *   X-Receiver: <recipient>       one line per recipient, at least one
 *   Received: from ...            the message starts here, with our trace header
 *
 * The parser reads a prefix of the file. The envelope is bounded (QUEUE_FILE_LINE_MAX per
 * line, QUEUE_FILE_RECIPIENTS_MAX recipients), so the caller reads a first block, and only
 * when it gets QUEUE_FILE_INCOMPLETE reads a larger prefix, never more than
 * QUEUE_FILE_ENVELOPE_MAX bytes. A file that cannot be parsed gets a reason in a sentence,
 * e.g. "line 3 does not end with CRLF", which the service gives when it moves the file to
 * Badmail. */
#ifndef IMSRELAY_DELIVERY_QUEUE_FILE_H
#define IMSRELAY_DELIVERY_QUEUE_FILE_H

#include <stdbool.h>
#include <stddef.h>

/* RFC 5321 4.5.3.1.3: a path is at most 256 octets with its angle brackets. */
#define QUEUE_FILE_ADDRESS_MAX    254
#define QUEUE_FILE_LINE_MAX       (sizeof("X-Receiver: <>\r\n") - 1 + QUEUE_FILE_ADDRESS_MAX)
#define QUEUE_FILE_RECIPIENTS_MAX 100000 /* the largest MaxRecipients (regio/settings.c) */
#define QUEUE_FILE_ENVELOPE_MAX   (QUEUE_FILE_LINE_MAX * (QUEUE_FILE_RECIPIENTS_MAX + 2))
#define QUEUE_FILE_ERROR_MAX      128

typedef enum queue_file_status {
    QUEUE_FILE_OK,
    QUEUE_FILE_INCOMPLETE, /* the prefix ends inside the envelope: read more of the file */
    QUEUE_FILE_MALFORMED,  /* the reason is in error; the file goes to Badmail */
} queue_file_status;

typedef struct queue_file_envelope {
    const char *sender;      /* without brackets; "" for the null sender */
    const char **recipients; /* without brackets, in file order; index = recipient index */
    size_t recipient_count;  /* 1..QUEUE_FILE_RECIPIENTS_MAX */
    size_t message_offset;   /* byte offset of the message's first line (Received:) */
    void *storage_;          /* owns the strings; freed by queue_file_envelope_free */
} queue_file_envelope;

/* Parses the envelope from data[0..size), the first size bytes of the file; whole_file
 * says these are all its bytes. On QUEUE_FILE_OK *out owns copies of the addresses (free
 * with queue_file_envelope_free); on any other status *out holds nothing to free. An
 * out-of-memory is reported as QUEUE_FILE_INCOMPLETE with error "out of memory", so it
 * never sends a good file to Badmail. */
queue_file_status queue_file_parse(const char *data, size_t size, bool whole_file,
                                   queue_file_envelope *out, char *error, size_t error_size);

void queue_file_envelope_free(queue_file_envelope *envelope);

#endif
