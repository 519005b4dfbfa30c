/* imsrelay.exe run: the server in the foreground, the same svc_server_run() the service
 * runs, with events echoed on the console; Ctrl+C (or closing the console) stops it as a
 * service stop would. */
#include <windows.h>
#include <stdio.h>

#include "cli/commands.h"
#include "events/eventlog.h"
#include "host/svc_server.h"

static svc_signals signals;

static BOOL WINAPI console_handler(DWORD type)
{
    switch (type) {
    case CTRL_C_EVENT:
    case CTRL_BREAK_EVENT:
        signals.stop_reason = "Ctrl+C in the console";
        break;
    default:
        signals.stop_reason = "the console was closed";
        break;
    }
    SetEvent(signals.stop);
    /* Returning from a close/logoff/shutdown event ends the process: give the server the
     * time a service stop gets. */
    if (type != CTRL_C_EVENT && type != CTRL_BREAK_EVENT) {
        Sleep(SVC_DRAIN_MS + 2000);
    }
    return TRUE;
}

int cmd_run(int argc, wchar_t **argv)
{
    (void)argv;
    if (argc > 1) {
        fwprintf(stderr, L"usage: imsrelay.exe run\n");
        return 2;
    }
    eventlog_open(true);
    if (!svc_signals_init(&signals)) {
        fwprintf(stderr, L"imsrelay: cannot create events (error %lu)\n", GetLastError());
        return 1;
    }
    SetConsoleCtrlHandler(console_handler, TRUE);
    /* Narrow output: the event echo writes stdout as UTF-8 bytes too. */
    fputs("imsrelay: running in the foreground; Ctrl+C stops.\n", stdout);
    fflush(stdout);
    enum svc_exit exit = svc_server_run(&signals);
    eventlog_close();
    return (int)exit;
}
