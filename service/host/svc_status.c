#include "host/svc_status.h"

static SRWLOCK lock = SRWLOCK_INIT;
static SERVICE_STATUS_HANDLE handle;
static SERVICE_STATUS status = {.dwServiceType = SERVICE_WIN32_OWN_PROCESS,
                                .dwCurrentState = SERVICE_STOPPED};

void svc_status_attach(SERVICE_STATUS_HANDLE h)
{
    AcquireSRWLockExclusive(&lock);
    handle = h;
    ReleaseSRWLockExclusive(&lock);
}

void svc_status_report(DWORD state, enum svc_exit exit)
{
    AcquireSRWLockExclusive(&lock);
    int pending = state == SERVICE_START_PENDING || state == SERVICE_STOP_PENDING ||
                  state == SERVICE_CONTINUE_PENDING || state == SERVICE_PAUSE_PENDING;
    /* The SCM wants checkpoints to grow within one pending state only. */
    status.dwCheckPoint =
            pending && status.dwCurrentState == state ? status.dwCheckPoint + 1 : (pending ? 1 : 0);
    status.dwCurrentState = state;
    status.dwWaitHint = pending ? SVC_WAIT_HINT_MS : 0;
    status.dwControlsAccepted =
            state == SERVICE_RUNNING
                    ? SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE
                    : 0;
    status.dwWin32ExitCode = exit == SVC_EXIT_OK ? NO_ERROR : ERROR_SERVICE_SPECIFIC_ERROR;
    status.dwServiceSpecificExitCode = exit == SVC_EXIT_OK ? 0 : (DWORD)exit;
    if (handle) {
        SetServiceStatus(handle, &status);
    }
    ReleaseSRWLockExclusive(&lock);
}

void svc_status_current(SERVICE_STATUS *out)
{
    AcquireSRWLockShared(&lock);
    *out = status;
    ReleaseSRWLockShared(&lock);
}
