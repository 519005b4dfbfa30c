/* What the Service Control Manager (and `sc query`) is told: checkpoints that grow while a
 * start or stop is pending and a wait hint with them, the controls accepted only while
 * running, and a failure's service-specific exit code. */
#include <windows.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "host/svc_status.h"

static SERVICE_STATUS report(DWORD state, enum svc_exit exit)
{
    svc_status_report(state, exit);
    SERVICE_STATUS s;
    svc_status_current(&s);
    assert_int_equal(s.dwServiceType, SERVICE_WIN32_OWN_PROCESS);
    assert_int_equal(s.dwCurrentState, state);
    return s;
}

static void start_stop_and_failure(void **state)
{
    (void)state;
    svc_status_attach(NULL); /* `run` mode: nothing goes to an SCM */
    SERVICE_STATUS s = report(SERVICE_START_PENDING, SVC_EXIT_OK);
    assert_int_equal(s.dwCheckPoint, 1);
    assert_int_equal(s.dwWaitHint, SVC_WAIT_HINT_MS);
    assert_int_equal(s.dwControlsAccepted, 0); /* no stop while starting */
    s = report(SERVICE_START_PENDING, SVC_EXIT_OK);
    assert_int_equal(s.dwCheckPoint, 2);
    s = report(SERVICE_START_PENDING, SVC_EXIT_OK);
    assert_int_equal(s.dwCheckPoint, 3);

    s = report(SERVICE_RUNNING, SVC_EXIT_OK);
    assert_int_equal(s.dwCheckPoint, 0);
    assert_int_equal(s.dwWaitHint, 0);
    assert_int_equal(s.dwControlsAccepted,
                     SERVICE_ACCEPT_STOP | SERVICE_ACCEPT_SHUTDOWN | SERVICE_ACCEPT_PARAMCHANGE);
    assert_int_equal(s.dwWin32ExitCode, NO_ERROR);

    s = report(SERVICE_STOP_PENDING, SVC_EXIT_OK);
    assert_int_equal(s.dwCheckPoint, 1); /* a new pending state counts from 1 */
    assert_int_equal(s.dwWaitHint, SVC_WAIT_HINT_MS);
    assert_int_equal(s.dwControlsAccepted, 0);
    s = report(SERVICE_STOP_PENDING, SVC_EXIT_OK);
    assert_int_equal(s.dwCheckPoint, 2);

    s = report(SERVICE_STOPPED, SVC_EXIT_OK);
    assert_int_equal(s.dwWin32ExitCode, NO_ERROR);
    assert_int_equal(s.dwServiceSpecificExitCode, 0);
    assert_int_equal(s.dwCheckPoint, 0);

    report(SERVICE_START_PENDING, SVC_EXIT_OK);
    s = report(SERVICE_STOPPED, SVC_EXIT_LISTEN_FAILED);
    assert_int_equal(s.dwWin32ExitCode, ERROR_SERVICE_SPECIFIC_ERROR);
    assert_int_equal(s.dwServiceSpecificExitCode, 1);
    s = report(SERVICE_STOPPED, SVC_EXIT_MAIL_ROOT);
    assert_int_equal(s.dwServiceSpecificExitCode, 5);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
            cmocka_unit_test(start_stop_and_failure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
