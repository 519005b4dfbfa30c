#include "smtp_data.h"

enum {
    AT_LINE_START = 0, /* after CRLF (or at the start of the message) */
    IN_LINE,           /* anywhere else */
    AFTER_CR,          /* a CR was held back: is it followed by LF? */
    AFTER_DOT,         /* a "." at the start of a line was held back */
    AFTER_DOT_CR,      /* "." CR at the start of a line: LF here ends the message */
};

static const uint8_t CR = '\r';
static const uint8_t CRLF[2] = {'\r', '\n'};

void smtp_data_decoder_init(smtp_data_decoder *decoder)
{
    decoder->state = AT_LINE_START;
    decoder->bare_cr = false;
    decoder->bare_lf = false;
    decoder->nul = false;
}

/* Consumes the longest run of ordinary content starting in IN_LINE, passing it through in
 * one piece. Stops before a "." that starts a line, or at a CR that ends the input. */
static size_t scan_line_content(smtp_data_decoder *d, const uint8_t *in, size_t len,
                                smtp_data_sink sink, void *ctx)
{
    size_t pos = 0;
    int state = IN_LINE;
    while (pos < len) {
        uint8_t c = in[pos];
        if (c == '\n') {
            d->bare_lf = true;
            pos++;
            state = IN_LINE;
        } else if (c != '\r') {
            if (c == '.' && state == AT_LINE_START) {
                break;
            }
            d->nul |= c == '\0';
            pos++;
            state = IN_LINE;
        } else if (pos + 1 == len) {
            break; /* the CR's meaning depends on the next feed */
        } else if (in[pos + 1] == '\n') {
            pos += 2;
            state = AT_LINE_START;
        } else {
            d->bare_cr = true;
            pos++;
            state = IN_LINE;
        }
    }
    if (pos > 0) {
        sink(ctx, in, pos);
    }
    d->state = state;
    if (pos + 1 == len && in[pos] == '\r') {
        d->state = AFTER_CR;
        pos++;
    }
    return pos;
}

size_t smtp_data_decode(smtp_data_decoder *d, const uint8_t *in, size_t len, smtp_data_sink sink,
                        void *ctx, bool *ended)
{
    size_t pos = 0;
    *ended = false;
    while (pos < len) {
        uint8_t c = in[pos];
        switch (d->state) {
        case AT_LINE_START:
            if (c == '.') {
                d->state = AFTER_DOT;
                pos++;
            } else {
                pos += scan_line_content(d, in + pos, len - pos, sink, ctx);
            }
            break;
        case IN_LINE:
            pos += scan_line_content(d, in + pos, len - pos, sink, ctx);
            break;
        case AFTER_CR:
            if (c == '\n') {
                sink(ctx, CRLF, 2);
                d->state = AT_LINE_START;
                pos++;
            } else {
                /* The held CR was bare; c is examined again as ordinary content. */
                d->bare_cr = true;
                sink(ctx, &CR, 1);
                d->state = IN_LINE;
            }
            break;
        case AFTER_DOT:
            if (c == '\r') {
                d->state = AFTER_DOT_CR;
                pos++;
            } else {
                /* A stuffed dot: the line goes on, the dot is dropped (RFC 5321 4.5.2). */
                d->state = IN_LINE;
            }
            break;
        case AFTER_DOT_CR:
        default:
            if (c == '\n') {
                /* The flags stay for the caller to judge the message. */
                *ended = true;
                d->state = AT_LINE_START;
                return pos + 1;
            }
            /* "." CR and something else: the line had more than the dot, so the dot was
             * stuffing and the CR is bare. */
            d->bare_cr = true;
            sink(ctx, &CR, 1);
            d->state = IN_LINE;
            break;
        }
    }
    return pos;
}
