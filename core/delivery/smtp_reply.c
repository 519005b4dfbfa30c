#include "smtp_reply.h"

#include <stdio.h>
#include <string.h>

static bool is_digit(uint8_t c)
{
    return c >= '0' && c <= '9';
}

/* 1..3 digits at text[*pos], value into *out. */
static bool parse_number(const char *text, size_t len, size_t *pos, uint16_t *out)
{
    size_t start = *pos;
    uint16_t value = 0;
    while (*pos < len && *pos - start < 3 && is_digit((uint8_t)text[*pos])) {
        value = (uint16_t)(value * 10 + (text[*pos] - '0'));
        (*pos)++;
    }
    if (*pos == start) {
        return false;
    }
    *out = value;
    return true;
}

bool smtp_status_parse(const char *text, size_t len, smtp_status *status)
{
    smtp_status s = {0, 0, 0};
    size_t pos = 2;
    if (len < 5 || (text[0] != '2' && text[0] != '4' && text[0] != '5') || text[1] != '.') {
        return false;
    }
    s.klass = (uint16_t)(text[0] - '0');
    if (!parse_number(text, len, &pos, &s.subject) || pos >= len || text[pos] != '.') {
        return false;
    }
    pos++;
    if (!parse_number(text, len, &pos, &s.detail)) {
        return false;
    }
    if (pos < len && text[pos] != ' ') {
        return false; /* "5.1.1234" or "5.1.1x": not a status code */
    }
    *status = s;
    return true;
}

void smtp_status_format(smtp_status status, char buf[SMTP_STATUS_TEXT_MAX])
{
    if (status.klass == 0) {
        buf[0] = '\0';
        return;
    }
    snprintf(buf, SMTP_STATUS_TEXT_MAX, "%u.%u.%u", (unsigned)(status.klass % 10),
             (unsigned)(status.subject % 1000), (unsigned)(status.detail % 1000));
}

const char *smtp_reply_error_text(smtp_reply_error error)
{
    switch (error) {
    case SMTP_REPLY_OK:
        return "no error";
    case SMTP_REPLY_BAD_CODE:
        return "a reply line does not start with a three-digit reply code";
    case SMTP_REPLY_BAD_SEPARATOR:
        return "a reply code is followed by something other than '-' or a space";
    case SMTP_REPLY_CODE_MISMATCH:
        return "the lines of a multi-line reply carry different reply codes";
    case SMTP_REPLY_LINE_TOO_LONG:
        return "a reply line is too long";
    case SMTP_REPLY_REPLY_TOO_LONG:
        return "a multi-line reply is too long";
    case SMTP_REPLY_NUL:
        return "a reply contains a NUL byte";
    case SMTP_REPLY_BARE_CR:
        return "a reply contains a CR that does not end a line";
    }
    return "unknown reply error";
}

void smtp_reply_parser_init(smtp_reply_parser *parser)
{
    memset(parser, 0, sizeof *parser);
}

static void start_reply(smtp_reply_parser *p)
{
    p->reply.code = 0;
    p->reply.status = (smtp_status){0, 0, 0};
    p->reply.line_count = 0;
    p->reply.truncated = false;
    p->reply.text_length = 0;
    p->reply.text[0] = '\0';
    p->reply_bytes = 0;
    p->line_bytes = 0;
    p->line_kept = 0;
    p->held_cr = false;
    p->continuing = false;
    p->complete = false;
}

static void keep_byte(smtp_reply_parser *p, char c)
{
    smtp_reply *r = &p->reply;
    if (r->text_length >= SMTP_REPLY_TEXT_MAX) {
        r->truncated = true;
        return;
    }
    r->text[r->text_length++] = c;
    r->text[r->text_length] = '\0';
}

/* The code and separator of a line are known: its text starts here. */
static void begin_line_text(smtp_reply_parser *p)
{
    if (p->reply.line_count > 0) {
        keep_byte(p, '\n');
    }
}

