#include "diag.h"

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
