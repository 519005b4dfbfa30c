#include "dsn.h"

#include <stdio.h>
#include <string.h>

#define FOLD_COLUMN   76
#define BOUNDARY_MAX  48
#define FIELD_MAX     256 /* addresses, host names, dates, status codes */
#define BOUNDARY_TRYS 8

typedef struct writer {
    char *out;
    size_t size;
    size_t len;
    size_t column;
    bool overflow;
} writer;

static void put(writer *w, const char *text, size_t n)
{
    if (w->overflow || w->size - w->len <= n) {
        w->overflow = true;
        return;
    }
    memcpy(w->out + w->len, text, n);
    w->len += n;
    w->out[w->len] = '\0';
    for (size_t i = 0; i < n; i++) {
        w->column = text[i] == '\n' ? 0 : w->column + 1;
    }
}

static void put_text(writer *w, const char *text)
{
    put(w, text, strlen(text));
}

/* A short field (address, host, date, code) on one line: no control or 8-bit byte. */
static void put_field(writer *w, const char *text)
{
    if (text == NULL) {
        return;
    }
    for (size_t i = 0; i < FIELD_MAX && text[i] != '\0'; i++) {
        unsigned char c = (unsigned char)text[i];
        char safe = c < 0x20 || c > 0x7e ? '?' : (char)c;
        put(w, &safe, 1);
    }
}

/* The diagnostic as one line of words: CR, LF and other controls become spaces, runs of
 * spaces one, 8-bit bytes '?'; at most DSN_DIAGNOSTIC_MAX bytes. */
static size_t clean_diagnostic(const char *text, char *out)
{
    size_t n = 0;
    bool space = true; /* drops leading spaces */
    for (size_t i = 0; text && text[i] != '\0' && n < DSN_DIAGNOSTIC_MAX; i++) {
        unsigned char c = (unsigned char)text[i];
        if (c <= 0x20 || c == 0x7f) {
            if (!space) {
                out[n++] = ' ';
                space = true;
            }
            continue;
        }
        out[n++] = c > 0x7e ? '?' : (char)c;
        space = false;
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
    return n;
}

/* Writes words, breaking lines before FOLD_COLUMN at spaces, continuing with indent (a
 * header fold when indent starts with a space). A word is never split. */
static void put_folded(writer *w, const char *words, const char *indent)
{
    const char *p = words;
    while (*p) {
        const char *end = strchr(p, ' ');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        if (p != words) {
            if (w->column + 1 + n > FOLD_COLUMN) {
                put_text(w, "\r\n");
                put_text(w, indent);
            } else {
                put(w, " ", 1);
            }
        }
        put(w, p, n);
        p += n;
        while (*p == ' ') {
            p++;
        }
    }
}

static bool has_8bit(const char *data, size_t size)
{
    for (size_t i = 0; i < size; i++) {
        if ((unsigned char)data[i] >= 0x80) {
            return true;
        }
    }
    return false;
}

/* The original's header, whole fields only, at most DSN_HEADERS_MAX bytes. */
static size_t header_length(const char *data, size_t size)
{
    size_t end = size;
    for (size_t i = 0; i + 3 < size; i++) {
        if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n') {
            end = i + 2;
            break;
        }
    }
    if (end <= DSN_HEADERS_MAX) {
        return end;
    }
    /* Cut before a line that starts a new field. */
    for (size_t i = DSN_HEADERS_MAX; i >= 2; i--) {
        if (data[i - 2] == '\r' && data[i - 1] == '\n' && data[i] != ' ' && data[i] != '\t') {
            return i;
        }
    }
    return 0;
}

static size_t count_occurrences(const char *text, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    size_t count = 0;
    for (size_t i = 0; i + n <= len; i++) {
        if (text[i] == needle[0] && memcmp(text + i, needle, n) == 0) {
            count++;
        }
    }
    return count;
}

