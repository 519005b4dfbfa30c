/* The delivery log: one line per attempt and recipient, in daily files
 * MailRoot\Logs\delivery-YYYYMMDD.log (UTC), tab-separated so a line splits unambiguously:
 *
 *   2026-11-30T08:30:01Z <TAB> id <TAB> recipient <TAB> remote host [address] <TAB>
 *   outcome (delivered, deferred, failed) <TAB> reply <TAB> tls
 *
 * tls: "none" (clear text), "TLSv1.2 <IANA cipher suite> verified|not-verified", or "-"
 * when no connection was made (a DNS failure, a connection refused).
 *
 * Bytes outside printable ASCII (a remote reply may hold any) are written as \xNN, so no
 * server can forge a line. Thread-safe; write failures are counted, never fatal. */
#ifndef IMSRELAY_DELIVERY_LOG_H
#define IMSRELAY_DELIVERY_LOG_H

#include <stdint.h>

typedef struct delivery_log delivery_log;

/* Logs go to <mail_root>\Logs (created if needed). NULL when the folder cannot be made. */
delivery_log *delivery_log_open(const char *mail_root);
void delivery_log_close(delivery_log *log);

/* LogMaxAgeDays: daily files older than that are deleted at the next day's file (0: kept for
 * ever; 30 until it is set). */
void delivery_log_set_max_age(delivery_log *log, uint32_t days);

void delivery_log_line(delivery_log *log, const char *id, const char *recipient, const char *remote,
                       const char *outcome, const char *reply, const char *tls);

#endif
