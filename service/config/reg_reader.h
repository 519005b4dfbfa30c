/* The thin Win32 side of regio: collects the raw registry values and the machine's defaults,
 * then hands them to regio_config_build_with_defaults(). Windows builds only. */
#ifndef IMSRELAY_REGIO_REG_READER_WIN32_H
#define IMSRELAY_REGIO_REG_READER_WIN32_H

#include <windows.h>

#include "config.h"
#include "diag.h"

/* Reads HKLM\...\MSExchangeIMC\Parameters (IDENTITY_PARAMETERS_KEY) and IPEnableRouter from
 * HKLM\...\Tcpip\Parameters.
 * Never fails on what the registry holds (see regio_config_build); returns NULL only when out
 * of memory. */
regio_config *reg_reader_read_config(regio_diag_list *diags);

/* The same from any keys under `root`, so tests can point it at scratch keys. policy_key
 * may be NULL (no policy). */
regio_config *reg_reader_read_config_from(HKEY root, const wchar_t *parameters_key,
                                          const wchar_t *policy_key,
                                          const wchar_t *tcpip_parameters_key,
                                          regio_diag_list *diags);

#endif