static void put_human_part(writer *w, const dsn_report *r, bool failed)
{
    put_text(w, "Content-Type: text/plain; charset=us-ascii\r\n"
                "Content-Description: Notification\r\n\r\n");
    put_text(w, "This is the mail system at host ");
    put_field(w, r->reporting_host);
    put_text(w, ".\r\n\r\n");
    if (failed) {
        put_text(w, "Your message could not be delivered to one or more recipients.\r\n"
                    "The reasons are given below.\r\n\r\n");
    } else {
        put_text(w, "Your message has not yet been delivered to one or more recipients.\r\n"
                    "The mail system will keep trying; you need not send it again.\r\n\r\n");
    }
    char clean[DSN_DIAGNOSTIC_MAX + 1];
    for (size_t i = 0; i < r->recipient_count; i++) {
        const dsn_recipient *rc = &r->recipients[i];
        put_text(w, "<");
        put_field(w, rc->address);
        put_text(w, rc->action == DSN_ACTION_FAILED ? ">: failed" : ">: delayed");
        if (rc->remote_mta && rc->remote_mta[0]) {
            put_text(w, ", host ");
            put_field(w, rc->remote_mta);
            put_text(w, " said:");
        } else {
            put_text(w, ":");
        }
        put_text(w, "\r\n    ");
        if (clean_diagnostic(rc->diagnostic, clean) == 0) {
            strcpy(clean, "(no reason given)");
        }
        put_folded(w, clean, "    ");
        put_text(w, "\r\n\r\n");
    }
}

static void put_status_part(writer *w, const dsn_report *r)
{
    put_text(w, "Content-Type: message/delivery-status\r\n"
                "Content-Description: Delivery report\r\n\r\n");
    put_text(w, "Reporting-MTA: dns; ");
    put_field(w, r->reporting_host);
    put_text(w, "\r\n");
    if (r->arrival_date) {
        put_text(w, "Arrival-Date: ");
        put_field(w, r->arrival_date);
        put_text(w, "\r\n");
    }
    char clean[DSN_DIAGNOSTIC_MAX + 1];
    for (size_t i = 0; i < r->recipient_count; i++) {
        const dsn_recipient *rc = &r->recipients[i];
        bool remote = rc->remote_mta && rc->remote_mta[0];
        put_text(w, "\r\nFinal-Recipient: rfc822; ");
        put_field(w, rc->address);
        put_text(w, rc->action == DSN_ACTION_FAILED ? "\r\nAction: failed\r\nStatus: "
                                                    : "\r\nAction: delayed\r\nStatus: ");
        put_field(w, rc->status);
        put_text(w, "\r\n");
        if (remote) {
            put_text(w, "Remote-MTA: dns; ");
            put_field(w, rc->remote_mta);
            put_text(w, "\r\n");
        }
        if (clean_diagnostic(rc->diagnostic, clean) > 0) {
            /* "smtp" only for what an SMTP server said (RFC 3464 2.3.6). */
            put_text(w, remote ? "Diagnostic-Code: smtp; " : "Diagnostic-Code: X-imsrelay; ");
            put_folded(w, clean, " ");
            put_text(w, "\r\n");
        }
        if (rc->last_attempt_date) {
            put_text(w, "Last-Attempt-Date: ");
            put_field(w, rc->last_attempt_date);
            put_text(w, "\r\n");
        }
        if (rc->action == DSN_ACTION_DELAYED && rc->will_retry_until) {
            put_text(w, "Will-Retry-Until: ");
            put_field(w, rc->will_retry_until);
            put_text(w, "\r\n");
        }
    }
}

static size_t build(const dsn_report *r, char *out, size_t out_size, const char *boundary,
                    bool whole, size_t headers)
{
    writer w = {out, out_size, 0, 0, out_size == 0};
    bool failed = false;
    for (size_t i = 0; i < r->recipient_count; i++) {
        failed |= r->recipients[i].action == DSN_ACTION_FAILED;
    }
    const char *returned = r->original;
    size_t returned_size = whole ? r->original_size : headers;
    bool eight_bit = has_8bit(returned, returned_size);

    put_text(&w, "From: Mail Delivery System <MAILER-DAEMON@");
    put_field(&w, r->reporting_host);
    put_text(&w, ">\r\nTo: <");
    put_field(&w, r->original_sender);
    put_text(&w, ">\r\nSubject: ");
    put_text(&w,
             failed ? "Undelivered Mail Returned to Sender" : "Delayed Mail (still being retried)");
    put_text(&w, "\r\nDate: ");
    put_field(&w, r->date);
    put_text(&w, "\r\nMessage-ID: <");
    put_field(&w, r->message_id);
    put_text(&w, ">\r\nAuto-Submitted: auto-replied\r\nMIME-Version: 1.0\r\n"
                 "Content-Type: multipart/report; report-type=delivery-status;\r\n"
                 "\tboundary=\"");
    put_text(&w, boundary);
    put_text(&w, eight_bit ? "\"\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
                           : "\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n");
    put_text(&w, "This is a MIME-encapsulated message.\r\n\r\n--");
    put_text(&w, boundary);
    put_text(&w, "\r\n");
    put_human_part(&w, r, failed);
    put_text(&w, "--");
    put_text(&w, boundary);
    put_text(&w, "\r\n");
    put_status_part(&w, r);
    put_text(&w, "\r\n--");
    put_text(&w, boundary);
    put_text(&w, whole ? "\r\nContent-Type: message/rfc822\r\n"
                         "Content-Description: Undelivered message\r\n"
                       : "\r\nContent-Type: text/rfc822-headers\r\n"
                         "Content-Description: Undelivered message headers\r\n");
    if (eight_bit) {
        put_text(&w, "Content-Transfer-Encoding: 8bit\r\n");
    }
    put_text(&w, "\r\n");
    put(&w, returned, returned_size);
    if (returned_size < 2 || returned[returned_size - 2] != '\r' ||
        returned[returned_size - 1] != '\n') {
        put_text(&w, "\r\n");
    }
    put_text(&w, "\r\n--");
    put_text(&w, boundary);
    put_text(&w, "--\r\n");
    if (w.overflow) {
        if (out_size > 0) {
            out[0] = '\0';
        }
        return 0;
    }
    return w.len;
}

