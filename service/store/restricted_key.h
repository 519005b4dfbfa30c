/* A registry key under HKLM that only SYSTEM and Administrators (full control) and the
 * service's account, Local Service (read), may open: the account store's Users key and the
 * smart host password's key both keep secrets this way. */
#ifndef IMSRELAY_RESTRICTED_KEY_H
#define IMSRELAY_RESTRICTED_KEY_H

#include <windows.h>

#include <stdbool.h>

/* The ACL, protected (P): nothing inherited from Parameters, which Users may read. */
#define RESTRICTED_KEY_SDDL L"D:P(A;OICI;KA;;;SY)(A;OICI;KA;;;BA)(A;OICI;KR;;;LS)"

/* Opens HKLM\key_path with `access`. With create, makes the key with the ACL if it is
 * missing and sets the ACL on one that exists (a key made by hand inherits a readable
 * one); a key whose ACL cannot be set is not opened. ERROR_SUCCESS or a Win32 error. */
DWORD restricted_key_open(const wchar_t *key_path, REGSAM access, bool create, HKEY *key);

#endif
