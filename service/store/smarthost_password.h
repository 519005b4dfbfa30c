/* The password imsrelay logs in to its smart host with (SmartHostAccount), kept as one
 * REG_BINARY value, SmartHostPassword, in its own key under Parameters:
 *
 *   HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters\SmartHostLogin
 *
 * The value is a DPAPI blob (CryptProtectData) with machine scope
 * (CRYPTPROTECT_LOCAL_MACHINE): the console of an administrator stores it, the service
 * (Local Service) reads it. Machine scope means any process of this machine could decrypt
 * the blob, so the key's ACL is what keeps it secret: SYSTEM and Administrators full
 * control, Local Service read, nobody else (protected, nothing inherited). The blob is of
 * no use on another machine, so an exported Parameters key (uninstall) carries no password. */
#ifndef IMSRELAY_SMARTHOST_PASSWORD_H
#define IMSRELAY_SMARTHOST_PASSWORD_H

#include <windows.h>

#include <stdbool.h>
#include <stddef.h>

#include "identity.h"

#define SMARTHOST_PASSWORD_KEY   IDENTITY_WIDE(IDENTITY_PARAMETERS_KEY "\\SmartHostLogin")
#define SMARTHOST_PASSWORD_VALUE L"SmartHostPassword"
#define SMARTHOST_PASSWORD_MAX   255 /* bytes of UTF-8, as AUTH sends at most */

/* Stores (replaces) the password: 1..255 bytes of UTF-8. Creates the key with its ACL, or
 * tightens the ACL of a key made by hand. ERROR_SUCCESS or a Win32 error. */
DWORD smarthost_password_set(const wchar_t *key_path, const char *password);

/* ERROR_FILE_NOT_FOUND when none is stored. */
DWORD smarthost_password_clear(const wchar_t *key_path);

/* The password into out (size bytes, NUL-terminated). ERROR_FILE_NOT_FOUND when none is
 * stored, ERROR_INVALID_DATA when the blob cannot be decrypted (another machine's). */
DWORD smarthost_password_get(const wchar_t *key_path, char *out, size_t size);

/* The login key's DACL as SDDL into out ("" when the key does not exist or its security
 * cannot be read), so an administrator can see who may read the password. */
void smarthost_password_key_acl(const wchar_t *key_path, char *out, size_t size);

/* Whether a password is stored (without decrypting it). */
bool smarthost_password_stored(const wchar_t *key_path);

#endif
