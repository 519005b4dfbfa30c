/* The thin Win32 side of regio: collects the raw registry values and the machine's defaults,
 * then hands them to ims_config_build_with_defaults(). Windows builds only. */
#ifndef IMSRELAY_REGIO_REG_READER_WIN32_H
#define IMSRELAY_REGIO_REG_READER_WIN32_H

#include <windows.h>

#include "config.h"
#include "diag.h"

/* Reads HKLM\IMS_PARAMETERS_KEY and IPEnableRouter from HKLM\IMS_TCPIP_PARAMETERS_KEY.
 * Never fails on what the registry holds (see ims_config_build); returns NULL only when out
 * of memory. */
ims_config *ims_registry_read_config(ims_diag_list *diags);

/* The same from any two keys under `root`, so tests can point it at scratch keys. */
ims_config *ims_registry_read_config_from(HKEY root, const wchar_t *parameters_key,
                                          const wchar_t *tcpip_parameters_key,
                                          ims_diag_list *diags);

#endif
