/* imsrelay.exe uninstall: stops and removes the service and its event source; the
 * Parameters key is first saved under MailRoot as a .reg file that regedit imports back, and
 * the mail is kept. Idempotent. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

#include "cli/cli_admin.h"
#include "cli/commands.h"
#include "events/eventlog.h"
#include "host/svc_host.h"
#include "store/reg_export.h"

#define STOP_WAIT_MS 30000

/* Stops the service and waits (bounded) until it has stopped. */
static void stop_service(SC_HANDLE service)
{
    SERVICE_STATUS status;
    if (!QueryServiceStatus(service, &status) || status.dwCurrentState == SERVICE_STOPPED) {
        return;
    }
    fwprintf(stdout, L"Stopping %ls...\n", SVC_NAME_W);
    ControlService(service, SERVICE_CONTROL_STOP, &status);
    ULONGLONG begin = GetTickCount64();
    while (QueryServiceStatus(service, &status) && status.dwCurrentState != SERVICE_STOPPED &&
           GetTickCount64() - begin < STOP_WAIT_MS) {
        Sleep(200);
    }
}

/* Saves Parameters under MailRoot before the service's key goes away with the service. */
static int backup_parameters(void)
{
    wchar_t root[MAX_PATH];
    if (!cli_admin_mail_root(root, MAX_PATH)) {
        return cli_admin_fail(L"cannot expand MailRoot for the configuration backup",
                              ERROR_BAD_PATHNAME);
    }
    DWORD s = cli_admin_make_folder(root, NULL);
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot create MailRoot for the configuration backup", s);
    }
    SYSTEMTIME now;
    GetLocalTime(&now);
    wchar_t file[MAX_PATH + 64];
    swprintf(file, sizeof(file) / sizeof(file[0]),
             L"%ls\\imsrelay-parameters-%04u%02u%02u-%02u%02u%02u.reg", root, now.wYear, now.wMonth,
             now.wDay, now.wHour, now.wMinute, now.wSecond);
    s = reg_export_key(CLI_ADMIN_PARAMETERS_KEY, file);
    if (s == ERROR_FILE_NOT_FOUND) {
        fwprintf(stdout, L"Parameters: none to save\n");
        return 0;
    }
    if (s != ERROR_SUCCESS) {
        return cli_admin_fail(L"cannot save the Parameters key (nothing was removed)", s);
    }
    fwprintf(stdout, L"Parameters saved to %ls (restore with: regedit /s \"%ls\")\n", file, file);
    return 0;
}

int cmd_uninstall(int argc, wchar_t **argv)
{
    (void)argv;
    if (argc > 1) {
        fwprintf(stderr, L"usage: imsrelay.exe uninstall\n");
        return 2;
    }
    int denied = cli_admin_require(L"uninstall");
    if (denied) {
        return denied;
    }
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_ALL_ACCESS);
    if (!scm) {
        return cli_admin_fail(L"cannot open the Service Control Manager", GetLastError());
    }
    SC_HANDLE service = OpenServiceW(scm, SVC_NAME_W, SERVICE_ALL_ACCESS);
    if (!service && GetLastError() != ERROR_SERVICE_DOES_NOT_EXIST) {
        DWORD e = GetLastError();
        CloseServiceHandle(scm);
        return cli_admin_fail(L"cannot open the service", e);
    }
    if (service) {
        stop_service(service);
    }
    int rc = backup_parameters();
    if (rc) {
        if (service) {
            CloseServiceHandle(service);
        }
        CloseServiceHandle(scm);
        return rc;
    }
    if (service) {
        if (!DeleteService(service) && GetLastError() != ERROR_SERVICE_MARKED_FOR_DELETE) {
            DWORD e = GetLastError();
            CloseServiceHandle(service);
            CloseServiceHandle(scm);
            return cli_admin_fail(L"cannot remove the service", e);
        }
        CloseServiceHandle(service);
        fwprintf(stdout, L"Service %ls removed\n", SVC_NAME_W);
    } else {
        fwprintf(stdout, L"Service %ls: not installed\n", SVC_NAME_W);
    }
    CloseServiceHandle(scm);
    /* Windows removes the service's key once the service is gone; Parameters is saved. */
    RegDeleteTreeW(HKEY_LOCAL_MACHINE, CLI_ADMIN_SERVICE_KEY);
    DWORD s = RegDeleteTreeW(HKEY_LOCAL_MACHINE, CLI_ADMIN_EVENT_SOURCE_KEY);
    if (s != ERROR_SUCCESS && s != ERROR_FILE_NOT_FOUND) {
        return cli_admin_fail(L"cannot remove the event source", s);
    }
    fwprintf(stdout, L"Event source %ls removed\n", IMSRELAY_EVENT_SOURCE_W);
    wchar_t root[MAX_PATH];
    if (cli_admin_mail_root(root, MAX_PATH)) {
        fwprintf(stdout, L"Mail under %ls is kept.\n", root);
    }
    return 0;
}
