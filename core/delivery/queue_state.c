#include "queue_state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- CRC-32 (IEEE 802.3, as zip and PNG), nibble table: small and fast enough ---- */

static uint32_t crc32_bytes(const char *data, size_t size)
{
    static const uint32_t table[16] = {0x00000000u, 0x1db71064u, 0x3b6e20c8u, 0x26d930acu,
                                       0x76dc4190u, 0x6b6b51f4u, 0x4db26158u, 0x5005713cu,
                                       0xedb88320u, 0xf00f9344u, 0xd6d6a3e8u, 0xcb61b38cu,
                                       0x9b64c2b0u, 0x86d3d2d4u, 0xa00ae278u, 0xbdbdf21cu};
    uint32_t crc = 0xffffffffu;
    for (size_t i = 0; i < size; i++) {
        crc ^= (unsigned char)data[i];
        crc = (crc >> 4) ^ table[crc & 15];
        crc = (crc >> 4) ^ table[crc & 15];
    }
    return crc ^ 0xffffffffu;
}

/* ---- encoding ---- */

typedef struct writer {
    char *out;
    size_t size;
    size_t len;
    bool overflow;
} writer;

static void put(writer *w, const char *text, size_t n)
{
    if (w->overflow || w->size - w->len <= n) { /* keep room for the NUL */
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, text, n);
    w->len += n;
    w->out[w->len] = '\0';
}

static void put_text(writer *w, const char *text)
{
    put(w, text, strlen(text));
}

static void put_number(writer *w, uint64_t value)
{
    char digits[24];
    int n = snprintf(digits, sizeof(digits), "%llu", (unsigned long long)value);
    put(w, digits, (size_t)n);
}

static bool is_plain(unsigned char c)
{
    return c > 0x20 && c < 0x7f && c != '%';
}

static void put_escaped(writer *w, const char *key, const char *text, size_t max)
{
    if (text == NULL || text[0] == '\0') {
        return;
    }
    put_text(w, key);
    static const char hex[] = "0123456789ABCDEF";
    for (size_t i = 0; i < max && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];
        if (is_plain(c)) {
            put(w, (const char *)&text[i], 1);
        } else {
            char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
            put(w, esc, 3);
        }
    }
}

static bool put_set(writer *w, const size_t *indexes, size_t count)
{
    if (count == 0) {
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        if (indexes[i] >= QUEUE_STATE_RECIPIENTS_MAX) {
            return false;
        }
    }
    put(w, " ", 1);
    size_t i = 0;
    while (i < count) {
        size_t j = i;
        while (j + 1 < count && indexes[j + 1] == indexes[j] + 1) {
            j++;
        }
        if (i > 0) {
            put(w, ",", 1);
        }
        put_number(w, indexes[i]);
        if (j > i) {
            put(w, "-", 1);
            put_number(w, indexes[j]);
        }
        i = j + 1;
    }
    return true;
}

static size_t finish(writer *w)
{
    uint32_t crc = crc32_bytes(w->out, w->overflow ? 0 : w->len);
    char tail[24];
    int n = snprintf(tail, sizeof(tail), " crc=%08lx\r\n", (unsigned long)crc);
    put(w, tail, (size_t)n);
    if (w->overflow) {
        if (w->size > 0) {
            w->out[0] = '\0';
        }
        return 0;
    }
    return w->len;
}

static writer start(char *out, size_t out_size)
{
    writer w = {out, out_size, 0, out_size == 0};
    if (out_size > 0) {
        out[0] = '\0';
    }
    return w;
}

size_t queue_state_encode_queued(char *out, size_t out_size, uint64_t time, size_t recipient_count)
{
    writer w = start(out, out_size);
    if (recipient_count == 0 || recipient_count > QUEUE_STATE_RECIPIENTS_MAX) {
        w.overflow = true;
    }
    put_text(&w, "Q t=");
    put_number(&w, time);
    put_text(&w, " n=");
    put_number(&w, recipient_count);
    return finish(&w);
}

