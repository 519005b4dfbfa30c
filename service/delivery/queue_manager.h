/* The queue manager: delivers what the spool puts in MailRoot\Queue.
 *
 * A scheduler thread indexes every queue file (those there at start too: Queue\<XX>\ and
 * files directly in Queue\, store/queue_path.h) and picks up new ones by name: the spools
 * tell it the id of each message they commit (spool_set_queued_hook), so n new messages
 * cost n loads, not n reads of a folder of thousands. Files dropped directly into Queue\
 * are found by a change notification on that folder alone (and a look every
 * QUEUE_MANAGER_RESCAN_MS); every QUEUE_MANAGER_WHOLE_RESCAN_MS, and after `queue retry` or
 * `queue delete`, it reads the whole queue as a safety net. It starts delivery threads for
 * destinations with due recipients: at most MaxOutboundConnections in all and
 * MaxConnectionsPerDestination per destination (the smart host list, or a recipient domain). A
 * delivery thread routes at each attempt (net/dns_route: SmartHost, or MX), opens one connection
 * (delivery/outbound) and sends every due message for its destination over it, one after another.
 *
 * Durability (the at-most-once rule): each attempt's outcome is appended to the message's
 * journal and flushed before anything else happens; the recipients a remote 250 covers are
 * written first, in one append. A message leaves Queue only when every recipient is done or
 * failed, after its DSN (if any) is in the spool. A kill at any moment leaves a queue the
 * next start resumes: a recipient whose 250 was in flight may be sent once more, none is
 * lost. Files the manager cannot parse go to Badmail with a .reason file and an event.
 *
 * `imsrelay.exe queue retry ID` appends a retry-now record to a journal and sets the named
 * event QUEUE_MANAGER_RETRY_EVENT; the manager then rereads the journals and tries again.
 * `queue retry --all` sets QUEUE_MANAGER_RETRY_ALL_EVENT instead when the service runs: the
 * manager makes every message due now in memory, without a journal write per message (a
 * stop before they go leaves them to their schedule; nothing is lost). */
#ifndef IMSRELAY_QUEUE_MANAGER_H
#define IMSRELAY_QUEUE_MANAGER_H

#include <windows.h>

#include "config/runtime.h"
#include "store/spool.h"

#define QUEUE_MANAGER_RESCAN_MS       10000u  /* Queue\ itself (small: dropped files) */
#define QUEUE_MANAGER_WHOLE_RESCAN_MS 300000u /* every subfolder too */
#define QUEUE_MANAGER_RETRY_EVENT     L"Global\\MSExchangeIMC.QueueRetry"
#define QUEUE_MANAGER_RETRY_ALL_EVENT L"Global\\MSExchangeIMC.QueueRetryAll"

typedef struct queue_manager queue_manager;

/* Indexes the queue, writes the started event (MSG_QUEUE_STARTED) and starts delivering.
 * intake: the spool the SMTP sessions write into (or NULL): the manager hooks onto it to
 * hear of each message it queues, until queue_manager_stop. NULL (with an event) when it
 * cannot start; the service then still accepts mail. */
queue_manager *queue_manager_start(runtime *rt, spool *intake);

/* No new attempts from now on (the first step of a stop; attempts in progress go on). */
void queue_manager_signal_stop(queue_manager *manager);

/* Stops within timeout_ms: no new attempts; attempts in progress may finish until shortly
 * before the deadline, then their connections are cut (recipients not answered stay as they
 * were: the next start tries them again). A thread that still does not end (a DNS query
 * Windows does not let go of) is left to the process's exit. */
void queue_manager_stop(queue_manager *manager, DWORD timeout_ms);

#endif
