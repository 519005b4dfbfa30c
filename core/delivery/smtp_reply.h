/* Incremental parser of SMTP server replies (RFC 5321 4.2, 4.2.1; enhanced status codes
 * RFC 3463 / RFC 2034), for the outbound delivery client. Bytes in, whole replies out; any
 * chunking, fixed memory (sizeof(smtp_reply_parser)).
 *
 * Accepted grammar, per line: three digits (the first 2..5, the others 0..9), then "-"
 * (more lines follow), " " or nothing (last line), then text, then CRLF. Every line of a
 * multi-line reply carries the same code.
 *
 * Decisions:
 * - A bare LF also ends a line (a lone CR before it is removed). Nothing depends on the
 *   exact line break of a reply, so refusing a sloppy server's replies would only defer
 *   mail for nothing. A CR that is not followed by LF is malformed.
 * - A NUL byte anywhere is malformed.
 * - A line may be up to SMTP_REPLY_LINE_LIMIT bytes (without its line break; RFC 5321
 *   says 512 with CRLF, real servers exceed that a little); longer is malformed. Of each
 *   line, at most SMTP_REPLY_LINE_KEEP bytes of text are kept, of the whole reply at most
 *   SMTP_REPLY_TEXT_MAX; the rest is read and dropped (`truncated` says so).
 * - A reply longer than SMTP_REPLY_TOTAL_LIMIT bytes in all is malformed, so an endless
 *   stream of continuation lines ends in an error rather than in a busy loop.
 * - Control characters (other than TAB) and DEL in the text are kept as '?', so the text
 *   can go into logs and DSNs as it is; bytes >= 0x80 are kept as they are.
 * - The enhanced status code is taken from the start of the first line's text when it has
 *   the form class.subject.detail (class 2, 4 or 5, equal to the reply code's first digit;
 *   subject and detail 1..3 digits) followed by a space or the end of the line. The text
 *   keeps it.
 * A malformed reply is an error for good: the stream can no longer be trusted to be in
 * step, so the parser stays in error until it is initialised again. */
#ifndef IMSRELAY_SMTP_REPLY_H
#define IMSRELAY_SMTP_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SMTP_REPLY_LINE_LIMIT  2048u  /* bytes per line, line break excluded */
#define SMTP_REPLY_LINE_KEEP   512u   /* text bytes kept per line */
#define SMTP_REPLY_TEXT_MAX    8192u  /* text bytes kept per reply (lines joined by '\n') */
#define SMTP_REPLY_TOTAL_LIMIT 65536u /* bytes per reply, line breaks included */

/* An enhanced status code (RFC 3463). klass 0: none. */
typedef struct smtp_status {
    uint16_t klass; /* 2, 4 or 5 */
    uint16_t subject;
    uint16_t detail;
} smtp_status;

/* "5.3.4": at most 11 characters and the NUL. */
#define SMTP_STATUS_TEXT_MAX 12
/* Writes the status as text into buf (SMTP_STATUS_TEXT_MAX bytes); "" when klass is 0. */
void smtp_status_format(smtp_status status, char buf[SMTP_STATUS_TEXT_MAX]);

typedef struct smtp_reply {
    uint16_t code;      /* 200..599 */
    smtp_status status; /* from the first line, klass 0 when absent */
    uint32_t line_count;
    bool truncated; /* some text was dropped (see the bounds above) */
    size_t text_length;
    /* The text of every line after "NNN-"/"NNN ", joined by '\n', NUL-terminated. */
    char text[SMTP_REPLY_TEXT_MAX + 1];
} smtp_reply;

typedef enum smtp_reply_error {
    SMTP_REPLY_OK = 0,
    SMTP_REPLY_BAD_CODE,       /* not three digits with the first 2..5 */
    SMTP_REPLY_BAD_SEPARATOR,  /* the code is followed by something other than '-', ' ' */
    SMTP_REPLY_CODE_MISMATCH,  /* a line of a multi-line reply with another code */
    SMTP_REPLY_LINE_TOO_LONG,  /* more than SMTP_REPLY_LINE_LIMIT */
    SMTP_REPLY_REPLY_TOO_LONG, /* more than SMTP_REPLY_TOTAL_LIMIT */
    SMTP_REPLY_NUL,            /* a NUL byte */
    SMTP_REPLY_BARE_CR,        /* a CR not followed by LF */
} smtp_reply_error;

/* One English sentence for logs and diagnostics. */
const char *smtp_reply_error_text(smtp_reply_error error);

typedef enum smtp_reply_result {
    SMTP_REPLY_NEED_MORE = 0, /* all input consumed, no reply complete yet */
    SMTP_REPLY_COMPLETE,      /* a reply is complete: smtp_reply_parser_reply() */
    SMTP_REPLY_ERROR,         /* malformed: smtp_reply_parser_error() */
} smtp_reply_result;

typedef struct smtp_reply_parser {
    /* private */
    smtp_reply reply;
    smtp_reply_error error;
    uint32_t line_bytes;  /* bytes of the current line seen, line break excluded */
    uint32_t reply_bytes; /* bytes of the current reply seen */
    uint32_t line_kept;   /* text bytes of the current line kept */
    char head[4];         /* the code and separator of the current line */
    bool held_cr;
    bool continuing; /* the previous line of this reply ended in '-' */
    bool complete;   /* the last call returned a complete reply */
} smtp_reply_parser;

void smtp_reply_parser_init(smtp_reply_parser *parser);

/* Parses in[0..len). Stops after the first complete reply: *consumed then counts the bytes
 * up to and including its last line break, and the rest belongs to the next reply (call
 * again with it). On NEED_MORE *consumed is len; on ERROR it is how far the parser read. */
smtp_reply_result smtp_reply_parse(smtp_reply_parser *parser, const void *in, size_t len,
                                   size_t *consumed);

/* The reply completed by the last call; valid until the next smtp_reply_parse. */
const smtp_reply *smtp_reply_parser_reply(const smtp_reply_parser *parser);
smtp_reply_error smtp_reply_parser_error(const smtp_reply_parser *parser);

/* Reads an enhanced status code at the start of text[0..len): "x.y.z" followed by a space
 * or the end. false when there is none. Shared with the EHLO/result code. */
bool smtp_status_parse(const char *text, size_t len, smtp_status *status);

#endif