size_t dsn_build(const dsn_report *r, char *out, size_t out_size)
{
    if (out_size > 0) {
        out[0] = '\0';
    }
    if (r->recipient_count == 0 || r->recipient_count > DSN_RECIPIENTS_MAX ||
        r->recipients == NULL || r->random == NULL || (r->original == NULL && r->original_size)) {
        return 0;
    }
    size_t headers = r->original ? header_length(r->original, r->original_size) : 0;
    for (int attempt = 0; attempt < BOUNDARY_TRYS; attempt++) {
        char boundary[BOUNDARY_MAX];
        uint32_t a = r->random(r->random_context);
        uint32_t b = r->random(r->random_context);
        snprintf(boundary, sizeof(boundary), "=_imsrelay_%08lx%08lx_=", (unsigned long)a,
                 (unsigned long)b);
        char delimiter[BOUNDARY_MAX + 2];
        snprintf(delimiter, sizeof(delimiter), "--%s", boundary);
        size_t len = 0;
        if (r->original_size <= r->return_full_max) {
            len = build(r, out, out_size, boundary, true, headers);
        }
        if (len == 0) {
            len = build(r, out, out_size, boundary, false, headers);
        }
        if (len == 0) {
            return 0;
        }
        /* Three part delimiters and the close: anything more came from the content. */
        if (count_occurrences(out, len, delimiter) == 4) {
            return len;
        }
    }
    out[0] = '\0';
    return 0;
}

bool dsn_due(const char *envelope_sender, dsn_action action, const queue_state_recipient *r,
             uint64_t now, uint32_t delay_warning)
{
    if (envelope_sender == NULL || envelope_sender[0] == '\0') {
        return false; /* RFC 5321 6.1: never a notification about a notification */
    }
    if (action == DSN_ACTION_FAILED) {
        return r->status == QUEUE_STATE_FAILED && !r->failure_dsn_sent;
    }
    return delay_warning != 0 && r->status == QUEUE_STATE_DEFERRED && !r->delay_dsn_sent &&
           now >= r->first_queued && now - r->first_queued >= delay_warning;
}

size_t dsn_format_date(uint64_t t, char *out, size_t out_size)
{
    static const char *const days[] = {"Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"};
    static const char *const months[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                         "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    uint64_t day_count = t / 86400;
    uint64_t secs = t % 86400;
    /* Civil date from days since 1970-01-01 (Howard Hinnant's algorithm). */
    uint64_t z = day_count + 719468;
    uint64_t era = z / 146097;
    uint64_t doe = z - era * 146097;
    uint64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    uint64_t y = yoe + era * 400;
    uint64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    uint64_t mp = (5 * doy + 2) / 153;
    uint64_t d = doy - (153 * mp + 2) / 5 + 1;
    uint64_t m = mp < 10 ? mp + 3 : mp - 9;
    if (m <= 2) {
        y++;
    }
    int n = snprintf(out, out_size, "%s, %02u %s %04llu %02u:%02u:%02u +0000", days[day_count % 7],
                     (unsigned)d, months[m - 1], (unsigned long long)y, (unsigned)(secs / 3600),
                     (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
    return n < 0 ? 0 : (size_t)n;
}
