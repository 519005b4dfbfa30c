/* The protocol log: one line per command received and per reply sent, in daily files
 * MailRoot\Logs\smtp-YYYYMMDD.log (UTC), so an administrator can read whole sessions.
 *
 *   2026-11-28T08:30:01.123Z 2a 127.0.0.5 < EHLO client.example
 *   2026-11-28T08:30:01.123Z 2a 127.0.0.5 > 250-mx.example.com
 *
 * Fields: time, session number (hex), client address, direction (< from the client,
 * > to the client, * an event of the session such as connect or close), then the line with
 * every byte outside printable ASCII, and the backslash, written as \xNN, so a client can
 * neither forge log lines nor hide bytes. AUTH credentials never reach the log (the SMTP
 * engine redacts them). A line is cut, marked with "...", where its escaped text would pass
 * PROTOCOL_LOG_LINE_MAX bytes, so escaping cannot multiply what a client sends beyond that.
 * A day's file stops growing at the daily limit (protocol_log_set_daily_limit): one line
 * then says so, and the next day's file begins with the count of lines left out. Thread-safe;
 * write failures are counted, never fatal.
 *
 * Lines are kept in memory and written in batches (PROTOCOL_LOG_BATCH_BYTES at most, one
 * write each), so a session costs no write per line: the owner calls protocol_log_flush at
 * least every second, and closing flushes. A crash loses at most that last second. */
#ifndef IMSRELAY_PROTOCOL_LOG_H
#define IMSRELAY_PROTOCOL_LOG_H

#include <stddef.h>
#include <stdint.h>

#define PROTOCOL_LOG_LINE_MAX    1000
#define PROTOCOL_LOG_BATCH_BYTES 65536 /* holds any line: 128 + 4 * LINE_MAX + 8 bytes */

typedef struct protocol_log protocol_log;

/* Logs go to <mail_root>\Logs (created if needed). NULL when the folder cannot be made. */
protocol_log *protocol_log_open(const char *mail_root);
void protocol_log_close(protocol_log *log);

/* Writes one line; returns the bytes written (0 when nothing was: no log, the daily limit
 * reached, a write error). */
size_t protocol_log_line(protocol_log *log, uint64_t session, const char *client, char direction,
                         const char *line, size_t len);

/* The size a day's file may reach, in bytes (0: no limit, the default). */
void protocol_log_set_daily_limit(protocol_log *log, uint64_t bytes);

/* LogMaxAgeDays: this log's daily files older than that are deleted at the next day's file
 * (0: kept for ever; 30 until it is set). */
void protocol_log_set_max_age(protocol_log *log, uint32_t days);

/* Writes the lines logged so far. */
void protocol_log_flush(protocol_log *log);

#endif
