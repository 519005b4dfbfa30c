/* The one place that reports the service's state to the Service Control Manager. Nothing
 * else touches SERVICE_STATUS. In `run` mode (no SCM) reports go nowhere. */
#ifndef IMSRELAY_SVC_STATUS_H
#define IMSRELAY_SVC_STATUS_H

#include <windows.h>

/* Service-specific exit codes (dwServiceSpecificExitCode with ERROR_SERVICE_SPECIFIC_ERROR);
 * `sc query MSExchangeIMC` shows them. README.md documents each; never renumber. */
enum svc_exit {
    SVC_EXIT_OK = 0,
    SVC_EXIT_LISTEN_FAILED = 1, /* a listening address or the port is taken or invalid */
    SVC_EXIT_NO_LISTENER = 2,   /* no usable listening address at all */
    SVC_EXIT_OUT_OF_MEMORY = 3, /* configuration or snapshot could not be built */
    SVC_EXIT_SYSTEM = 4,        /* a Windows facility failed (Winsock, threads, events) */
    SVC_EXIT_MAIL_ROOT = 5,     /* MailRoot or its folders cannot be made or written */
};

/* Wait hint for every pending report: the longest a single start or stop step may take. */
#define SVC_WAIT_HINT_MS 10000

/* h: from RegisterServiceCtrlHandlerExW, or NULL in `run` mode. */
void svc_status_attach(SERVICE_STATUS_HANDLE h);

/* Reports a state. Pending states get the next checkpoint and the wait hint; RUNNING
 * accepts STOP, SHUTDOWN and PARAMCHANGE; STOPPED carries the exit code
 * (exit != SVC_EXIT_OK: ERROR_SERVICE_SPECIFIC_ERROR + exit). */
void svc_status_report(DWORD state, enum svc_exit exit);

/* The status last reported (what `sc query` shows), also in `run` mode. */
void svc_status_current(SERVICE_STATUS *out);

#endif