static const char *const status_names[] = {"pending", "deferred", "done", "failed"};

const char *queue_state_status_name(queue_state_status status)
{
    return (unsigned)status < 4 ? status_names[status] : "unknown";
}

size_t queue_state_encode_outcome(char *out, size_t out_size, const size_t *indexes,
                                  size_t index_count, const queue_state_outcome *outcome)
{
    writer w = start(out, out_size);
    put_text(&w, "R");
    if (!put_set(&w, indexes, index_count) || outcome->status == QUEUE_STATE_PENDING ||
        (unsigned)outcome->status > QUEUE_STATE_FAILED) {
        w.overflow = true;
        return finish(&w);
    }
    put_text(&w, " ");
    put_text(&w, status_names[outcome->status]);
    put_text(&w, " t=");
    put_number(&w, outcome->time);
    if (outcome->status == QUEUE_STATE_DEFERRED) {
        put_text(&w, " next=");
        put_number(&w, outcome->next_attempt);
    }
    put_escaped(&w, " host=", outcome->remote_host, QUEUE_STATE_HOST_MAX);
    put_escaped(&w, " reply=", outcome->reply, QUEUE_STATE_REPLY_MAX);
    put_escaped(&w, " tls=", outcome->tls, QUEUE_STATE_TLS_MAX);
    return finish(&w);
}

size_t queue_state_encode_retry_now(char *out, size_t out_size, uint64_t time)
{
    writer w = start(out, out_size);
    put_text(&w, "N t=");
    put_number(&w, time);
    return finish(&w);
}

size_t queue_state_encode_dsn_sent(char *out, size_t out_size, const size_t *indexes,
                                   size_t index_count, queue_state_dsn kind, uint64_t time)
{
    writer w = start(out, out_size);
    put_text(&w, "S");
    if (!put_set(&w, indexes, index_count) ||
        (kind != QUEUE_STATE_DSN_FAILED && kind != QUEUE_STATE_DSN_DELAYED)) {
        w.overflow = true;
        return finish(&w);
    }
    put_text(&w, kind == QUEUE_STATE_DSN_FAILED ? " failed t=" : " delayed t=");
    put_number(&w, time);
    return finish(&w);
}

/* ---- replay ---- */

/* Texts of applied records, kept for the life of the state: recipients point into them.
 * Their total is bounded by the journal's size. */
struct queue_state_text_block {
    queue_state_text_block *next;
    char text[];
};

static const char *keep_text(queue_state *s, const char *text, size_t n)
{
    if (n == 0) {
        return "";
    }
    queue_state_text_block *b = malloc(sizeof(*b) + n + 1);
    if (b == NULL) {
        return NULL;
    }
    memcpy(b->text, text, n);
    b->text[n] = '\0';
    b->next = s->texts_;
    s->texts_ = b;
    return b->text;
}

bool queue_state_init(queue_state *s, size_t recipient_count)
{
    memset(s, 0, sizeof(*s));
    if (recipient_count == 0 || recipient_count > QUEUE_STATE_RECIPIENTS_MAX) {
        return false;
    }
    s->recipients = calloc(recipient_count, sizeof(*s->recipients));
    if (s->recipients == NULL) {
        return false;
    }
    s->recipient_count = recipient_count;
    for (size_t i = 0; i < recipient_count; i++) {
        s->recipients[i].status = QUEUE_STATE_PENDING;
        s->recipients[i].remote_host = "";
        s->recipients[i].last_reply = "";
        s->recipients[i].last_tls = "";
    }
    return true;
}

void queue_state_free(queue_state *s)
{
    while (s->texts_ != NULL) {
        queue_state_text_block *next = s->texts_->next;
        free(s->texts_);
        s->texts_ = next;
    }
    free(s->recipients);
    memset(s, 0, sizeof(*s));
}

typedef struct cursor {
    const char *p;
    const char *end;
} cursor;

