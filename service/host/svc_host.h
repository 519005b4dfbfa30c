/* The two ways the server runs: as the service under the SCM, or in the foreground
 * (`imsrelay.exe run`). Both drive the same svc_server_run(). */
#ifndef IMSRELAY_SVC_HOST_H
#define IMSRELAY_SVC_HOST_H

#include "identity.h"

#define SVC_NAME_W         IDENTITY_WIDE(IDENTITY_SERVICE_NAME)
#define SVC_DISPLAY_NAME_W IDENTITY_WIDE(IDENTITY_DISPLAY_NAME)

/* Connects to the SCM and runs the service until it stops; returns the process exit code.
 * Started from a console instead, says how to use imsrelay.exe and returns non-zero. */
int svc_host_dispatch(void);

#endif
