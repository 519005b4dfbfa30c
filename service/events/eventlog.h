/* The Application Event Log of imsrelay: source MSExchangeIMC, message texts from the table
 * compiled into imsrelay.exe (messages.mc, IDs in the generated messages.h). The rest of the
 * service reports events only through these functions. In `run` mode every event is also
 * echoed to the console, rendered exactly as Event Viewer renders it. Thread-safe. */
#ifndef IMSRELAY_EVENTLOG_H
#define IMSRELAY_EVENTLOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "identity.h"
#include "messages.h"

#define IMSRELAY_EVENT_SOURCE_W IDENTITY_WIDE(IDENTITY_EVENT_SOURCE)

/* Longest insertion string written; longer ones end in "..." (the Event Log limit is about
 * 32K characters per string, and nobody reads that much in Event Viewer). */
#define EVENTLOG_STRING_MAX 2048

/* Opens the event source. echo_console: also print each event on stdout (`run` mode).
 * Without a call, events are still written (the source is opened on first use). */
void eventlog_open(bool echo_console);
void eventlog_close(void);

/* Writes event `id` (REGIO_EVENT_*) with its insertion strings %1..%n, UTF-8. A NULL string
 * is shown as "-". Missing strings are shown as "-" and surplus ones dropped, so a message
 * never shows an unexpanded "%n". */
void eventlog_report(uint32_t id, size_t count, const char *const *strings);

/* The same with the strings as arguments, ended by NULL:
 *     eventlog_write(MSG_STOPPED, "stop requested", NULL); */
void eventlog_write(uint32_t id, ...);

/* Configuration diagnostics: each error becomes MSG_CONFIG_ERROR, each warning
 * MSG_CONFIG_WARNING (value, line, text, reason). Returns the number of errors. */
size_t eventlog_config_diags(const regio_diag_list *diags);

/* Renders event `id` with UTF-16 insertion strings the way Event Viewer does (message table
 * of this exe, FORMAT_MESSAGE_ARGUMENT_ARRAY) into out. Returns the length written, 0 when
 * the message table has no such ID. */
size_t eventlog_render(uint32_t id, const wchar_t *const *strings, size_t count, wchar_t *out,
                       size_t out_len);

#endif