/* The next space-separated token (fields are separated by exactly one space). */
static bool token(cursor *c, const char **start, size_t *len)
{
    if (c->p >= c->end) {
        return false;
    }
    const char *sp = memchr(c->p, ' ', (size_t)(c->end - c->p));
    const char *stop = sp ? sp : c->end;
    *start = c->p;
    *len = (size_t)(stop - c->p);
    c->p = sp ? sp + 1 : c->end;
    return *len > 0;
}

static bool parse_number(const char *text, size_t len, uint64_t *value)
{
    if (len == 0 || len > 20 || (len > 1 && text[0] == '0')) {
        return false;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++) {
        if (text[i] < '0' || text[i] > '9') {
            return false;
        }
        uint64_t digit = (uint64_t)(text[i] - '0');
        if (v > (UINT64_MAX - digit) / 10) {
            return false;
        }
        v = v * 10 + digit;
    }
    *value = v;
    return true;
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    return -1;
}

/* Unescapes into out (at most max bytes); false on a bad escape or overlong text. */
static bool unescape(const char *text, size_t len, char *out, size_t max, size_t *out_len)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return false;
            }
            int hi = hex_value(text[i + 1]);
            int lo = hex_value(text[i + 2]);
            if (hi < 0 || lo < 0) {
                return false;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (!is_plain((unsigned char)c)) {
            return false;
        }
        if (n == max) {
            return false;
        }
        out[n++] = c;
    }
    *out_len = n;
    return true;
}

/* A recipient set, "0-4,7", read one range at a time. */
typedef struct set_walk {
    const char *text;
    size_t len;
} set_walk;

static bool set_next_range(set_walk *w, size_t *pos, size_t count, size_t *lo, size_t *hi)
{
    if (*pos >= w->len) {
        return false;
    }
    const char *start = w->text + *pos;
    const char *comma = memchr(start, ',', w->len - *pos);
    size_t part = comma ? (size_t)(comma - start) : w->len - *pos;
    const char *dash = memchr(start, '-', part);
    uint64_t a, b;
    if (dash) {
        if (!parse_number(start, (size_t)(dash - start), &a) ||
            !parse_number(dash + 1, part - (size_t)(dash - start) - 1, &b)) {
            return false;
        }
    } else {
        if (!parse_number(start, part, &a)) {
            return false;
        }
        b = a;
    }
    if (a > b || b >= count) {
        return false;
    }
    *lo = (size_t)a;
    *hi = (size_t)b;
    *pos += part + (comma ? 1 : 0);
    if (comma && *pos >= w->len) {
        return false; /* trailing comma */
    }
    return true;
}

static bool set_valid(const char *text, size_t len, size_t count)
{
    set_walk w = {text, len};
    size_t pos = 0, lo, hi;
    size_t ranges = 0;
    while (pos < len) {
        if (!set_next_range(&w, &pos, count, &lo, &hi)) {
            return false;
        }
        ranges++;
    }
    return ranges > 0;
}

typedef struct fields {
    bool has_t, has_n, has_next;
    uint64_t t, n, next;
    const char *host;
    size_t host_len;
    const char *reply;
    size_t reply_len;
    const char *tls;
    size_t tls_len;
} fields;

