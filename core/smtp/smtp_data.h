/* The DATA phase decoder (RFC 5321 4.1.1.4 and 4.5.2): finds the end of a message and
 * removes dot-stuffing, streaming, with a few bits of state and no buffer.
 *
 * Only CRLF "." CRLF ends a message (the first CRLF may be the one that ended the DATA
 * command). Every other line-break shape around a dot -- LF.LF, CR.CR, CR.LF, LF.CR,
 * LF.CRLF, CRLF.LF, CR.CRLF, CRLF.CR, CRLF NUL . CRLF -- is message content: it never ends
 * the message, so it can never make the bytes after it a second, smuggled message.
 *
 * Policy (imsrelay): a message containing a bare CR or a bare LF is rejected as a whole.
 * Other servers on the path may read those bytes as line breaks and so see a different
 * message, or two; refusing them closes that gap. A NUL byte is refused the same way: a
 * server downstream written in C may end a line or a header at it. The decoder records them
 * in bare_cr / bare_lf / nul; the session answers "550 5.6.0" after the real end of data. */
#ifndef IMSRELAY_SMTP_DATA_H
#define IMSRELAY_SMTP_DATA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct smtp_data_decoder {
    int state;    /* private */
    bool bare_cr; /* a CR not followed by LF was seen */
    bool bare_lf; /* an LF not preceded by CR was seen */
    bool nul;     /* a NUL byte was seen */
} smtp_data_decoder;

/* Receives decoded message bytes (dot-stuffing removed, line breaks as sent). */
typedef void (*smtp_data_sink)(void *ctx, const uint8_t *bytes, size_t len);

/* Ready for a new message: at the start of a line, nothing seen. */
void smtp_data_decoder_init(smtp_data_decoder *decoder);

/* Decodes in[0..len). Returns the number of bytes consumed: all of them, or fewer when the
 * end of the message was found, in which case *ended is set and the count includes the
 * terminating ".\r\n"; the bytes after it belong to the command stream. */
size_t smtp_data_decode(smtp_data_decoder *decoder, const uint8_t *in, size_t len,
                        smtp_data_sink sink, void *ctx, bool *ended);

#endif
