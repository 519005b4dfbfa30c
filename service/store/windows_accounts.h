/* SMTP AUTH against Windows accounts (AuthWindowsAccounts 1), besides imsrelay's own
 * account store. Never under Wine, whose LogonUserW accepts any password. */
#ifndef IMSRELAY_WINDOWS_ACCOUNTS_H
#define IMSRELAY_WINDOWS_ACCOUNTS_H

#include <stdbool.h>

/* False under Wine: Windows accounts must never be trusted there. */
bool windows_accounts_usable(void);

/* A network logon of user ("name" or "DOMAIN\name") with password, both UTF-8. */
bool windows_accounts_verify(const char *user, const char *password);

#endif
