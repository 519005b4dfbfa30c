#include "duration.h"

#include <stdio.h>
#include <string.h>

/* The entry as quoted in an error: long enough to recognise, never flooding the event. */
#define QUOTE_MAX 40

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

static void set_error(char *error, size_t size, const char *prefix, const char *what,
                      const char *entry, size_t entry_len)
{
    if (size == 0) {
        return;
    }
    if (entry == NULL) {
        snprintf(error, size, "%s%s", prefix, what);
        return;
    }
    int shown = (int)(entry_len > QUOTE_MAX ? QUOTE_MAX : entry_len);
    snprintf(error, size, "%s\"%.*s%s\" %s", prefix, shown, entry,
             entry_len > QUOTE_MAX ? "..." : "", what);
}

/* Parses text[0..len) with surrounding spaces already trimmed and len > 0. */
static bool parse_one(const char *text, size_t len, uint32_t *seconds, const char *prefix,
                      char *error, size_t error_size)
{
    size_t i = 0;
    uint64_t count = 0;
    bool too_large = false;
    while (i < len && text[i] >= '0' && text[i] <= '9') {
        count = count * 10 + (uint64_t)(text[i] - '0');
        if (count > DURATION_MAX_SECONDS) {
            too_large = true;
            count = DURATION_MAX_SECONDS + 1; /* saturate: keep reading digits */
        }
        i++;
    }
    if (i == 0) {
        set_error(error, error_size, prefix, "is not a duration (expected e.g. 30s, 15m, 1h, 2d)",
                  text, len);
        return false;
    }
    uint64_t unit = 0;
    if (i == len) {
        if (count == 0) {
            *seconds = 0;
            return true;
        }
        set_error(error, error_size, prefix, "has no unit (expected s, m, h or d, e.g. 15m)", text,
                  len);
        return false;
    }
    switch (text[i]) {
    case 's':
    case 'S':
        unit = 1;
        break;
    case 'm':
    case 'M':
        unit = 60;
        break;
    case 'h':
    case 'H':
        unit = 3600;
        break;
    case 'd':
    case 'D':
        unit = 86400;
        break;
    default:
        set_error(error, error_size, prefix, "has an unknown unit (expected s, m, h or d)", text,
                  len);
        return false;
    }
    if (i + 1 != len) {
        set_error(error, error_size, prefix,
                  "has more than one unit letter (expected one, e.g. 90m rather than 1h30m)", text,
                  len);
        return false;
    }
    if (too_large || count * unit > DURATION_MAX_SECONDS) {
        set_error(error, error_size, prefix, "is longer than 30d, the longest allowed", text, len);
        return false;
    }
    *seconds = (uint32_t)(count * unit);
    return true;
}

static bool trim(const char *text, size_t len, size_t *start, size_t *end)
{
    size_t s = 0;
    size_t e = len;
    while (s < e && is_space(text[s])) {
        s++;
    }
    while (e > s && is_space(text[e - 1])) {
        e--;
    }
    *start = s;
    *end = e;
    return e > s;
}

static bool bounded_length(const char *text, size_t *len, char *error, size_t error_size)
{
    size_t n = 0;
    while (n <= DURATION_TEXT_MAX && text[n] != '\0') {
        n++;
    }
    if (n > DURATION_TEXT_MAX) {
        set_error(error, error_size, "", "is longer than 1024 characters", NULL, 0);
        return false;
    }
    *len = n;
    return true;
}

bool duration_parse(const char *text, uint32_t *seconds, char *error, size_t error_size)
{
    size_t len, start, end;
    if (!bounded_length(text, &len, error, error_size)) {
        return false;
    }
    if (!trim(text, len, &start, &end)) {
        set_error(error, error_size, "", "is empty", NULL, 0);
        return false;
    }
    return parse_one(text + start, end - start, seconds, "", error, error_size);
}

bool duration_list_parse(const char *text, duration_list *out, char *error, size_t error_size)
{
    size_t len, start, end;
    if (!bounded_length(text, &len, error, error_size)) {
        return false;
    }
    if (!trim(text, len, &start, &end)) {
        set_error(error, error_size, "", "is empty", NULL, 0);
        return false;
    }
    out->count = 0;
    size_t pos = 0;
    for (size_t entry = 1;; entry++) {
        size_t comma = pos;
        while (comma < len && text[comma] != ',') {
            comma++;
        }
        char prefix[32];
        snprintf(prefix, sizeof(prefix), "entry %zu ", entry);
        if (entry > DURATION_LIST_MAX) {
            set_error(error, error_size, "", "has more than 32 entries", NULL, 0);
            return false;
        }
        if (!trim(text + pos, comma - pos, &start, &end)) {
            snprintf(prefix, sizeof(prefix), "entry %zu ", entry);
            set_error(error, error_size, prefix, "is empty", NULL, 0);
            return false;
        }
        uint32_t seconds = 0;
        if (!parse_one(text + pos + start, end - start, &seconds, prefix, error, error_size)) {
            return false;
        }
        if (seconds == 0) {
            set_error(error, error_size, prefix, "is zero (every interval is at least 1s)",
                      text + pos + start, end - start);
            return false;
        }
        out->seconds[out->count++] = seconds;
        if (comma == len) {
            return true;
        }
        pos = comma + 1;
    }
}

size_t duration_format(uint32_t seconds, char *out, size_t out_size)
{
    static const struct {
        uint32_t size;
        char letter;
    } units[] = {{86400, 'd'}, {3600, 'h'}, {60, 'm'}, {1, 's'}};
    if (seconds == 0) {
        return (size_t)snprintf(out, out_size, "0");
    }
    for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
        if (seconds % units[i].size == 0) {
            return (size_t)snprintf(out, out_size, "%lu%c",
                                    (unsigned long)(seconds / units[i].size), units[i].letter);
        }
    }
    return 0; /* not reached: every count is a whole number of seconds */
}
