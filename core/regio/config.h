/* The typed, immutable configuration of imsrelay, as read from
 * HKLM\SYSTEM\CurrentControlSet\Services\MSExchangeIMC\Parameters (and IPEnableRouter).
 *
 * Data flows one way: raw registry values (regio_raw_value, bytes exactly as RegQueryValueEx
 * returns them) -> regio_config_build() -> regio_config + diagnostics -> relay policy compiler.
 * Building is portable C with no Win32 and no I/O; regio/reg_reader_win32.c only collects
 * the raw values. */
#ifndef IMSRELAY_REGIO_CONFIG_H
#define IMSRELAY_REGIO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "diag.h"
#include "settings.h"

/* Registry value types, with the numbers winnt.h gives them, so portable code needs no
 * Windows header. */
enum {
    REGIO_REG_NONE = 0,
    REGIO_REG_SZ = 1,
    REGIO_REG_EXPAND_SZ = 2,
    REGIO_REG_BINARY = 3,
    REGIO_REG_DWORD = 4,
    REGIO_REG_DWORD_BIG_ENDIAN = 5,
    REGIO_REG_LINK = 6,
    REGIO_REG_MULTI_SZ = 7,
    REGIO_REG_QWORD = 11,
};

/* One registry value as read: the bytes are not yet interpreted. */
typedef struct regio_raw_value {
    const char *name;    /* value name, e.g. "RelayDenyList" (case-insensitive match) */
    uint32_t type;       /* REGIO_REG_* */
    const uint8_t *data; /* may be NULL when size is 0 */
    size_t size;         /* in bytes, exactly as the registry reports it */
    bool unreadable;     /* present, but reading it failed (access denied, too large...) */
    bool from_policy;    /* read from the policy key, which wins over Parameters */
} regio_raw_value;

/* Where a setting's value came from. */
typedef enum regio_source {
    REGIO_SOURCE_DEFAULT = 0, /* neither key has it: the documented default */
    REGIO_SOURCE_PARAMETERS,  /* HKLM\...\MSExchangeIMC\Parameters (or Tcpip's key) */
    REGIO_SOURCE_POLICY,      /* HKLM\SOFTWARE\Policies\imsrelay (Group Policy) */
} regio_source;

/* What became of a value. */
typedef enum regio_value_state {
    REGIO_VALUE_ABSENT = 0, /* not in the registry: the documented default applies */
    REGIO_VALUE_OK,         /* read as the contract says */
    REGIO_VALUE_COERCED,    /* not the documented type but unambiguous (REG_SZ where a list is
                             expected is a one-line list): used, with a warning */
    REGIO_VALUE_UNREADABLE, /* wrong type, corrupt or unreadable (or, for a DWORD setting, out
                             of its bounds): not used, see the diagnostics */
} regio_value_state;

/* A list value (REG_MULTI_SZ): every line as stored, UTF-8, blank and comment lines
 * included, so that line numbers match what regedit shows (line n is lines[n - 1]). */
typedef struct regio_list {
    const char *name; /* registry value name */
    regio_value_state state;
    const char *const *lines;
    size_t count;
} regio_list;

/* A DWORD setting with its documented default and bounds. */
typedef struct regio_dword {
    const char *name;
    regio_value_state state;
    uint32_t value; /* the default when absent or unreadable */
} regio_dword;

