/* The typed, immutable configuration of imsrelay, as read from
 * HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters (and IPEnableRouter).
 *
 * Data flows one way: raw registry values (ims_raw_value, bytes exactly as RegQueryValueEx
 * returns them) -> ims_config_build() -> ims_config + diagnostics -> relay policy compiler.
 * Building is portable C with no Win32 and no I/O; regio/reg_reader_win32.c only collects
 * the raw values. */
#ifndef IMSRELAY_REGIO_CONFIG_H
#define IMSRELAY_REGIO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"

/* Registry value types, with the numbers winnt.h gives them, so portable code needs no
 * Windows header. */
enum {
    IMS_REG_NONE = 0,
    IMS_REG_SZ = 1,
    IMS_REG_EXPAND_SZ = 2,
    IMS_REG_BINARY = 3,
    IMS_REG_DWORD = 4,
    IMS_REG_DWORD_BIG_ENDIAN = 5,
    IMS_REG_LINK = 6,
    IMS_REG_MULTI_SZ = 7,
    IMS_REG_QWORD = 11,
};

#define IMS_PARAMETERS_KEY       "SYSTEM\\CurrentControlSet\\Services\\MSExchangeIMC\\Parameters"
#define IMS_TCPIP_PARAMETERS_KEY "SYSTEM\\CurrentControlSet\\Services\\Tcpip\\Parameters"

/* One registry value as read: the bytes are not yet interpreted. */
typedef struct ims_raw_value {
    const char *name;    /* value name, e.g. "RelayDenyList" (case-insensitive match) */
    uint32_t type;       /* IMS_REG_* */
    const uint8_t *data; /* may be NULL when size is 0 */
    size_t size;         /* in bytes, exactly as the registry reports it */
    bool unreadable;     /* present, but reading it failed (access denied, too large...) */
} ims_raw_value;

/* What became of a value. */
typedef enum ims_value_state {
    IMS_VALUE_ABSENT = 0, /* not in the registry: the documented default applies */
    IMS_VALUE_OK,         /* read as the contract says */
    IMS_VALUE_COERCED,    /* not the documented type but unambiguous (REG_SZ where a list is
                             expected is a one-line list): used, with a warning */
    IMS_VALUE_UNREADABLE, /* wrong type, corrupt or unreadable (or, for a DWORD setting, out
                             of its bounds): not used, see the diagnostics */
} ims_value_state;

/* A list value (REG_MULTI_SZ): every line as stored, UTF-8, blank and comment lines
 * included, so that line numbers match what regedit shows (line n is lines[n - 1]). */
typedef struct ims_list {
    const char *name; /* registry value name */
    ims_value_state state;
    const char *const *lines;
    size_t count;
} ims_list;

/* A DWORD setting with its documented default and bounds. */
typedef struct ims_dword {
    const char *name;
    ims_value_state state;
    uint32_t value; /* the default when absent or unreadable */
} ims_dword;

typedef struct ims_config {
    /* The article's four values. */
    ims_dword relay_flags; /* absent: 0, which denies every relay (with a warning) */
    ims_list relay_deny_list;
    ims_list relay_allow_list;
    ims_list relay_local_ip_list;

    /* Tcpip\Parameters\IPEnableRouter == 1: RelayLocalIPList is then not in effect. */
    ims_dword ip_enable_router;

    /* Recipient domains that are local; address literals count only when listed here. */
    ims_list local_domains;

    /* Where and how the SMTP front end listens. */
    ims_dword listen_port;     /* default 25 */
    ims_list listen_addresses; /* absent: all IPv4 and IPv6 addresses */
    const char *mail_root;     /* expanded, UTF-8; default %ProgramData%\imsrelay */
    ims_value_state mail_root_state;
    const char *host_name; /* SmtpHostName, default: this computer's DNS name ("" here) */
    ims_value_state host_name_state;

    /* Limits (REG_DWORD each, see README.md for defaults and bounds). */
    ims_dword max_message_bytes;
    ims_dword max_recipients;
    ims_dword max_line_length;
    ims_dword idle_timeout_seconds;
    ims_dword max_connections;
    ims_dword max_connections_per_client;

    /* Logging. */
    ims_dword protocol_log;             /* 1: daily protocol logs under MailRoot\Logs */
    ims_dword denial_events_per_minute; /* per client address, before suppression */

    /* Authentication. */
    ims_dword auth_windows_accounts; /* 1: also check Windows accounts (LogonUserW) */
} ims_config;

/* Builds a configuration from the raw values of the Parameters key and of IPEnableRouter
 * (passed among `values` by its own name). Never fails on bad input: every problem becomes
 * a diagnostic and a fail-safe value. Returns NULL only when out of memory.
 * key_missing: the Parameters key itself does not exist (everything takes its default). */
ims_config *ims_config_build(const ims_raw_value *values, size_t count, bool key_missing,
                             ims_diag_list *diags);

/* What only the machine knows, found by the Win32 reader (UTF-8). NULL fields, or a NULL
 * pointer to this struct, leave the portable defaults: "%ProgramData%\imsrelay" unexpanded
 * (portable code never expands) and "" for the host name. */
typedef struct ims_host_defaults {
    const char *mail_root; /* %ProgramData%\imsrelay, expanded */
    const char *host_name; /* this computer's DNS host name */
} ims_host_defaults;

/* ims_config_build() with the machine's defaults for MailRoot and SmtpHostName. */
ims_config *ims_config_build_with_defaults(const ims_raw_value *values, size_t count,
                                           bool key_missing, const ims_host_defaults *defaults,
                                           ims_diag_list *diags);
void ims_config_free(ims_config *config);

#endif
