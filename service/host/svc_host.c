#include "host/svc_host.h"

#include <windows.h>
#include <stdio.h>

#include "events/eventlog.h"
#include "host/svc_server.h"
#include "host/svc_status.h"

static svc_signals signals;

static DWORD WINAPI control_handler(DWORD control, DWORD type, void *data, void *context)
{
    (void)type;
    (void)data;
    (void)context;
    switch (control) {
    case SERVICE_CONTROL_STOP:
        signals.stop_reason = "stop requested by the Service Control Manager";
        SetEvent(signals.stop);
        return NO_ERROR;
    case SERVICE_CONTROL_SHUTDOWN:
        signals.stop_reason = "the system is shutting down";
        SetEvent(signals.stop);
        return NO_ERROR;
    case SERVICE_CONTROL_PARAMCHANGE:
        SetEvent(signals.reload);
        return NO_ERROR;
    case SERVICE_CONTROL_INTERROGATE:
        return NO_ERROR;
    default:
        return ERROR_CALL_NOT_IMPLEMENTED;
    }
}

static void WINAPI service_main(DWORD argc, wchar_t **argv)
{
    (void)argc;
    (void)argv;
    SERVICE_STATUS_HANDLE h = RegisterServiceCtrlHandlerExW(SVC_NAME_W, control_handler, NULL);
    if (!h) {
        return;
    }
    svc_status_attach(h);
    eventlog_open(false);
    enum svc_exit exit = SVC_EXIT_SYSTEM;
    if (svc_signals_init(&signals)) {
        exit = svc_server_run(&signals);
    } else {
        eventlog_write(MSG_SERVICE_FAILED, "cannot create the service's events", "4", NULL);
    }
    eventlog_close();
    svc_status_report(SERVICE_STOPPED, exit);
}

int svc_host_dispatch(void)
{
    static wchar_t name[] = SVC_NAME_W;
    SERVICE_TABLE_ENTRYW table[] = {{name, service_main}, {NULL, NULL}};
    if (StartServiceCtrlDispatcherW(table)) {
        return 0;
    }
    if (GetLastError() == ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
        fwprintf(stderr,
                 L"imsrelay.exe runs as the Windows service %ls (net start %ls).\n"
                 L"To run it in this console instead: imsrelay.exe run\n"
                 L"All commands: imsrelay.exe help\n",
                 SVC_NAME_W, SVC_NAME_W);
        return 2;
    }
    fwprintf(stderr, L"imsrelay: cannot connect to the Service Control Manager (error %lu)\n",
             GetLastError());
    return 1;
}