static smtp_reply_result fail(smtp_reply_parser *p, smtp_reply_error error)
{
    p->error = error;
    return SMTP_REPLY_ERROR;
}

/* A line break. Returns true when the reply is complete. */
static bool end_line(smtp_reply_parser *p)
{
    smtp_reply *r = &p->reply;
    bool last = p->line_bytes == 3 || p->head[3] == ' ';
    if (p->line_bytes == 3) {
        begin_line_text(p);
    }
    if (r->line_count == 0) {
        smtp_status status;
        if (smtp_status_parse(r->text, r->text_length, &status) && status.klass == r->code / 100) {
            r->status = status;
        }
    }
    r->line_count++;
    p->line_bytes = 0;
    p->line_kept = 0;
    p->continuing = !last;
    return last;
}

/* One byte of a line (not CR, LF or NUL). */
static smtp_reply_error line_byte(smtp_reply_parser *p, uint8_t c)
{
    smtp_reply *r = &p->reply;
    if (p->line_bytes >= SMTP_REPLY_LINE_LIMIT) {
        return SMTP_REPLY_LINE_TOO_LONG;
    }
    uint32_t at = p->line_bytes++;
    if (at < 3) {
        bool ok = at == 0 ? (c >= '2' && c <= '5') : is_digit(c);
        if (!ok) {
            return SMTP_REPLY_BAD_CODE;
        }
        p->head[at] = (char)c;
        if (at == 2) {
            uint16_t code = (uint16_t)((p->head[0] - '0') * 100 + (p->head[1] - '0') * 10 +
                                       (p->head[2] - '0'));
            if (r->line_count == 0) {
                r->code = code;
            } else if (code != r->code) {
                return SMTP_REPLY_CODE_MISMATCH;
            }
        }
        return SMTP_REPLY_OK;
    }
    if (at == 3) {
        if (c != '-' && c != ' ') {
            return SMTP_REPLY_BAD_SEPARATOR;
        }
        p->head[3] = (char)c;
        begin_line_text(p);
        return SMTP_REPLY_OK;
    }
    if (p->line_kept >= SMTP_REPLY_LINE_KEEP) {
        r->truncated = true;
        return SMTP_REPLY_OK;
    }
    p->line_kept++;
    keep_byte(p, (c < 0x20 && c != '\t') || c == 0x7f ? '?' : (char)c);
    return SMTP_REPLY_OK;
}

smtp_reply_result smtp_reply_parse(smtp_reply_parser *p, const void *in, size_t len,
                                   size_t *consumed)
{
    const uint8_t *bytes = in;
    size_t pos = 0;
    *consumed = 0;
    if (p->error != SMTP_REPLY_OK) {
        return SMTP_REPLY_ERROR;
    }
    if (p->complete) {
        start_reply(p);
    }
    while (pos < len) {
        uint8_t c = bytes[pos++];
        *consumed = pos;
        if (++p->reply_bytes > SMTP_REPLY_TOTAL_LIMIT) {
            return fail(p, SMTP_REPLY_REPLY_TOO_LONG);
        }
        if (c == '\0') {
            return fail(p, SMTP_REPLY_NUL);
        }
        if (p->held_cr && c != '\n') {
            return fail(p, SMTP_REPLY_BARE_CR);
        }
        if (c == '\r') {
            p->held_cr = true;
            continue;
        }
        if (c == '\n') {
            p->held_cr = false;
            if (p->line_bytes < 3) {
                return fail(p, SMTP_REPLY_BAD_CODE);
            }
            if (end_line(p)) {
                p->complete = true;
                return SMTP_REPLY_COMPLETE;
            }
            continue;
        }
        smtp_reply_error error = line_byte(p, c);
        if (error != SMTP_REPLY_OK) {
            return fail(p, error);
        }
    }
    return SMTP_REPLY_NEED_MORE;
}

const smtp_reply *smtp_reply_parser_reply(const smtp_reply_parser *parser)
{
    return &parser->reply;
}

smtp_reply_error smtp_reply_parser_error(const smtp_reply_parser *parser)
{
    return parser->error;
}
