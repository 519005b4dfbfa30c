/* The SMTP AUTH account store: accounts the service itself owns, so that relaying by
 * authenticated clients (RelayFlags bit 4) needs no Windows account.
 *
 * Each account is one REG_BINARY value in HKLM\...\MSExchangeIMC\Parameters\Users, named
 * by the account (lower-cased: account names are case-insensitive, like Windows logons),
 * holding a PBKDF2-HMAC-SHA256 hash made with Windows CNG:
 *     byte 0      format version (1)
 *     bytes 1-4   iteration count, little-endian
 *     bytes 5-20  random salt (16 bytes)
 *     bytes 21-52 derived key (32 bytes)
 * The key's ACL lets only SYSTEM and Administrators write and the service's account
 * (Local Service) read; nobody else can read the hashes. */
#ifndef IMSRELAY_USER_STORE_H
#define IMSRELAY_USER_STORE_H

#include <windows.h>

#include <stdbool.h>

#include "identity.h"

#define USER_STORE_KEY        IDENTITY_WIDE(IDENTITY_USERS_KEY)
#define USER_STORE_ITERATIONS 100000
#define USER_ACCOUNT_MAX      64  /* characters */
#define USER_PASSWORD_MAX     256 /* bytes of UTF-8 */

/* Checks an account name as typed by an administrator or a client: 1 to 64 characters,
 * no control characters, no backslash (value names must stay plain). Returns a reason for
 * a person, or NULL when valid. */
const char *user_store_account_problem(const char *account_utf8);

/* Creates or replaces an account. key_path is under HKLM (USER_STORE_KEY in production).
 * Returns ERROR_SUCCESS or a Win32 error. */
DWORD user_store_set(const wchar_t *key_path, const char *account_utf8, const char *password_utf8,
                     DWORD iterations);
/* ERROR_FILE_NOT_FOUND when there is no such account. */
DWORD user_store_remove(const wchar_t *key_path, const char *account_utf8);

/* Calls visit for each account name (UTF-8), in registry order. */
DWORD user_store_list(const wchar_t *key_path, void (*visit)(void *ctx, const char *account),
                      void *ctx);

/* true when the account exists and the password is right. Takes as long for an unknown
 * account as for a wrong password, so that replies do not reveal which accounts exist. */
bool user_store_verify(const wchar_t *key_path, const char *account_utf8,
                       const char *password_utf8);

#endif
