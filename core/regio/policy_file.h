/* Registry.pol: the file format Group Policy objects store registry policy in (PReg,
 * version 1), which the Group Policy editor, LGPO tools and GPO imports read. A file is the
 * signature "PReg", the version 1 (little-endian DWORD), then one record per value:
 *   [key;value;type;size;data]
 * with '[', ';' and ']' as UTF-16LE characters, key and value as NUL-terminated UTF-16LE
 * strings, type and size as little-endian DWORDs, and `size` bytes of data as the registry
 * stores them. `imsrelay.exe policy export` writes this server's effective settings as such
 * a file, so one relay configured by hand and checked can be pushed to a fleet. */
#ifndef IMSRELAY_REGIO_POLICY_FILE_H
#define IMSRELAY_REGIO_POLICY_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

#define POLICY_FILE_SIGNATURE 0x67655250u /* "PReg" */
#define POLICY_FILE_VERSION   1u

/* The settings of `config` that were set (by Parameters or the policy key), read as the
 * contract says, and that make sense on every server of a fleet
 * (regio_setting_fleet_wide), as records under IDENTITY_POLICY_KEY. A malloc'ed buffer in
 * *out, its length in *len; *skipped counts set values left out because they were not
 * usable (unreadable: the service uses its fallback, which is not the administrator's
 * value). false only when out of memory. */
bool policy_file_from_config(const regio_config *config, uint8_t **out, size_t *len,
                             size_t *skipped);

#endif