static bool parse_fields(cursor *c, fields *f)
{
    memset(f, 0, sizeof(*f));
    const char *tok;
    size_t len;
    while (token(c, &tok, &len)) {
        const char *eq = memchr(tok, '=', len);
        if (eq == NULL) {
            return false;
        }
        size_t key_len = (size_t)(eq - tok);
        const char *value = eq + 1;
        size_t value_len = len - key_len - 1;
        if (key_len == 1 && tok[0] == 't') {
            if (f->has_t || !parse_number(value, value_len, &f->t)) {
                return false;
            }
            f->has_t = true;
        } else if (key_len == 1 && tok[0] == 'n') {
            if (f->has_n || !parse_number(value, value_len, &f->n)) {
                return false;
            }
            f->has_n = true;
        } else if (key_len == 4 && memcmp(tok, "next", 4) == 0) {
            if (f->has_next || !parse_number(value, value_len, &f->next)) {
                return false;
            }
            f->has_next = true;
        } else if (key_len == 4 && memcmp(tok, "host", 4) == 0) {
            if (f->host) {
                return false;
            }
            f->host = value;
            f->host_len = value_len;
        } else if (key_len == 5 && memcmp(tok, "reply", 5) == 0) {
            if (f->reply) {
                return false;
            }
            f->reply = value;
            f->reply_len = value_len;
        } else if (key_len == 3 && memcmp(tok, "tls", 3) == 0) {
            if (f->tls) {
                return false;
            }
            f->tls = value;
            f->tls_len = value_len;
        }
        /* Other keys: written by a later version; what we know still applies. */
    }
    /* token() refuses an empty token: two spaces in a row or a trailing space. */
    return c->p == c->end && f->has_t;
}

typedef enum apply_result { APPLIED, SKIPPED, NO_MEMORY } apply_result;

static bool status_from_name(const char *text, size_t len, queue_state_status *status)
{
    for (int i = QUEUE_STATE_DEFERRED; i <= QUEUE_STATE_FAILED; i++) {
        if (strlen(status_names[i]) == len && memcmp(text, status_names[i], len) == 0) {
            *status = (queue_state_status)i;
            return true;
        }
    }
    return false;
}

static apply_result apply_outcome(queue_state *s, const char *set, size_t set_len,
                                  queue_state_status status, const fields *f)
{
    char host[QUEUE_STATE_HOST_MAX];
    char reply[QUEUE_STATE_REPLY_MAX];
    char tls[QUEUE_STATE_TLS_MAX];
    size_t host_len = 0, reply_len = 0, tls_len = 0;
    if ((f->host && !unescape(f->host, f->host_len, host, sizeof(host), &host_len)) ||
        (f->reply && !unescape(f->reply, f->reply_len, reply, sizeof(reply), &reply_len)) ||
        (f->tls && !unescape(f->tls, f->tls_len, tls, sizeof(tls), &tls_len)) ||
        (status == QUEUE_STATE_DEFERRED) != f->has_next || f->has_n) {
        return SKIPPED;
    }
    if (memchr(host, '\0', host_len) || memchr(reply, '\0', reply_len) ||
        memchr(tls, '\0', tls_len)) {
        return SKIPPED;
    }
    const char *kept_host = keep_text(s, host, host_len);
    const char *kept_reply = keep_text(s, reply, reply_len);
    const char *kept_tls = keep_text(s, tls, tls_len);
    if (kept_host == NULL || kept_reply == NULL || kept_tls == NULL) {
        return NO_MEMORY;
    }
    set_walk w = {set, set_len};
    size_t pos = 0, lo, hi;
    while (set_next_range(&w, &pos, s->recipient_count, &lo, &hi)) {
        for (size_t i = lo; i <= hi; i++) {
            queue_state_recipient *r = &s->recipients[i];
            if (r->status == QUEUE_STATE_DONE || r->status == QUEUE_STATE_FAILED) {
                continue; /* final: a 250 is never undone, a bounce never resent */
            }
            r->status = status;
            if (r->attempts < UINT32_MAX) {
                r->attempts++;
            }
            r->last_attempt = f->t;
            r->next_attempt = status == QUEUE_STATE_DEFERRED ? f->next : 0;
            r->remote_host = kept_host;
            r->last_reply = kept_reply;
            r->last_tls = kept_tls;
        }
    }
    return APPLIED;
}

