/* The spool: every accepted message is on disk, whole and flushed, before its 250.
 *
 * Layout under MailRoot:  Drop\   messages for local recipients
 *                         Queue\  messages for relayed recipients, in Queue\<XX>\
 *                                 (store/queue_path.h: 256 subfolders)
 *                         Tmp\    messages being received (never read by anyone else)
 * A message with local and relayed recipients becomes two files, one in each folder, each
 * naming only its own recipients. A file is written under Tmp\, flushed, then renamed into
 * place (same volume, so the rename is atomic): a reader sees no file or a whole one, and a
 * crash at any moment leaves at most a stale file in Tmp\, which spool_open() removes since
 * no 250 was ever sent for it.
 *
 * File format (the one IIS SMTP and Exchange use for pickup/drop folders), CRLF lines:
 *   X-Sender: <sender>
 *   X-Receiver: <recipient>          one line per recipient of this file
 *   Received: from ...               the trace header this server adds (RFC 5321 4.4)
 *   <the message as received, dot-unstuffed>
 */
#ifndef IMSRELAY_SPOOL_H
#define IMSRELAY_SPOOL_H

#include <stdbool.h>
#include <stddef.h>

typedef struct spool spool;
typedef struct spool_message spool_message;

typedef struct spool_recipient {
    const char *address; /* as given in RCPT TO, without angle brackets */
    bool local;          /* local recipients go to Drop\, the others to Queue\ */
} spool_recipient;

typedef struct spool_envelope {
    const char *server_host;  /* our host name, for "by" */
    const char *helo;         /* HELO/EHLO argument */
    const char *client_ip;    /* textual client address */
    const char *client_host;  /* PTR name, or NULL/"" when unknown */
    const char *auth_account; /* authenticated account, or NULL/"" */
    bool esmtp;               /* the client said EHLO */
    const char *mail_from;    /* "" for the null sender */
    const spool_recipient *recipients;
    size_t recipient_count;
} spool_envelope;

/* Opens the spool at mail_root (UTF-8), creating Drop, Queue, Tmp as needed and clearing
 * stale files from Tmp. Returns NULL and sets *win32_error on failure. */
spool *spool_open(const char *mail_root, unsigned long *win32_error);
/* The same for a second writer in the process (the queue manager's DSNs): Tmp\ is left
 * alone, since the first writer's messages are being received there, and its ids cannot
 * meet the first writer's. */
spool *spool_open_shared(const char *mail_root, unsigned long *win32_error);
void spool_close(spool *spool);

/* Starts a message: creates its file(s) under Tmp\ and writes the envelope and Received
 * header. NULL and *win32_error on failure (the SMTP reply is then 451). */
spool_message *spool_begin(spool *spool, const spool_envelope *envelope,
                           unsigned long *win32_error);
/* Appends message bytes (already dot-unstuffed). false on a write error; the message must
 * then be aborted. */
bool spool_write(spool_message *message, const void *data, size_t size);
/* Flushes to disk and renames into Drop\ / Queue\. Only after true may the server say 250.
 * On false nothing is left behind. The message is freed either way. */
bool spool_commit(spool_message *message, unsigned long *win32_error);
/* Throws the message away (client went away, message too large, bare LF...). */
void spool_abort(spool_message *message);

/* Called after a message is committed into Queue\ (not for Drop\ only), with its id, on
 * the committing thread: it must be quick and must not call back into the spool. NULL
 * removes the hook; when this returns, a hook removed is no longer running. */
typedef void (*spool_queued_hook)(void *ctx, const char *id);
void spool_set_queued_hook(spool *spool, spool_queued_hook hook, void *ctx);

/* The id of the message (also the file name without extension), for logs and Received. */
const char *spool_message_id(const spool_message *message);

#endif
