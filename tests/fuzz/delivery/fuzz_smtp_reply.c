/* The reply parser fed random bytes, whole and in random pieces. Checks, besides "never
 * crashes": every complete reply is well-formed (code 200..599, text within its bounds and
 * free of NUL, CR and LF except the '\n' between lines, an enhanced status only of the
 * code's class), the parser always makes progress, and the chunking changes nothing: the
 * same replies, the same error at the same place.
 *
 * Input layout: byte 0 = chunking seed, the rest is the server's byte stream. */
#include "smtp_reply.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MAX_REPLIES 64

typedef struct outcome {
    size_t count;
    uint16_t codes[MAX_REPLIES];
    uint64_t text_hash[MAX_REPLIES];
    smtp_reply_result last;
    smtp_reply_error error;
    size_t consumed;
} outcome;

static uint64_t hash(const char *s, size_t n)
{
    uint64_t h = 1469598103934665603u;
    for (size_t i = 0; i < n; i++) {
        h = (h ^ (uint8_t)s[i]) * 1099511628211u;
    }
    return h;
}

static void check_reply(const smtp_reply *r)
{
    if (r->code < 200 || r->code > 599 || r->line_count == 0) {
        abort();
    }
    if (r->text_length > SMTP_REPLY_TEXT_MAX || strlen(r->text) != r->text_length) {
        abort();
    }
    size_t newlines = 0;
    for (size_t i = 0; i < r->text_length; i++) {
        if (r->text[i] == '\r' || (r->text[i] == '\n' && ++newlines >= r->line_count)) {
            abort();
        }
    }
    if (newlines + 1 != r->line_count && !r->truncated) {
        abort();
    }
    if (r->status.klass != 0 && r->status.klass != r->code / 100) {
        abort();
    }
}

static void run(const uint8_t *data, size_t len, uint32_t seed, outcome *out)
{
    smtp_reply_parser p;
    size_t pos = 0;
    smtp_reply_parser_init(&p);
    memset(out, 0, sizeof *out);
    out->last = SMTP_REPLY_NEED_MORE;
    while (pos < len) {
        size_t n = len - pos;
        if (seed != 0) {
            seed = seed * 1103515245u + 12345u;
            size_t piece = 1 + (seed >> 16) % 17;
            n = piece < n ? piece : n;
        }
        size_t used = 0;
        smtp_reply_result r = smtp_reply_parse(&p, data + pos, n, &used);
        if (used > n || (r == SMTP_REPLY_NEED_MORE && used != n) ||
            (r == SMTP_REPLY_COMPLETE && used == 0)) {
            abort();
        }
        pos += used;
        out->last = r;
        if (r == SMTP_REPLY_ERROR) {
            out->error = smtp_reply_parser_error(&p);
            break;
        }
        if (r == SMTP_REPLY_COMPLETE) {
            const smtp_reply *reply = smtp_reply_parser_reply(&p);
            check_reply(reply);
            if (out->count < MAX_REPLIES) {
                out->codes[out->count] = reply->code;
                out->text_hash[out->count] = hash(reply->text, reply->text_length);
            }
            out->count++;
        }
    }
    out->consumed = pos;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) {
        return 0;
    }
    outcome whole, pieces;
    run(data + 1, size - 1, 0, &whole);
    run(data + 1, size - 1, data[0] | 1u, &pieces);
    if (whole.count != pieces.count || whole.last != pieces.last || whole.error != pieces.error ||
        whole.consumed != pieces.consumed ||
        memcmp(whole.codes, pieces.codes, sizeof whole.codes) != 0 ||
        memcmp(whole.text_hash, pieces.text_hash, sizeof whole.text_hash) != 0) {
        abort();
    }
    return 0;
}
