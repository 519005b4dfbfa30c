/* Diagnostics about the configuration: what an administrator reads in `imsrelay check` and
 * in the configuration error/warning events. One list type for every producer (registry
 * decoding, list-line parsing, policy compilation), so every consumer prints them alike. */
#ifndef IMSRELAY_REGIO_DIAG_H
#define IMSRELAY_REGIO_DIAG_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* mingw's vsnprintf is the C99 one (__USE_MINGW_ANSI_STDIO), so %zu is fine there too:
 * tell gcc to check against GNU printf rather than the MSVCRT dialect. */
#if defined(__MINGW32__)
#define REGIO_PRINTF_FORMAT gnu_printf
#else
#define REGIO_PRINTF_FORMAT printf
#endif

typedef enum regio_severity {
    REGIO_SEV_INFO = 0,
    REGIO_SEV_WARNING = 1,
    REGIO_SEV_ERROR = 2,
} regio_severity;

/* What a diagnostic is about, for code that acts on particular diagnostics (which warnings
 * an event of its own already covers, which ones to summarise). Stable: match on these,
 * never on the message, whose wording is for people and may change. */
typedef enum regio_diag_code {
    REGIO_DIAG_UNCODED = 0,         /* no code needs to tell it from others */
    REGIO_DIAG_RELAY_DISABLED,      /* RelayFlags sets no rule: every relay is denied */
    REGIO_DIAG_LOCAL_IP_IGNORED,    /* IP forwarding on: RelayLocalIPList is not in effect */
    REGIO_DIAG_ALLOW_EVERY_ADDRESS, /* an allow-list line matches every address */
    REGIO_DIAG_ALLOW_PRIVATE_RANGE, /* an allow-list line covers a whole NAT-able range */
    REGIO_DIAG_SUMMARY,             /* "... and n more warnings like this" */
    REGIO_DIAG_SHADOWED_BY_POLICY,  /* a Parameters value is hidden by the policy key's */
} regio_diag_code;

#define REGIO_DIAG_VALUE_MAX   64
#define REGIO_DIAG_TEXT_MAX    256 /* the offending line, truncated with "..." if longer */
#define REGIO_DIAG_MESSAGE_MAX 320

typedef struct regio_diag {
    regio_severity severity;
    regio_diag_code code;
    char value[REGIO_DIAG_VALUE_MAX]; /* registry value name; "" when about the key as a whole */
    uint32_t line;                    /* 1-based line within a list value; 0 when not a line */
    char text[REGIO_DIAG_TEXT_MAX];   /* the line as written; "" when not a line */
    char message[REGIO_DIAG_MESSAGE_MAX]; /* reason a person understands */
} regio_diag;

/* A growable list. A failed allocation is remembered (truncated = 1) rather than lost
 * silently, and counts as an error so a configuration never looks cleaner than it is. */
typedef struct regio_diag_list {
    regio_diag *items;
    size_t count;
    size_t capacity;
    int truncated;
} regio_diag_list;

void regio_diag_list_init(regio_diag_list *list);
void regio_diag_list_free(regio_diag_list *list);

/* Appends a diagnostic (code REGIO_DIAG_UNCODED). value/text may be NULL. The message is
 * printf-formatted. */
void regio_diag_add(regio_diag_list *list, regio_severity severity, const char *value,
                    uint32_t line, const char *text, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(REGIO_PRINTF_FORMAT, 6, 7)))
#endif
        ;
/* The same with a code. */
void regio_diag_add_code(regio_diag_list *list, regio_diag_code code, regio_severity severity,
                         const char *value, uint32_t line, const char *text, const char *fmt, ...)
#if defined(__GNUC__)
        __attribute__((format(REGIO_PRINTF_FORMAT, 7, 8)))
#endif
        ;
void regio_diag_addv(regio_diag_list *list, regio_diag_code code, regio_severity severity,
                     const char *value, uint32_t line, const char *text, const char *fmt,
                     va_list ap)
#if defined(__GNUC__)
        __attribute__((format(REGIO_PRINTF_FORMAT, 7, 0)))
#endif
        ;

/* How many warnings of one kind about one value are shown one by one; the rest become one
 * summary line. */
#define REGIO_DIAG_SUMMARY_KEEP 100

/* Appends to `out` the diagnostics of `in`, in order, except that of the coded warnings about
 * lines (one kind: same value, same code) only the first `keep` are copied; for each kind
 * with more, one warning with code REGIO_DIAG_SUMMARY about the value as a whole follows at
 * the end: "... and 39,900 more warnings like this for RelayAllowList". A list of 40,000
 * warnings then reads (and prints) in linear time. Counts still come from `in`. */
void regio_diag_list_summarize(const regio_diag_list *in, size_t keep, regio_diag_list *out);

/* Number of diagnostics at or above a severity (a truncated list counts one more error). */
size_t regio_diag_count(const regio_diag_list *list, regio_severity at_least);

const char *regio_severity_name(regio_severity severity); /* "info", "warning", "error" */

#endif
