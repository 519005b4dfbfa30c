#include "diag.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void regio_diag_list_init(regio_diag_list *list)
{
    memset(list, 0, sizeof(*list));
}

void regio_diag_list_free(regio_diag_list *list)
{
    free(list->items);
    memset(list, 0, sizeof(*list));
}

/* Copies src into a fixed field; a line too long to show whole ends in "..." so a reader
 * knows it was cut. */
static void copy_field(char *dst, size_t size, const char *src)
{
    size_t len = src ? strlen(src) : 0;
    if (len < size) {
        memcpy(dst, src ? src : "", len + 1);
        return;
    }
    memcpy(dst, src, size - 4);
    memcpy(dst + size - 4, "...", 4);
}

void regio_diag_addv(regio_diag_list *list, regio_diag_code code, regio_severity severity,
                     const char *value, uint32_t line, const char *text, const char *fmt,
                     va_list ap)
{
    if (list->count == list->capacity) {
        size_t capacity = list->capacity ? list->capacity * 2 : 16;
        regio_diag *items = realloc(list->items, capacity * sizeof(*items));
        if (!items) {
            list->truncated = 1;
            return;
        }
        list->items = items;
        list->capacity = capacity;
    }
    regio_diag *d = &list->items[list->count++];
    /* Every byte defined, not only up to each terminator: a diagnostic may be copied,
     * compared or hashed whole. */
    memset(d, 0, sizeof(*d));
    d->severity = severity;
    d->code = code;
    copy_field(d->value, sizeof(d->value), value);
    d->line = line;
    copy_field(d->text, sizeof(d->text), text);
    vsnprintf(d->message, sizeof(d->message), fmt, ap);
}

void regio_diag_add(regio_diag_list *list, regio_severity severity, const char *value,
                    uint32_t line, const char *text, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    regio_diag_addv(list, REGIO_DIAG_UNCODED, severity, value, line, text, fmt, ap);
    va_end(ap);
}

void regio_diag_add_code(regio_diag_list *list, regio_diag_code code, regio_severity severity,
                         const char *value, uint32_t line, const char *text, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    regio_diag_addv(list, code, severity, value, line, text, fmt, ap);
    va_end(ap);
}

/* A kind of warning that may be summarised. Few exist (a handful of codes, a few list
 * values), so a short array searched linearly keeps the whole pass linear. */
typedef struct summary_kind {
    const char *value;
    regio_diag_code code;
    size_t seen;
} summary_kind;

#define SUMMARY_KINDS_MAX 32

static bool summarizable(const regio_diag *d)
{
    return d->severity == REGIO_SEV_WARNING && d->line != 0 && d->code != REGIO_DIAG_UNCODED &&
           d->code != REGIO_DIAG_SUMMARY;
}

/* 39900 -> "39,900", as a person reads a count. */
static void format_count(size_t n, char *buf, size_t size)
{
    char digits[32];
    int len = snprintf(digits, sizeof(digits), "%zu", n);
    size_t o = 0;
    for (int i = 0; i < len && o + 2 < size; i++) {
        if (i > 0 && (len - i) % 3 == 0) {
            buf[o++] = ',';
        }
        buf[o++] = digits[i];
    }
    buf[o] = '\0';
}

void regio_diag_list_summarize(const regio_diag_list *in, size_t keep, regio_diag_list *out)
{
    summary_kind kinds[SUMMARY_KINDS_MAX];
    size_t kind_count = 0;
    for (size_t i = 0; i < in->count; i++) {
        const regio_diag *d = &in->items[i];
        if (summarizable(d)) {
            summary_kind *k = NULL;
            for (size_t j = 0; j < kind_count && !k; j++) {
                if (kinds[j].code == d->code && strcmp(kinds[j].value, d->value) == 0) {
                    k = &kinds[j];
                }
            }
            if (!k && kind_count < SUMMARY_KINDS_MAX) {
                k = &kinds[kind_count++];
                k->value = d->value;
                k->code = d->code;
                k->seen = 0;
            }
            if (k && k->seen++ >= keep) {
                continue; /* counted for the summary */
            }
        }
        regio_diag_add_code(out, d->code, d->severity, d->value, d->line, d->text, "%s",
                            d->message);
    }
    for (size_t j = 0; j < kind_count; j++) {
        if (kinds[j].seen > keep) {
            char count[40];
            format_count(kinds[j].seen - keep, count, sizeof(count));
            regio_diag_add_code(out, REGIO_DIAG_SUMMARY, REGIO_SEV_WARNING, kinds[j].value, 0, NULL,
                                "... and %s more warning%s like this for %s", count,
                                kinds[j].seen - keep == 1 ? "" : "s", kinds[j].value);
        }
    }
    out->truncated |= in->truncated;
}

size_t regio_diag_count(const regio_diag_list *list, regio_severity at_least)
{
    size_t n = list->truncated && at_least <= REGIO_SEV_ERROR ? 1 : 0;
    for (size_t i = 0; i < list->count; i++) {
        if (list->items[i].severity >= at_least) {
            n++;
        }
    }
    return n;
}

const char *regio_severity_name(regio_severity severity)
{
    switch (severity) {
    case REGIO_SEV_INFO:
        return "info";
    case REGIO_SEV_WARNING:
        return "warning";
    case REGIO_SEV_ERROR:
        return "error";
    }
    return "unknown";
}
