/* What install and uninstall share: the administrator check, error reports, MailRoot as the
 * service will use it, and folder creation. */
#ifndef IMSRELAY_CLI_ADMIN_H
#define IMSRELAY_CLI_ADMIN_H

#include <windows.h>
#include <stdbool.h>
#include <wchar.h>

#include "identity.h"

#define CLI_ADMIN_SERVICE_KEY      IDENTITY_WIDE(IDENTITY_SERVICE_KEY)
#define CLI_ADMIN_PARAMETERS_KEY   IDENTITY_WIDE(IDENTITY_PARAMETERS_KEY)
#define CLI_ADMIN_EVENT_SOURCE_KEY IDENTITY_WIDE(IDENTITY_EVENT_SOURCE_KEY)

/* Prints "imsrelay: <what>: <Windows' text>" and returns the exit code: 5 for access
 * denied (with the advice to elevate), 1 otherwise. */
int cli_admin_fail(const wchar_t *what, DWORD error);

/* 0 when this process can administer the machine; otherwise says that `command` needs an
 * elevated prompt and returns 5. Asked first so that nothing is half done. */
int cli_admin_require(const wchar_t *command);

/* MailRoot as the service will use it (the Parameters value through regio's validation,
 * else the default), expanded. false when it cannot be read or does not fit. */
bool cli_admin_mail_root(wchar_t *out, DWORD out_chars);

/* Creates a folder and its missing parents; *created (may be NULL) tells whether `path`
 * itself is new. */
DWORD cli_admin_make_folder(const wchar_t *path, bool *created);

#endif