typedef struct regio_config {
    /* The article's four values. */
    regio_dword relay_flags; /* absent: 0, which denies every relay (with a warning) */
    regio_list relay_deny_list;
    regio_list relay_allow_list;
    regio_list relay_local_ip_list;

    /* Tcpip\Parameters\IPEnableRouter == 1: RelayLocalIPList is then not in effect. */
    regio_dword ip_enable_router;

    /* Recipient domains that are local; address literals count only when listed here. */
    regio_list local_domains;

    /* Where and how the SMTP front end listens. */
    regio_dword listen_port;     /* default 25 */
    regio_list listen_addresses; /* absent: all IPv4 and IPv6 addresses */
    const char *mail_root;       /* expanded, UTF-8; default %ProgramData%\imsrelay */
    regio_value_state mail_root_state;
    const char *host_name; /* SmtpHostName, default: this computer's DNS name ("" here) */
    regio_value_state host_name_state;

    /* Limits (REG_DWORD each, see README.md for defaults and bounds). */
    regio_dword max_message_bytes;
    regio_dword max_recipients;
    regio_dword max_line_length;
    regio_dword idle_timeout_seconds;
    regio_dword max_connections;
    regio_dword max_connections_per_client;
    regio_dword connections_per_client_per_minute; /* 0: no rate limit */

    /* Slow senders (core/limiter/session_deadline.h). */
    regio_dword command_timeout_seconds;
    regio_dword data_min_bytes_per_second; /* 0: no minimum rate */
    regio_dword session_timeout_seconds;
    regio_dword stress_connections_percent; /* 0: never under stress */
    regio_dword stress_timeout_seconds;

    /* Disk held by messages in progress (MailRoot\Tmp), in MiB. */
    regio_dword tmp_max_megabytes;
    regio_dword tmp_max_megabytes_per_client;

    /* Logging. */
    regio_dword protocol_log;                   /* 1: daily protocol logs under MailRoot\Logs */
    regio_dword denial_events_per_minute;       /* per client address, before suppression */
    regio_dword denial_events_per_minute_total; /* all client addresses together */
    regio_dword denial_lookups_per_minute;      /* reverse lookups for denial events */
    regio_dword protocol_log_session_kilobytes; /* per session, then one line of what was left */
    regio_dword protocol_log_daily_megabytes;   /* per day's file */
    regio_dword log_max_age_days;               /* daily log files older are deleted */

    /* Authentication. */
    regio_dword auth_windows_accounts; /* 1: also check Windows accounts (LogonUserW) */
    regio_dword auth_attempts_per_client_per_minute;
    regio_dword auth_without_tls; /* 1: AUTH in clear too; 0: only after STARTTLS */

    /* STARTTLS: the listener's certificate, a thumbprint or a host name (tls_selector.h);
     * "" for the certificate of SmtpHostName. */
    const char *tls_certificate;
    regio_value_state tls_certificate_state;

    /* Delivery onward (read again at each attempt, so a change applies to queued mail). */
    const char *smart_host; /* SmartHost, "" for none: MX delivery; valid route_smarthost */
    regio_value_state smart_host_state;
    regio_list dns_servers;    /* IPv4 addresses of the DNS servers to ask; none: Windows' */
    regio_dword delivery_port; /* port for MX delivery, default 25 */
    regio_dword max_outbound_connections;
    regio_dword max_connections_per_destination;
    const char *retry_intervals; /* a valid duration list, default "15m,30m,1h,4h" */
    regio_value_state retry_intervals_state;
    const char *message_expiration; /* a valid duration, "0" never, default "2d" */
    regio_value_state message_expiration_state;
    const char *delay_notification; /* a valid duration, "0" off (the default) */
    regio_value_state delay_notification_state;
    /* Outbound TLS and the smart host login (service/delivery/outbound_tls.h). */
    regio_dword smart_host_tls;     /* 0 never, 1 STARTTLS unverified (default), 2 STARTTLS
                                     * required and verified, 3 implicit TLS, verified */
    regio_dword mx_tls;             /* 0 never, 1 opportunistic (default), 2 required, verified */
    const char *smart_host_account; /* "" (default): no AUTH at the smart host */
    regio_value_state smart_host_account_state;

    /* Where each setting came from, by its index in regio_settings(). */
    regio_source sources[REGIO_SETTING_COUNT];
} regio_config;

/* Where the setting named `name` came from (REGIO_SOURCE_DEFAULT for an unknown name). */
regio_source regio_config_source(const regio_config *config, const char *name);

/* Adds "(the value is the policy key's, HKLM\...)" to every diagnostic from index `from` on
 * that is about a value the policy key set, so that every diagnostic names the key its
 * value came from; call it once all diagnostics (decoding and rule compilation) are in. */
void regio_config_note_sources(const regio_config *config, regio_diag_list *diags, size_t from);

/* "policy", "Parameters", "default". */
const char *regio_source_name(regio_source source);

/* Builds a configuration from the raw values of the Parameters key, of the policy key
 * (from_policy set) and of IPEnableRouter (passed among `values` by its own name). A policy
 * value wins over a Parameters value of the same name, which is then reported as shadowed;
 * the winner alone is decoded, with the same rules whichever key it came from. Never fails on bad
 * input: every problem becomes a diagnostic and a fail-safe value. Returns NULL only when out of
 * memory. key_missing: the Parameters key itself does not exist (everything takes its default). */
regio_config *regio_config_build(const regio_raw_value *values, size_t count, bool key_missing,
                                 regio_diag_list *diags);

/* What only the machine knows, found by the Win32 reader (UTF-8). NULL fields, or a NULL
 * pointer to this struct, leave the portable defaults: "%ProgramData%\imsrelay" unexpanded
 * (portable code never expands) and "" for the host name. */
typedef struct regio_host_defaults {
    const char *mail_root; /* %ProgramData%\imsrelay, expanded */
    const char *host_name; /* this computer's DNS host name */
} regio_host_defaults;

/* regio_config_build() with the machine's defaults for MailRoot and SmtpHostName. */
regio_config *regio_config_build_with_defaults(const regio_raw_value *values, size_t count,
                                               bool key_missing,
                                               const regio_host_defaults *defaults,
                                               regio_diag_list *diags);
void regio_config_free(regio_config *config);

/* Equal fingerprints, equal rules: every setting as decoded, with its state, and every
 * diagnostic. A registry notification that changed nothing the service uses (another
 * value, a rewrite with the same data) then reloads nothing and reports nothing. */
uint64_t regio_config_fingerprint(const regio_config *config, const regio_diag_list *diags);

#endif
