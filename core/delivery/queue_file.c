#include "queue_file.h"

#include "delivery_format.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char sender_field[] = "X-Sender: <";
static const char receiver_field[] = "X-Receiver: <";
#define FIELD_LEN(f) (sizeof(f) - 1)

static bool starts_with_ignoring_case(const char *data, size_t size, const char *prefix,
                                      size_t prefix_len)
{
    if (size < prefix_len) {
        return false;
    }
    for (size_t i = 0; i < prefix_len; i++) {
        char a = data[i];
        char b = prefix[i];
        if (a >= 'A' && a <= 'Z') {
            a = (char)(a - 'A' + 'a');
        }
        if (b >= 'A' && b <= 'Z') {
            b = (char)(b - 'A' + 'a');
        }
        if (a != b) {
            return false;
        }
    }
    return true;
}

/* True while data[0..size) could still grow into prefix. */
static bool could_start_with(const char *data, size_t size, const char *prefix, size_t prefix_len)
{
    return size < prefix_len && starts_with_ignoring_case(prefix, size, data, size);
}

typedef struct line {
    size_t start;
    size_t length; /* without CRLF */
} line;

typedef enum line_status { LINE_OK, LINE_INCOMPLETE, LINE_BAD } line_status;

/* The envelope line starting at pos: CRLF-terminated, bounded, without NUL or bare CR/LF. */
static line_status next_line(const char *data, size_t size, size_t pos, size_t number, line *out,
                             char *error, size_t error_size)
{
    size_t limit = pos + QUEUE_FILE_LINE_MAX;
    for (size_t i = pos; i < size; i++) {
        char c = data[i];
        if (i + 1 >= limit && !(c == '\n' && i > pos && data[i - 1] == '\r')) {
            delivery_format_error(error, error_size, "line %zu is longer than %zu bytes", number,
                                  (size_t)QUEUE_FILE_LINE_MAX);
            return LINE_BAD;
        }
        if (c == '\0') {
            delivery_format_error(error, error_size, "line %zu contains a NUL byte", number);
            return LINE_BAD;
        }
        if (c == '\n') {
            if (i == pos || data[i - 1] != '\r') {
                delivery_format_error(error, error_size, "line %zu does not end with CRLF", number);
                return LINE_BAD;
            }
            out->start = pos;
            out->length = i - 1 - pos;
            return LINE_OK;
        }
        if (i > pos && data[i - 1] == '\r') {
            delivery_format_error(error, error_size, "line %zu contains a CR without LF", number);
            return LINE_BAD;
        }
    }
    return LINE_INCOMPLETE;
}

/* The address between "<" (already skipped) and the final ">". */
static bool take_address(const char *data, const line *l, size_t field_len, size_t number,
                         size_t *start, size_t *length, char *error, size_t error_size)
{
    const char *text = data + l->start;
    if (l->length < field_len + 1 || text[l->length - 1] != '>') {
        delivery_format_error(error, error_size, "line %zu: the address does not end with '>'",
                              number);
        return false;
    }
    *start = l->start + field_len;
    *length = l->length - field_len - 1;
    if (*length > QUEUE_FILE_ADDRESS_MAX) {
        delivery_format_error(error, error_size, "line %zu: the address is longer than %d bytes",
                              number, QUEUE_FILE_ADDRESS_MAX);
        return false;
    }
    for (size_t i = 0; i < *length; i++) {
        unsigned char c = (unsigned char)data[*start + i];
        if (c < 0x20 || c > 0x7e) {
            delivery_format_error(error, error_size,
                                  "line %zu: the address contains a control or non-ASCII byte",
                                  number);
            return false;
        }
    }
    return true;
}

/* A header field name (printable, no colon) followed by ':' begins the message. */
static queue_file_status check_message_start(const char *data, size_t size, bool whole_file,
                                             size_t pos, size_t number, char *error,
                                             size_t error_size)
{
    size_t i = pos;
    while (i < size && i - pos < QUEUE_FILE_LINE_MAX) {
        unsigned char c = (unsigned char)data[i];
        if (c == ':' && i > pos) {
            return QUEUE_FILE_OK;
        }
        if (c <= 0x20 || c > 0x7e || c == ':') {
            break;
        }
        i++;
    }
    if (i == size && i - pos < QUEUE_FILE_LINE_MAX && !whole_file) {
        return QUEUE_FILE_INCOMPLETE;
    }
    if (pos == size) {
        delivery_format_error(error, error_size,
                              "the file ends after the envelope: there is no message");
    } else {
        delivery_format_error(error, error_size,
                              "line %zu, where the message starts, is not a header field", number);
    }
    return QUEUE_FILE_MALFORMED;
}

