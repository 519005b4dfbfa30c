/* imsrelay.exe reload: what `sc control MSExchangeIMC paramchange` does, for systems whose
 * sc.exe lacks `control` (Wine's) and for administrators who prefer a word to a code. */
#include <windows.h>
#include <stdio.h>

#include "cli/commands.h"
#include "host/svc_host.h"

int cmd_reload(int argc, wchar_t **argv)
{
    (void)argv;
    if (argc > 1) {
        fwprintf(stderr, L"usage: imsrelay.exe reload\n");
        return 2;
    }
    SC_HANDLE scm = OpenSCManagerW(NULL, NULL, SC_MANAGER_CONNECT);
    SC_HANDLE service = scm ? OpenServiceW(scm, SVC_NAME_W, SERVICE_PAUSE_CONTINUE) : NULL;
    SERVICE_STATUS status;
    DWORD error = NO_ERROR;
    if (!service || !ControlService(service, SERVICE_CONTROL_PARAMCHANGE, &status)) {
        error = GetLastError();
    }
    if (service) {
        CloseServiceHandle(service);
    }
    if (scm) {
        CloseServiceHandle(scm);
    }
    switch (error) {
    case NO_ERROR:
        fwprintf(stdout,
                 L"%ls is reloading its configuration; the Application log says how it "
                 L"went.\n",
                 SVC_NAME_W);
        return 0;
    case ERROR_ACCESS_DENIED:
        fwprintf(stderr, L"imsrelay: reload: access denied. Run this command as an "
                         L"administrator.\n");
        return 5;
    case ERROR_SERVICE_NOT_ACTIVE:
        fwprintf(stderr, L"imsrelay: reload: %ls is not running.\n", SVC_NAME_W);
        return 1;
    case ERROR_SERVICE_DOES_NOT_EXIST:
        fwprintf(stderr, L"imsrelay: reload: %ls is not installed.\n", SVC_NAME_W);
        return 1;
    default:
        fwprintf(stderr, L"imsrelay: reload: the service did not take the request (error %lu).\n",
                 error);
        return 1;
    }
}
