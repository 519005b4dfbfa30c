#include "host/svc_server.h"

#include <winsock2.h>
#include <windows.h>
#include <stdio.h>

#include "delivery/queue_manager.h"
#include "events/eventlog.h"
#include "net/listener.h"
#include "config/runtime.h"
#include "net/transport.h"

/* How long registry changes must be quiet before a reload, and the longest a burst of
 * changes can delay it. */
#define SETTLE_MS     300
#define SETTLE_MAX_MS 3000

static void report_start_failure(const char *what, enum svc_exit exit)
{
    char code[16];
    snprintf(code, sizeof(code), "%d", (int)exit);
    eventlog_write(MSG_SERVICE_FAILED, what, code, NULL);
}

/* Waits until the change event stays quiet for SETTLE_MS (bounded), or stop is set. */
static bool settle(HANDLE change, HANDLE stop)
{
    HANDLE waits[2] = {stop, change};
    ULONGLONG begin = GetTickCount64();
    while (GetTickCount64() - begin < SETTLE_MAX_MS) {
        DWORD r = WaitForMultipleObjects(2, waits, FALSE, SETTLE_MS);
        if (r == WAIT_OBJECT_0) {
            return false;
        }
        if (r != WAIT_OBJECT_0 + 1) {
            break; /* quiet */
        }
    }
    return true;
}

static enum svc_exit serve(svc_signals *signals, runtime *rt)
{
    runtime_snapshot *snapshot = runtime_acquire(rt);
    const regio_config *config = runtime_snapshot_config(snapshot);
    enum svc_exit exit;
    /* Absent, or unreadable (an error event said so): every address, as documented. */
    bool every_address = config->listen_addresses.state == REGIO_VALUE_ABSENT ||
                         config->listen_addresses.state == REGIO_VALUE_UNREADABLE;
    listener *l = listener_open(every_address ? NULL : config->listen_addresses.lines,
                                config->listen_addresses.count, (uint16_t)config->listen_port.value,
                                &exit);
    if (!l) {
        runtime_snapshot_release(snapshot);
        report_start_failure("no SMTP listener could be opened (see the events before)", exit);
        return exit;
    }
    transport *server = transport_create(rt, &exit);
    if (!server) {
        listener_close(l);
        runtime_snapshot_release(snapshot);
        report_start_failure("the SMTP sessions cannot be served (see the events before)", exit);
        return exit;
    }
    const listener_handler *handler = transport_handler(server);
    if (!listener_start(l, handler)) {
        listener_close(l);
        transport_destroy(server);
        runtime_snapshot_release(snapshot);
        report_start_failure("cannot start the thread that accepts connections", SVC_EXIT_SYSTEM);
        return SVC_EXIT_SYSTEM;
    }
    svc_status_report(SERVICE_RUNNING, SVC_EXIT_OK);
    eventlog_write(MSG_STARTED, listener_describe(l), runtime_snapshot_description(snapshot), NULL);
    runtime_snapshot_release(snapshot);
    /* Delivery onward; without it (an event said why) mail is still accepted and queued. */
    queue_manager *delivery = queue_manager_start(rt, transport_spool(server));

    HANDLE waits[3] = {signals->stop, signals->reload, runtime_change_event(rt)};
    for (;;) {
        DWORD r = WaitForMultipleObjects(3, waits, FALSE, INFINITE);
        if (r == WAIT_OBJECT_0 + 1) {
            runtime_reload(rt,
                           "requested by a PARAMCHANGE control (sc control MSExchangeIMC "
                           "paramchange)",
                           true);
        } else if (r == WAIT_OBJECT_0 + 2) {
            if (settle(waits[2], signals->stop)) {
                runtime_reload(
                        rt, "the registry changed (Parameters, the policy key or IPEnableRouter)",
                        false);
            }
        } else {
            break; /* stop, or a wait that cannot go on */
        }
    }

    svc_status_report(SERVICE_STOP_PENDING, SVC_EXIT_OK);
    queue_manager_signal_stop(delivery);
    listener_close(l);
    if (handler->drain) {
        svc_status_report(SERVICE_STOP_PENDING, SVC_EXIT_OK);
        handler->drain(handler->ctx, SVC_DRAIN_MS);
    }
    /* Deliveries went on during the drain; those still running get what is left of a
     * wait hint of their own, then their connections are cut. */
    svc_status_report(SERVICE_STOP_PENDING, SVC_EXIT_OK);
    queue_manager_stop(delivery, SVC_DRAIN_MS);
    transport_destroy(server);
    return SVC_EXIT_OK;
}

bool svc_signals_init(svc_signals *signals)
{
    signals->stop = CreateEventW(NULL, TRUE, FALSE, NULL);
    signals->reload = CreateEventW(NULL, FALSE, FALSE, NULL);
    signals->stop_reason = "stop requested";
    return signals->stop && signals->reload;
}

enum svc_exit svc_server_run(svc_signals *signals)
{
    svc_status_report(SERVICE_START_PENDING, SVC_EXIT_OK);
    WSADATA wsa;
    if (WSAStartup(MAKEWORD(2, 2), &wsa) != 0) {
        report_start_failure("Winsock 2.2 is not available", SVC_EXIT_SYSTEM);
        return SVC_EXIT_SYSTEM;
    }
    enum svc_exit exit = SVC_EXIT_OUT_OF_MEMORY;
    runtime *rt = runtime_create();
    if (rt) {
        svc_status_report(SERVICE_START_PENDING, SVC_EXIT_OK);
        exit = runtime_start(rt);
        if (exit == SVC_EXIT_OK) {
            svc_status_report(SERVICE_START_PENDING, SVC_EXIT_OK);
            exit = serve(signals, rt);
        } else {
            report_start_failure("the configuration could not be read", exit);
        }
        runtime_destroy(rt);
    } else {
        report_start_failure("out of memory", exit);
    }
    WSACleanup();
    if (exit == SVC_EXIT_OK) {
        eventlog_write(MSG_STOPPED, signals->stop_reason, NULL);
    }
    return exit;
}
