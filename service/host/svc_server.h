/* The server's life, the same under the SCM and in `run` mode: read the configuration, open
 * the listeners, serve, reload on request, stop in bounded time. */
#ifndef IMSRELAY_SVC_SERVER_H
#define IMSRELAY_SVC_SERVER_H

#include <windows.h>
#include <stdbool.h>

#include "host/svc_status.h"

/* Longest a stop waits for sessions in progress before they are cut. */
#define SVC_DRAIN_MS 8000

typedef struct svc_signals {
    HANDLE stop;                      /* manual-reset: set to stop */
    HANDLE reload;                    /* auto-reset: set for PARAMCHANGE */
    const char *volatile stop_reason; /* words for the stopped event, set before `stop` */
} svc_signals;

/* Creates the events; false (with GetLastError) when it cannot. */
bool svc_signals_init(svc_signals *signals);

/* Runs until signals->stop is set or starting fails; reports every state through
 * svc_status_report (STOPPED excepted: the caller reports it with the returned code). */
enum svc_exit svc_server_run(svc_signals *signals);

#endif