static apply_result apply_record(queue_state *s, const char *line, size_t len)
{
    /* "<record> crc=xxxxxxxx" */
    static const char crc_key[] = " crc=";
    const size_t tail = sizeof(crc_key) - 1 + 8;
    if (len <= tail || memcmp(line + len - tail, crc_key, sizeof(crc_key) - 1) != 0) {
        return SKIPPED;
    }
    uint32_t stated = 0;
    for (size_t i = len - 8; i < len; i++) {
        int v = hex_value(line[i]);
        if (v < 0 || (line[i] >= 'A' && line[i] <= 'F')) {
            return SKIPPED;
        }
        stated = stated << 4 | (uint32_t)v;
    }
    size_t body = len - tail;
    if (crc32_bytes(line, body) != stated) {
        return SKIPPED;
    }
    cursor c = {line, line + body};
    const char *kind, *set = NULL, *word = NULL;
    size_t kind_len, set_len = 0, word_len = 0;
    if (!token(&c, &kind, &kind_len) || kind_len != 1) {
        return SKIPPED;
    }
    if (kind[0] == 'R' || kind[0] == 'S') {
        if (!token(&c, &set, &set_len) || !set_valid(set, set_len, s->recipient_count) ||
            !token(&c, &word, &word_len)) {
            return SKIPPED;
        }
    }
    fields f;
    if (!parse_fields(&c, &f)) {
        return SKIPPED;
    }
    switch (kind[0]) {
    case 'Q':
        if (!f.has_n || f.n != s->recipient_count || f.has_next || f.host || f.reply) {
            return SKIPPED;
        }
        s->queued_at = f.t;
        for (size_t i = 0; i < s->recipient_count; i++) {
            if (s->recipients[i].first_queued == 0) {
                s->recipients[i].first_queued = f.t;
            }
        }
        return APPLIED;
    case 'R': {
        queue_state_status status;
        if (!status_from_name(word, word_len, &status)) {
            return SKIPPED;
        }
        return apply_outcome(s, set, set_len, status, &f);
    }
    case 'N':
        if (f.has_n || f.has_next || f.host || f.reply) {
            return SKIPPED;
        }
        s->retry_requested = f.t;
        for (size_t i = 0; i < s->recipient_count; i++) {
            queue_state_recipient *r = &s->recipients[i];
            if (r->status == QUEUE_STATE_DEFERRED && r->next_attempt > f.t) {
                r->next_attempt = f.t;
            }
        }
        return APPLIED;
    case 'S': {
        bool failed = word_len == 6 && memcmp(word, "failed", 6) == 0;
        bool delayed = word_len == 7 && memcmp(word, "delayed", 7) == 0;
        if ((!failed && !delayed) || f.has_n || f.has_next || f.host || f.reply) {
            return SKIPPED;
        }
        set_walk w = {set, set_len};
        size_t pos = 0, lo, hi;
        while (set_next_range(&w, &pos, s->recipient_count, &lo, &hi)) {
            for (size_t i = lo; i <= hi; i++) {
                if (failed) {
                    s->recipients[i].failure_dsn_sent = true;
                } else {
                    s->recipients[i].delay_dsn_sent = true;
                }
            }
        }
        return APPLIED;
    }
    default:
        return SKIPPED; /* a record kind of a later version, or damage the CRC missed */
    }
}

bool queue_state_replay(queue_state *s, const char *data, size_t size)
{
    size_t pos = 0;
    while (pos < size) {
        const char *lf = memchr(data + pos, '\n', size - pos);
        if (lf == NULL) {
            s->torn_tail = true;
            return true;
        }
        size_t end = (size_t)(lf - data);
        s->lines++;
        apply_result result = SKIPPED;
        if (end > pos && data[end - 1] == '\r' && end - 1 - pos <= QUEUE_STATE_RECORD_MAX) {
            result = apply_record(s, data + pos, end - 1 - pos);
        }
        if (result == NO_MEMORY) {
            s->lines--;
            return false;
        }
        if (result == APPLIED) {
            s->records_applied++;
        } else {
            s->records_skipped++;
            if (s->first_skipped_line == 0) {
                s->first_skipped_line = s->lines;
            }
        }
        s->complete_size += end + 1 - pos;
        pos = end + 1;
    }
    s->torn_tail = false;
    return true;
}