queue_file_status queue_file_parse(const char *data, size_t size, bool whole_file,
                                   queue_file_envelope *out, char *error, size_t error_size)
{
    memset(out, 0, sizeof(*out));
    if (size == 0 && whole_file) {
        delivery_format_error(error, error_size, "the file is empty");
        return QUEUE_FILE_MALFORMED;
    }
    /* First pass: validate and count; nothing is allocated for a bad file. */
    size_t pos = 0;
    size_t number = 1;
    size_t recipients = 0;
    size_t text_bytes = 0;
    size_t sender_start = 0;
    size_t sender_length = 0;
    for (;;) {
        line l;
        size_t field_len = number == 1 ? FIELD_LEN(sender_field) : FIELD_LEN(receiver_field);
        const char *field = number == 1 ? sender_field : receiver_field;
        /* The field name alone decides whether a line belongs to the envelope, so that a
         * damaged "X-Receiver:" line is an error and not the start of the message. */
        size_t name_len = field_len - 2;
        if (number > 1 && !starts_with_ignoring_case(data + pos, size - pos, field, name_len)) {
            if (could_start_with(data + pos, size - pos, field, name_len) && !whole_file) {
                return QUEUE_FILE_INCOMPLETE;
            }
            if (starts_with_ignoring_case(data + pos, size - pos, sender_field,
                                          FIELD_LEN(sender_field) - 2)) {
                delivery_format_error(error, error_size, "line %zu is a second X-Sender line",
                                      number);
                return QUEUE_FILE_MALFORMED;
            }
            if (recipients == 0) {
                if (pos == size && !whole_file) {
                    return QUEUE_FILE_INCOMPLETE;
                }
                delivery_format_error(error, error_size,
                                      "there is no X-Receiver line after X-Sender");
                return QUEUE_FILE_MALFORMED;
            }
            queue_file_status st =
                    check_message_start(data, size, whole_file, pos, number, error, error_size);
            if (st != QUEUE_FILE_OK) {
                return st;
            }
            break;
        }
        line_status ls = next_line(data, size, pos, number, &l, error, error_size);
        if (ls == LINE_BAD) {
            return QUEUE_FILE_MALFORMED;
        }
        if (ls == LINE_INCOMPLETE) {
            if (!whole_file) {
                return QUEUE_FILE_INCOMPLETE;
            }
            delivery_format_error(error, error_size,
                                  "the file ends inside the envelope, in line %zu", number);
            return QUEUE_FILE_MALFORMED;
        }
        if (!starts_with_ignoring_case(data + l.start, l.length, field, field_len)) {
            delivery_format_error(error, error_size, "line %zu is not \"%s: <address>\"", number,
                                  number == 1 ? "X-Sender" : "X-Receiver");
            return QUEUE_FILE_MALFORMED;
        }
        size_t a_start, a_length;
        if (!take_address(data, &l, field_len, number, &a_start, &a_length, error, error_size)) {
            return QUEUE_FILE_MALFORMED;
        }
        if (number == 1) {
            sender_start = a_start;
            sender_length = a_length;
        } else {
            if (a_length == 0) {
                delivery_format_error(error, error_size, "line %zu: the recipient address is empty",
                                      number);
                return QUEUE_FILE_MALFORMED;
            }
            if (recipients == QUEUE_FILE_RECIPIENTS_MAX) {
                delivery_format_error(error, error_size, "the file has more than %d recipients",
                                      QUEUE_FILE_RECIPIENTS_MAX);
                return QUEUE_FILE_MALFORMED;
            }
            recipients++;
        }
        text_bytes += a_length + 1;
        pos = l.start + l.length + 2;
        number++;
    }

    /* Second pass over lines already validated: copy the addresses. */
    char *storage = malloc(text_bytes + recipients * sizeof(char *));
    if (storage == NULL) {
        delivery_format_error(error, error_size, "out of memory");
        return QUEUE_FILE_INCOMPLETE;
    }
    const char **list = (const char **)(void *)storage;
    char *text = storage + recipients * sizeof(char *);
    memcpy(text, data + sender_start, sender_length);
    text[sender_length] = '\0';
    out->sender = text;
    text += sender_length + 1;
    size_t scan = sender_start + sender_length + 3; /* ">\r\n" */
    for (size_t r = 0; r < recipients; r++) {
        size_t start = scan + FIELD_LEN(receiver_field);
        const char *end = memchr(data + start, '\r', size - start);
        size_t length = (size_t)(end - (data + start)) - 1;
        memcpy(text, data + start, length);
        text[length] = '\0';
        list[r] = text;
        text += length + 1;
        scan = start + length + 3;
    }
    out->recipients = list;
    out->recipient_count = recipients;
    out->message_offset = pos;
    out->storage_ = storage;
    return QUEUE_FILE_OK;
}

void queue_file_envelope_free(queue_file_envelope *envelope)
{
    free(envelope->storage_);
    memset(envelope, 0, sizeof(*envelope));
}
