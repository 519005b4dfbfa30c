/* Saves a registry key, values and subkeys, as a .reg file that `regedit /s FILE` (and
 * `reg import FILE`) imports back: "Windows Registry Editor Version 5.00", UTF-16LE with BOM,
 * the format regedit itself exports. uninstall uses it so that removing the service (which
 * removes its registry key) loses no configuration. */
#ifndef IMSRELAY_SVC_REGEXPORT_H
#define IMSRELAY_SVC_REGEXPORT_H

#include <windows.h>

/* Exports HKLM\subkey to file (created or replaced). ERROR_SUCCESS or a Win32 error;
 * ERROR_FILE_NOT_FOUND when the key does not exist. */
DWORD reg_export_key(const wchar_t *subkey, const wchar_t *file);

#endif
